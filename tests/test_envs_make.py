"""make(): ids, specs, shapes and dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from envs import BatchedEnv, EnvIdError, make, spec_for
from envs.atari import atari_game

# (env id, options, obs shape, obs dtype, num actions, kind, frame stack)
FAMILIES = [
    ("CartPole-v1", {}, (4,), "float32", 2, "vector", 1),
    ("FrozenLake-v1", {}, (16,), "float32", 4, "vector", 1),
    ("fake:chain", {}, (6,), "float32", 2, "vector", 1),
    ("fake:bandit", {}, (1,), "float32", 4, "vector", 1),
    ("fake:image", {}, (4, 84, 84), "uint8", 3, "atari", 4),
    ("minatar:breakout", {}, (4, 10, 10), "uint8", 3, "image", 1),
    ("MinAtar/Breakout-v0", {}, (4, 10, 10), "uint8", 6, "image", 1),
    ("minatar:seaquest", {}, (10, 10, 10), "uint8", 6, "image", 1),
]


@pytest.mark.parametrize("env_id, options, shape, dtype, actions, kind, stack", FAMILIES)
def test_shapes_and_dtypes(
    env_id: str, options: dict, shape: tuple, dtype: str, actions: int, kind: str, stack: int
) -> None:
    env: BatchedEnv = make(env_id, num_envs=3, seed=0, **options)
    try:
        spec = env.spec
        assert (spec.obs_shape, spec.obs_dtype, spec.num_actions, spec.kind, spec.frame_stack) == (
            shape,
            dtype,
            actions,
            kind,
            stack,
        )
        assert spec.env_id == env_id and env.num_envs == 3
        obs = env.reset()
        assert obs.shape == (3, *shape) and obs.dtype == np.dtype(dtype)
        for _ in range(20):
            out = env.step(np.random.default_rng(0).integers(0, actions, 3))
            assert out.next_obs.shape == out.obs.shape == (3, *shape)
            assert out.next_obs.dtype == out.obs.dtype == np.dtype(dtype)
            assert out.reward.dtype == np.float32 and out.reward.shape == (3,)
            assert out.terminated.dtype == out.truncated.dtype == np.bool_
            assert out.episode_return.dtype == np.float32 and out.episode_length.dtype == np.int64
    finally:
        env.close()


def test_minatar_planes_are_binary_uint8() -> None:
    env = make("minatar:breakout", num_envs=2, seed=3)
    obs = env.reset()
    assert set(np.unique(obs)) <= {0, 1} and obs.sum() > 0
    frame = env.render(1)
    assert frame is not None and frame.shape == (160, 160, 3) and frame.dtype == np.uint8
    env.close()


def test_gymnasium_render_only_when_asked() -> None:
    env = make("CartPole-v1", num_envs=1)
    env.reset()
    assert env.render(0) is None
    env.close()
    pytest.importorskip("pygame", reason="CartPole draws with pygame (gymnasium[classic-control])")
    env = make("CartPole-v1", num_envs=2, render=True)
    env.reset()
    frame = env.render(1)
    assert frame is not None and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    env.close()


def test_spec_for_matches_make() -> None:
    spec = spec_for("CartPole-v1")
    assert spec.num_actions == 2 and spec.protocol["max_episode_steps"] == 500
    assert spec.protocol["reward_clipping"] is False and spec.protocol["exact_resume"] is True
    assert spec_for("CartPole-v1", max_episode_steps=7).protocol["max_episode_steps"] == 7


@pytest.mark.parametrize(
    "bad, suggestion",
    [
        ("CartPole-v2", "CartPole-v1"),
        ("cartpole-v1", "CartPole-v1"),
        ("ale:pongg", "ale:pong"),
        ("minatar:breakuot", "minatar:breakout"),
        ("fake:chian", "fake:chain"),
        ("MinAtar/Breakot-v1", "minatar:breakout"),
    ],
)
def test_unknown_id_suggests_close_matches(bad: str, suggestion: str) -> None:
    with pytest.raises(EnvIdError, match="did you mean") as info:
        make(bad)
    assert suggestion in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_id_without_match() -> None:
    with pytest.raises(EnvIdError, match="unknown env id"):
        make("qqqqqqqqqqqq")


def test_atari_id_forms() -> None:
    assert atari_game("ale:pong") == "pong"
    assert atari_game("ale:MsPacman") == "ms_pacman"
    assert atari_game("ALE/Pong-v5") == "pong"
    assert atari_game("ALE/SpaceInvaders-v5") == "space_invaders"
    assert atari_game("PongNoFrameskip-v4") == "pong"
    assert atari_game("BreakoutDeterministic-v4") == "breakout"
    assert atari_game("CartPole-v1") is None
    assert atari_game("MinAtar/Breakout-v1") is None


def test_bad_actions_rejected() -> None:
    env = make("fake:chain", num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(2, dtype=np.int64))
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="lie in"):
        env.step(np.array([0, 2]))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.array([0.0, 1.0]))
    env.close()
