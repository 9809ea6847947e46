"""The fake envs have the optima their docstrings promise, and fake:image frames decode."""

from __future__ import annotations

import numpy as np

from envs import make
from envs.fakes import BanditEnv, ChainEnv, decode_frame, encode_frame


def test_chain_optimum_and_distractor() -> None:
    env = make("fake:chain", num_envs=2, seed=0, length=7)
    env.reset()
    right = np.ones(2, dtype=np.int64)
    for _ in range(5):
        out = env.step(right)
    assert out.terminated.all() and (out.episode_length == 5).all() and (out.episode_return == 1.0).all()
    out = env.step(np.zeros(2, dtype=np.int64))  # one step left from the start: the 0.1 distractor
    assert out.terminated.all() and np.allclose(out.episode_return, 0.1)
    assert ChainEnv(length=7).optimal_return == 1.0


def test_chain_truncates() -> None:
    env = make("fake:chain", num_envs=1, seed=0, max_steps=4)
    env.reset()
    for a in [1, 0, 1, 0]:
        out = env.step(np.array([a]))
    assert out.truncated[0] and not out.terminated[0] and out.episode_length[0] == 4


def test_bandit_optimum() -> None:
    env = make("fake:bandit", num_envs=4, seed=0)
    env.reset()
    out = env.step(np.arange(4))
    np.testing.assert_allclose(out.reward, [0.2, 1.0, 0.5, 0.0])
    assert out.terminated.all()
    assert BanditEnv().optimal_return == 1.0


def test_image_optimal_return_is_the_length() -> None:
    env = make("fake:image", num_envs=1, seed=0)
    obs = env.reset()
    t = 0
    while True:
        out = env.step(np.array([t % env.spec.num_actions]))
        t += 1
        if out.episode_length[0]:
            break
    assert out.episode_return[0] == out.episode_length[0] == t
    assert decode_frame(obs[0, -1]) is not None


def test_frame_codec_round_trip() -> None:
    frame = encode_frame(2**31 - 5, 300)
    assert frame.shape == (84, 84) and frame.dtype == np.uint8
    assert decode_frame(frame) == (2**31 - 5, 300)
    assert decode_frame(np.zeros((84, 84), dtype=np.uint8)) is None
    assert encode_frame(0, 0).any()  # a real frame is never all zeros
