"""The BatchedEnv contract the training loop relies on, for every fast env family.

Same-step autoreset (final obs in ``next_obs``, reset obs in ``obs``), terminated kept apart from
truncated, episode statistics, seeding, and exact resume through get_state / set_state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from envs import BatchedEnv, StepResult, make
from envs.fakes import decode_frame

# Short time limits so that every family both terminates and truncates within a few hundred steps.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("CartPole-v1", {"max_episode_steps": 12}),
    ("fake:chain", {}),
    ("fake:image", {}),
    ("minatar:breakout", {"max_episode_steps": 30}),
]
IDS = [c[0] for c in CASES]


def rollout(
    env: BatchedEnv, steps: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[StepResult]]:
    """Step with uniform random actions; returns the actions and results."""
    actions, results = [], []
    for _ in range(steps):
        a = rng.integers(0, env.spec.num_actions, env.num_envs)
        actions.append(a)
        results.append(env.step(a))
    return actions, results


def replay(env: BatchedEnv, actions: list[np.ndarray]) -> list[StepResult]:
    return [env.step(a) for a in actions]


def assert_same(a: list[StepResult], b: list[StepResult]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.next_obs, y.next_obs)
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.reward, y.reward)
        np.testing.assert_array_equal(x.terminated, y.terminated)
        np.testing.assert_array_equal(x.truncated, y.truncated)
        np.testing.assert_array_equal(x.episode_return, y.episode_return)
        np.testing.assert_array_equal(x.episode_length, y.episode_length)


@pytest.mark.parametrize("env_id, options", CASES, ids=IDS)
def test_autoreset_and_episode_statistics(env_id: str, options: dict[str, Any]) -> None:
    env = make(env_id, num_envs=4, seed=1, **options)
    obs = env.reset()
    running_return = np.zeros(4)
    running_length = np.zeros(4, dtype=np.int64)
    ends = {"terminated": 0, "truncated": 0}
    _, results = rollout(env, 200, np.random.default_rng(0))
    for out in results:
        running_return += out.reward
        running_length += 1
        ended = out.terminated | out.truncated
        assert not (out.terminated & out.truncated).any()  # terminated wins
        for i in range(4):
            if ended[i]:
                # The final observation is kept; the next one starts a new episode (the chain
                # can truncate on its start cell, so its two observations may coincide).
                if env_id != "fake:chain":
                    assert not np.array_equal(out.next_obs[i], out.obs[i])
                assert out.episode_length[i] == running_length[i]
                assert out.episode_return[i] == pytest.approx(running_return[i])
                running_return[i], running_length[i] = 0.0, 0
                ends["terminated" if out.terminated[i] else "truncated"] += 1
            else:
                np.testing.assert_array_equal(out.next_obs[i], out.obs[i])
                assert np.isnan(out.episode_return[i]) and out.episode_length[i] == 0
        obs = out.obs
    assert obs.shape == (4, *env.spec.obs_shape)
    if env_id != "fake:chain":  # the chain's random walk rarely lasts to its time limit
        assert ends["terminated"] > 0 and ends["truncated"] > 0, ends
    env.close()


def test_cartpole_truncates_at_its_time_limit() -> None:
    env = make("CartPole-v1", num_envs=8, seed=0, max_episode_steps=12)
    env.reset()
    _, results = rollout(env, 100, np.random.default_rng(1))
    lengths_trunc = np.concatenate([r.episode_length[r.truncated] for r in results])
    lengths_term = np.concatenate([r.episode_length[r.terminated] for r in results])
    assert len(lengths_trunc) > 0 and (lengths_trunc == 12).all()
    assert len(lengths_term) > 0 and (lengths_term <= 12).all()
    env.close()


def test_fake_image_final_and_reset_frames() -> None:
    env = make("fake:image", num_envs=3, seed=5)
    obs = env.reset()
    assert not obs[:, :3].any()  # zero padding before the first frame, like the ALE
    ids = [decode_frame(obs[i, -1]) for i in range(3)]
    assert all(d is not None and d[1] == 0 for d in ids)
    _, results = rollout(env, 60, np.random.default_rng(0))
    for out in results:
        for i in np.flatnonzero(out.episode_length):
            final, first = decode_frame(out.next_obs[i, -1]), decode_frame(out.obs[i, -1])
            assert final is not None and first is not None
            assert final[1] == out.episode_length[i] and first[1] == 0 and first[0] != final[0]
            assert decode_frame(out.next_obs[i, -2]) == (final[0], final[1] - 1)
            assert not out.obs[i, :3].any()
    env.close()


@pytest.mark.parametrize("env_id, options", CASES, ids=IDS)
def test_same_seed_same_trajectories(env_id: str, options: dict[str, Any]) -> None:
    rng = np.random.default_rng(7)
    actions = [rng.integers(0, 2, 3) for _ in range(80)]
    runs = []
    for seed in (11, 11, 12):
        env = make(env_id, num_envs=3, seed=seed, **options)
        first = env.reset()
        runs.append((first, replay(env, actions)))
        env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert_same(runs[0][1], runs[1][1])
    if env_id != "fake:chain":  # the chain is deterministic by design
        differs = not np.array_equal(runs[0][0], runs[2][0]) or any(
            not np.array_equal(x.next_obs, y.next_obs) for x, y in zip(runs[0][1], runs[2][1], strict=True)
        )
        assert differs


def _only_plain_values(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain_values(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain_values(v) for v in value)
    return isinstance(value, int | float | np.ndarray)


@pytest.mark.parametrize("env_id, options", CASES, ids=IDS)
@pytest.mark.parametrize("k", [0, 37])
def test_get_state_set_state_replays_exactly(env_id: str, options: dict[str, Any], k: int) -> None:
    rng = np.random.default_rng(3)
    env = make(env_id, num_envs=4, seed=2, **options)
    env.reset()
    rollout(env, k, rng)
    state = env.get_state()
    assert _only_plain_values(state)
    actions, expected = rollout(env, 50, rng)  # the original goes on: M more steps, recorded
    final_state = env.get_state()
    env.close()

    fresh = make(env_id, num_envs=4, seed=999, **options)  # the seed comes from the state
    obs = fresh.set_state(state)
    assert obs.shape == (4, *fresh.spec.obs_shape)
    got = replay(fresh, actions)
    assert_same(expected, got)
    # Both envs end in the same state.
    again = fresh.get_state()
    assert again["seed"] == final_state["seed"] == 2
    for key in ("episode", "segment_seed", "episode_return", "episode_length"):
        np.testing.assert_array_equal(again[key], final_state[key])
    for x, y in zip(again["actions"], final_state["actions"], strict=True):
        np.testing.assert_array_equal(x, y)
    fresh.close()


def test_set_state_returns_the_observation_to_act_from() -> None:
    env = make("fake:image", num_envs=2, seed=4)
    env.reset()
    _, results = rollout(env, 9, np.random.default_rng(0))
    state = env.get_state()
    fresh = make("fake:image", num_envs=2, seed=4)
    np.testing.assert_array_equal(fresh.set_state(state), results[-1].obs)
    env.close()
    fresh.close()


def test_set_state_rejects_other_batch_sizes() -> None:
    env = make("fake:chain", num_envs=2)
    env.reset()
    state = env.get_state()
    other = make("fake:chain", num_envs=3)
    with pytest.raises(ValueError, match="sub-envs"):
        other.set_state(state)
