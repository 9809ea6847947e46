"""Expert demonstrations as Minari datasets: record, load, metadata, errors, determinism.

Every dataset is written under ``tmp_path`` (``root=`` or ``$MINARI_DATASETS_PATH``), never to ~/.minari.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import minari
import numpy as np
import pytest

from envs import make, spec_for
from envs.base import EnvSpec
from replay.demos import ROOT_ENV_VAR, Demos, DemosError, Policy, load_demos, record_dataset

SHA = "0123456789abcdef" * 4


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    """Push towards where the pole is falling: balances CartPole-v1 for all 500 steps."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)  # [1]


def cartpole_weak(obs: np.ndarray) -> np.ndarray:
    """Angle only: the pole falls after a few dozen steps (episodes terminate)."""
    return (obs[:, 2] > 0).astype(np.int64)


def pendulum_random(seed: int) -> Policy:
    rng = np.random.default_rng(seed)
    return lambda obs: rng.normal(0.0, 3.0, (1, 1)).astype(np.float32)  # often outside [-2, 2]


def arena_rollout(env_id: str, policy: Policy, seed: int, episodes: int) -> dict[str, np.ndarray]:
    """The same episodes through ``envs.make(env_id, 1, seed)``: what an arena run of ``policy`` sees."""
    env = make(env_id, num_envs=1, seed=seed)
    obs = env.reset()
    out: dict[str, list] = {"obs": [], "actions": [], "next_obs": [], "returns": [], "term": [], "trunc": []}
    while len(out["returns"]) < episodes:
        action = policy(obs)
        step = env.step(action)
        out["obs"].append(obs[0])
        out["actions"].append(np.clip(action[0], -2.0, 2.0) if env.spec.continuous else action[0])
        out["next_obs"].append(step.next_obs[0])
        out["term"].append(step.terminated[0])
        out["trunc"].append(step.truncated[0])
        if step.episode_length[0]:
            out["returns"].append(step.episode_return[0])
        obs = step.obs
    env.close()
    return {k: np.asarray(v) for k, v in out.items()}


def record(tmp_path: Path, name: str, env_id: str = "CartPole-v1", policy: Policy = cartpole_expert,
           episodes: int = 3, seed: int = 5) -> Path:
    return record_dataset(policy, env_id, episodes, seed, name, {"checkpoint_sha256": SHA}, root=tmp_path)


def assert_same_demos(a: Demos, b: Demos) -> None:
    for key in ("obs", "actions", "rewards", "next_obs", "terminated", "truncated", "episode_returns"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)
    assert a.metadata == b.metadata and a.env_id == b.env_id


def test_cartpole_round_trip(tmp_path: Path) -> None:
    path = record(tmp_path, "cartpole-expert")
    assert path == tmp_path / "arena" / "cartpole-expert-v0" and (path / "data").is_dir()
    demos = load_demos("arena/cartpole-expert-v0", spec_for("CartPole-v1"), root=tmp_path)
    assert demos.obs.shape == demos.next_obs.shape == (1500, 4) and demos.obs.dtype == np.float32
    assert demos.actions.shape == (1500,) and demos.actions.dtype == np.int64
    assert demos.rewards.dtype == np.float32 and len(demos) == 1500
    assert demos.terminated.dtype == demos.truncated.dtype == np.bool_
    np.testing.assert_array_equal(demos.episode_returns, [500.0, 500.0, 500.0])
    assert demos.env_id == "CartPole-v1" and demos.dataset_id == "arena/cartpole-expert-v0"
    assert demos.metadata == {"checkpoint_sha256": SHA}
    # Episode k is episode k of arena's own env with the same seed: same observations, actions, returns.
    seen = arena_rollout("CartPole-v1", cartpole_expert, seed=5, episodes=3)
    np.testing.assert_array_equal(demos.obs, seen["obs"])
    np.testing.assert_array_equal(demos.next_obs, seen["next_obs"])
    np.testing.assert_array_equal(demos.actions, seen["actions"])
    np.testing.assert_array_equal(demos.episode_returns, seen["returns"])
    np.testing.assert_array_equal(demos.truncated, seen["trunc"])
    # A path loads the same dataset, with or without the trailing data/.
    assert_same_demos(demos, load_demos(str(path), spec_for("CartPole-v1")))
    assert_same_demos(demos, load_demos(str(path / "data"), spec_for("CartPole-v1")))


def test_pendulum_round_trip_stores_clipped_actions(tmp_path: Path) -> None:
    record(tmp_path, "pendulum-random", "Pendulum-v1", pendulum_random(0))
    demos = load_demos("arena/pendulum-random-v0", spec_for("Pendulum-v1"), root=tmp_path)
    assert demos.obs.shape == (600, 3) and demos.actions.shape == (600, 1) and demos.actions.dtype == np.float32
    assert demos.actions.min() == -2.0 and demos.actions.max() == 2.0  # clipped, as the env received them
    assert not demos.terminated.any() and demos.truncated.sum() == 3
    seen = arena_rollout("Pendulum-v1", pendulum_random(0), seed=5, episodes=3)
    np.testing.assert_array_equal(demos.obs, seen["obs"])
    np.testing.assert_array_equal(demos.actions, seen["actions"])
    np.testing.assert_allclose(demos.episode_returns, seen["returns"], rtol=1e-6)
    np.testing.assert_allclose(demos.episode_returns, [demos.rewards[i * 200:(i + 1) * 200].sum() for i in range(3)],
                               rtol=1e-5)


def test_metadata_round_trips_through_minari(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record(tmp_path, "cartpole-meta", policy=cartpole_weak)
    demos = load_demos("arena/cartpole-meta-v0", spec_for("CartPole-v1"), root=tmp_path)
    meta = json.loads((tmp_path / "arena" / "cartpole-meta-v0" / "data" / "metadata.json").read_text())
    assert meta["arena"]["metadata"] == {"checkpoint_sha256": SHA}
    assert meta["arena"]["env_id"] == "CartPole-v1" and meta["arena"]["seed"] == 5
    np.testing.assert_array_equal(meta["arena"]["episode_returns"], demos.episode_returns)
    assert meta["author"] == ["arena"] and "CartPole-v1" in meta["eval_env_spec"]
    # Minari's own loader reads it too (locally: never downloads).
    monkeypatch.setenv(ROOT_ENV_VAR, str(tmp_path))
    dataset = minari.load_dataset("arena/cartpole-meta-v0", download=False)
    assert dataset.total_episodes == 3 and dataset.storage.metadata["arena"]["metadata"]["checkpoint_sha256"] == SHA
    assert dataset.env_spec.id == "CartPole-v1"


def test_terminated_and_truncated_kept_apart(tmp_path: Path) -> None:
    record(tmp_path, "weak", policy=cartpole_weak)
    weak = load_demos("arena/weak-v0", spec_for("CartPole-v1"), root=tmp_path)
    ends = np.flatnonzero(weak.terminated)
    assert len(ends) == 3 and ends[-1] == len(weak) - 1 and not weak.truncated.any()
    lengths = np.diff(np.concatenate([[-1], ends]))
    np.testing.assert_array_equal(weak.episode_returns, lengths)  # +1 per step
    seen = arena_rollout("CartPole-v1", cartpole_weak, seed=5, episodes=3)
    np.testing.assert_array_equal(weak.terminated, seen["term"])

    record(tmp_path, "expert")
    expert = load_demos("arena/expert-v0", spec_for("CartPole-v1"), root=tmp_path)
    assert not expert.terminated.any()
    np.testing.assert_array_equal(np.flatnonzero(expert.truncated), [499, 999, 1499])


def test_space_mismatch_names_both_sides(tmp_path: Path) -> None:
    record(tmp_path, "x", episodes=1)
    with pytest.raises(DemosError) as info:
        load_demos("arena/x-v0", spec_for("Pendulum-v1"), root=tmp_path)
    assert str(info.value) == ("dataset arena/x-v0 has observations of shape (4,) and 2 discrete actions; "
                               "Pendulum-v1 has observations (3,) and continuous actions (1,)")
    three = EnvSpec(env_id="fake3", obs_shape=(4,), obs_dtype="float32", num_actions=3, kind="vector")
    with pytest.raises(DemosError, match="2 discrete actions; fake3 has observations \\(4,\\) and 3 discrete"):
        load_demos("arena/x-v0", three, root=tmp_path)
    record(tmp_path, "p", "Pendulum-v1", pendulum_random(1), episodes=1)
    wide = EnvSpec(env_id="wide", obs_shape=(3,), obs_dtype="float32", num_actions=0, kind="vector",
                   action_shape=(2,), action_low=(-1.0, -1.0), action_high=(1.0, 1.0))
    with pytest.raises(DemosError, match="continuous actions \\(1,\\); wide has observations \\(3,\\) and continuous "
                       "actions \\(2,\\)"):
        load_demos("arena/p-v0", wide, root=tmp_path)


def test_unknown_id_and_unreadable_path(tmp_path: Path) -> None:
    spec = spec_for("CartPole-v1")
    with pytest.raises(DemosError, match="no local Minari dataset 'arena/nothing-v0'") as info:
        load_demos("arena/nothing-v0", spec, root=tmp_path / "absent")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "absent").exists()  # looking does not create the datasets directory
    record(tmp_path, "cartpole-expert", episodes=1)
    with pytest.raises(DemosError, match="did you mean arena/cartpole-expert-v0"):
        load_demos("arena/cartpol-expert-v0", spec, root=tmp_path)
    with pytest.raises(DemosError, match="no dataset directory"):
        load_demos(str(tmp_path / "nowhere"), spec)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.json").write_text("{")
    with pytest.raises(DemosError, match="not a readable Minari dataset") as info:
        load_demos(str(tmp_path / "junk"), spec)
    assert "\n" not in str(info.value)


def test_same_seed_same_dataset(tmp_path: Path) -> None:
    spec = spec_for("Pendulum-v1")
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        record(tmp_path, name, "Pendulum-v1", pendulum_random(0), episodes=2, seed=seed)
    a, b, c = (load_demos(f"arena/{n}-v0", spec, root=tmp_path) for n in "abc")
    assert_same_demos(a, b)
    assert not np.array_equal(a.obs, c.obs)


def test_record_errors_leave_nothing_behind(tmp_path: Path) -> None:
    record(tmp_path, "taken", episodes=1)
    with pytest.raises(DemosError, match="already exists"):
        record(tmp_path, "taken", episodes=1)
    with pytest.raises(DemosError, match="integer actions"):
        record_dataset(lambda o: np.zeros(1), "CartPole-v1", 1, 0, "floaty", {}, root=tmp_path)
    with pytest.raises(DemosError, match="\\[1, 1\\] float actions"):
        record_dataset(lambda o: np.zeros(1), "Pendulum-v1", 1, 0, "flat", {}, root=tmp_path)
    with pytest.raises(DemosError, match="JSON"):
        record_dataset(cartpole_expert, "CartPole-v1", 1, 0, "meta", {"x": object()}, root=tmp_path)
    with pytest.raises(DemosError, match="letters, digits"):
        record_dataset(cartpole_expert, "CartPole-v1", 1, 0, "a b", {}, root=tmp_path)
    assert sorted(p.name for p in (tmp_path / "arena").iterdir() if p.is_dir()) == ["taken-v0"]


def test_root_overrides_and_restores_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOT_ENV_VAR, str(tmp_path / "default"))
    record(tmp_path / "other", "elsewhere", episodes=1)
    assert (tmp_path / "other" / "arena" / "elsewhere-v0").is_dir()
    assert not (tmp_path / "default" / "arena" / "elsewhere-v0").exists()
    assert os.environ[ROOT_ENV_VAR] == str(tmp_path / "default")
    # Without root, $MINARI_DATASETS_PATH decides, for recording and loading alike.
    record_dataset(cartpole_expert, "CartPole-v1", 1, 0, "here", {}, root=None)
    assert (tmp_path / "default" / "arena" / "here-v0" / "data").is_dir()
    assert len(load_demos("arena/here-v0", spec_for("CartPole-v1"))) == 500
    monkeypatch.delenv(ROOT_ENV_VAR)
    record(tmp_path / "third", "unset", episodes=1)
    assert ROOT_ENV_VAR not in os.environ
