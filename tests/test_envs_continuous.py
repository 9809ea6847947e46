"""Continuous (1-D ``Box``) actions through ``envs.make``: spec, stepping, clipping, seeding, exact resume.

Also the refusals: other action spaces raise ``UnsupportedEnvError``, and a DQN preset on a
continuous-action env is a one-line CLI error.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs import BatchedEnv, StepResult, UnsupportedEnvError, make, spec_for
from envs.gymnasium_env import GymnasiumVectorEnv

# (env id, obs shape, action bounds)
CONTINUOUS = [
    ("Pendulum-v1", (3,), 2.0),
    ("MountainCarContinuous-v0", (2,), 1.0),
]


def gaussian_actions(env: BatchedEnv, steps: int, rng: np.random.Generator, scale: float = 3.0) -> list[np.ndarray]:
    """``steps`` batches of unbounded ``[N, d]`` float32 actions, often outside the bounds."""
    return [
        (scale * rng.standard_normal((env.num_envs, *env.spec.action_shape))).astype(np.float32) for _ in range(steps)
    ]


def run(env: BatchedEnv, actions: list[np.ndarray]) -> list[StepResult]:
    return [env.step(a) for a in actions]


def assert_same(a: list[StepResult], b: list[StepResult]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for field in ("next_obs", "obs", "reward", "terminated", "truncated", "episode_return", "episode_length"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


@pytest.mark.parametrize("env_id, obs_shape, bound", CONTINUOUS)
def test_spec_fields(env_id: str, obs_shape: tuple[int, ...], bound: float) -> None:
    spec = spec_for(env_id)
    assert spec.continuous and spec.num_actions == 0
    assert spec.action_shape == (1,) and spec.obs_shape == obs_shape and spec.kind == "vector"
    assert spec.action_low == (-bound,) and spec.action_high == (bound,)
    assert all(type(x) is float for x in spec.action_low + spec.action_high)
    assert not spec_for("CartPole-v1").continuous
    assert spec_for("CartPole-v1").action_shape == () == spec_for("CartPole-v1").action_low


@pytest.mark.parametrize("env_id, obs_shape, bound", CONTINUOUS)
def test_stepping_shapes_and_episode_ends(env_id: str, obs_shape: tuple[int, ...], bound: float) -> None:
    env = make(env_id, num_envs=3, seed=0, max_episode_steps=10)
    obs = env.reset()
    assert obs.shape == (3, *obs_shape) and obs.dtype == np.float32
    ended = 0
    for i, a in enumerate(gaussian_actions(env, 25, np.random.default_rng(0))):
        out = env.step(a)
        assert out.next_obs.shape == out.obs.shape == (3, *obs_shape)
        assert out.reward.dtype == np.float32 and out.reward.shape == (3,)
        assert out.terminated.dtype == out.truncated.dtype == np.bool_
        if i % 10 == 9:  # random actions rarely reach either goal: every episode hits the time limit
            assert out.truncated.all() and (out.episode_length == 10).all()
            ended += 1
    assert ended == 2
    env.close()


def test_actions_are_clipped_to_the_box() -> None:
    # MountainCarContinuous charges -0.1 * action**2 on the action it receives: 5.0 unclipped would cost 2.5.
    env = make("MountainCarContinuous-v0", num_envs=2, seed=0)
    env.reset()
    out = env.step(np.array([[5.0], [-5.0]], dtype=np.float32))
    np.testing.assert_allclose(out.reward, [-0.1, -0.1], rtol=1e-6)
    recorded = env.get_state()["actions"]
    assert recorded[0].dtype == np.float32 and recorded[0].shape == (1, 1)
    assert recorded[0][0, 0] == 1.0 and recorded[1][0, 0] == -1.0  # the clipped action is what resume replays
    env.close()

    # Out-of-range actions behave exactly like the bound itself.
    wild, tame = make("Pendulum-v1", num_envs=2, seed=4), make("Pendulum-v1", num_envs=2, seed=4)
    wild.reset(), tame.reset()
    big = np.array([[10.0], [-7.5]], dtype=np.float32)
    assert_same(run(wild, [big] * 5), run(tame, [np.clip(big, -2.0, 2.0)] * 5))
    wild.close(), tame.close()


def test_bad_continuous_actions_rejected() -> None:
    env = make("Pendulum-v1", num_envs=2)
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(2, dtype=np.float32))  # [N] instead of [N, 1]
    with pytest.raises(ValueError, match="floats"):
        env.step(np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([[0.0], [np.nan]], dtype=np.float32))
    env.close()


def test_same_seed_same_trajectories() -> None:
    actions = gaussian_actions(make("Pendulum-v1", num_envs=3), 40, np.random.default_rng(7))
    runs = []
    for seed in (11, 11, 12):
        env = make("Pendulum-v1", num_envs=3, seed=seed, max_episode_steps=15)
        runs.append((env.reset(), run(env, actions)))
        env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert_same(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


class _DriftEnv(gym.Env[np.ndarray, np.ndarray]):
    """A noisy 2-D walk driven by a ``Box([-1, 0.5], [1, 2])`` action; ends when it leaves ``|x| < 4``.

    Episode lengths vary with the seed, so resumed segments differ in length (the lockstep replay
    path), and zero is outside the action box (the idle action must be clipped into it).
    """

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Box(np.array([-1.0, 0.5], np.float32), np.array([1.0, 2.0], np.float32))
        self._x = np.zeros(2, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._x = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return self._x.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert self.action_space.contains(action), action
        self._x = (self._x + (action - 1.0) + self.np_random.normal(0.0, 0.5, 2)).astype(np.float32)
        return self._x.copy(), float(-np.abs(self._x).sum()), bool(np.abs(self._x).max() >= 4.0), False, {}


def _make_resumable(name: str, seed: int) -> BatchedEnv:
    if name == "Pendulum-v1":
        return make("Pendulum-v1", num_envs=4, seed=seed, max_episode_steps=12)

    def make_one() -> gym.Env:
        return gym.wrappers.TimeLimit(_DriftEnv(), max_episode_steps=15)

    return GymnasiumVectorEnv([make_one] * 4, seed, env_id="test:drift")


@pytest.mark.parametrize("name", ["Pendulum-v1", "drift"])
@pytest.mark.parametrize("k", [0, 7, 30])
@pytest.mark.parametrize("via_checkpoint", [False, True], ids=["dict", "checkpoint"])
def test_exact_resume_with_float_actions(name: str, k: int, via_checkpoint: bool) -> None:
    rng = np.random.default_rng(3)
    env = _make_resumable(name, seed=2)
    obs = env.reset()
    for a in gaussian_actions(env, k, rng):
        obs = env.step(a).obs
    state = env.get_state()
    if via_checkpoint:  # the round trip a saved run takes (numpy arrays as byte tensors)
        from runners.local.checkpoint import decode, encode

        state = decode(encode(state))
    actions = gaussian_actions(env, 30, rng)
    expected = run(env, actions)
    final_state = env.get_state()
    env.close()

    fresh = _make_resumable(name, seed=999)  # the seed comes from the state
    np.testing.assert_array_equal(fresh.set_state(state), obs)
    assert_same(expected, run(fresh, actions))
    again = fresh.get_state()
    for key in ("episode", "segment_seed", "episode_return", "episode_length"):
        np.testing.assert_array_equal(again[key], final_state[key])
    for x, y in zip(again["actions"], final_state["actions"], strict=True):
        assert x.dtype == np.float32 and x.shape[1:] == fresh.spec.action_shape
        np.testing.assert_array_equal(x, y)
    fresh.close()


def test_drift_segments_differ_in_length() -> None:
    """Guard for the test above: the drift env really exercises the lockstep replay."""
    env = _make_resumable("drift", seed=2)
    env.reset()
    run(env, gaussian_actions(env, 30, np.random.default_rng(3)))
    assert len({len(a) for a in env.get_state()["actions"]}) > 1
    env.close()


class _SpaceEnv(gym.Env[np.ndarray, Any]):
    """A do-nothing env with a chosen action space."""

    def __init__(self, action_space: gym.Space[Any]) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(2, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.MultiDiscrete([2, 3]),
        gym.spaces.Dict({"a": gym.spaces.Discrete(2), "b": gym.spaces.Box(-1.0, 1.0, (2,))}),
        gym.spaces.Box(-1.0, 1.0, (2, 2), np.float32),
        gym.spaces.Box(0, 3, (2,), np.int64),
        gym.spaces.MultiBinary(3),
    ],
    ids=["multidiscrete", "dict", "box-2d", "box-int", "multibinary"],
)
def test_other_action_spaces_rejected(space: gym.Space[Any]) -> None:
    with pytest.raises(UnsupportedEnvError, match="Discrete or a 1-D float Box") as info:
        GymnasiumVectorEnv([lambda: _SpaceEnv(space)], seed=0, env_id="test:space")
    assert "\n" not in str(info.value)


def test_dqn_on_continuous_env_is_a_one_line_cli_error(capsys: pytest.CaptureFixture[str]) -> None:
    from runners.cli.main import main

    code = main(["train", "dqn-cartpole", "--env.id", "Pendulum-v1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err
    assert err.startswith("arena: error: DQN needs discrete actions; Pendulum-v1 has continuous actions")
    assert "(Box shape (1,))" in err and "ppo-pendulum" in err
