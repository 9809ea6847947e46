"""Tiny Gymnasium envs with known optima, for tests, batched by ``make("fake:...")``.

- ``fake:chain``: walk a chain of ``length`` cells from cell 1; the left end pays 0.1, the right end
  1.0 (both terminate); ``max_steps`` truncates. Optimal return 1.0 in ``length - 2`` steps.
- ``fake:bandit``: one-step episodes, arm ``a`` pays ``means[a]`` (+ optional Gaussian noise).
  Optimal return ``max(means)``.
- ``fake:image``: Atari-shaped ``[4, 84, 84]`` uint8 stacks (zero-padded at reset, oldest frame
  first, like the ALE) whose frames encode ``(episode_id, t)``, see ``decode_frame``. Episode
  lengths are drawn from the episode seed; long ones are truncated at ``max_steps``, short ones
  terminate. Reward 1.0 when ``action == t % num_actions``, so the optimal return is the length.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.gymnasium_env import GymnasiumVectorEnv

FRAME_SHAPE = (84, 84)
STACK = 4


class ChainEnv(gym.Env[np.ndarray, int]):
    """A deterministic chain with a near distractor (0.1, left) and a far goal (1.0, right)."""

    def __init__(self, length: int = 6, max_steps: int = 10) -> None:
        """A chain of ``length`` cells.

        Args:
            length: number of cells (>= 3).
            max_steps: truncation limit.
        """
        if length < 3:
            raise ValueError("length must be >= 3")
        self.length = length
        self.max_steps = max_steps
        self.optimal_return = 1.0
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(length,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._pos = 1
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length, dtype=np.float32)  # [length] one-hot position
        obs[self._pos] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start at cell 1."""
        super().reset(seed=seed)
        self._pos, self._t = 1, 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Move left (0) or right (1)."""
        self._pos += 1 if int(action) == 1 else -1
        self._t += 1
        reward = 1.0 if self._pos == self.length - 1 else 0.1 if self._pos == 0 else 0.0
        terminated = self._pos in (0, self.length - 1)
        truncated = not terminated and self._t >= self.max_steps
        return self._obs(), reward, terminated, truncated, {}


class BanditEnv(gym.Env[np.ndarray, int]):
    """A one-step bandit whose best arm is not the first or the last by default."""

    def __init__(self, means: tuple[float, ...] = (0.2, 1.0, 0.5, 0.0), noise: float = 0.0) -> None:
        """A bandit with ``len(means)`` arms.

        Args:
            means: each arm's mean reward.
            noise: standard deviation of Gaussian reward noise.
        """
        self.means = np.asarray(means, dtype=np.float64)
        self.noise = noise
        self.optimal_return = float(self.means.max())
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(means))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """The observation is always ``[1.0]``."""
        super().reset(seed=seed)
        return np.ones(1, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Pull an arm; the episode terminates."""
        reward = float(self.means[int(action)] + self.noise * self.np_random.standard_normal())
        return np.ones(1, dtype=np.float32), reward, True, False, {}


def encode_frame(episode_id: int, t: int) -> np.ndarray:
    """The ``[84, 84]`` uint8 frame for step ``t`` of episode ``episode_id``.

    Pixels ``[0, 0:4]`` hold ``episode_id`` and ``[0, 4:8]`` hold ``t`` (uint32, little endian); every
    other pixel is ``1 + t % 255``, so no real frame is all zeros (zeros are reset padding).
    """
    frame = np.full(FRAME_SHAPE, 1 + t % 255, dtype=np.uint8)
    frame[0, :8] = np.array([episode_id, t], dtype="<u4").view(np.uint8)
    return frame


def decode_frame(frame: np.ndarray) -> tuple[int, int] | None:
    """``(episode_id, t)`` of a ``fake:image`` frame ``[84, 84]``; ``None`` for a zero padding frame."""
    if not frame.any():
        return None
    episode_id, t = np.ascontiguousarray(frame[0, :8]).view("<u4")
    return int(episode_id), int(t)


class FakeImageEnv(gym.Env[np.ndarray, int]):
    """Atari-shaped frame stacks that say which episode and step they come from."""

    def __init__(
        self, num_actions: int = 3, min_length: int = 3, max_length: int = 24, max_steps: int = 16
    ) -> None:
        """Episodes last ``U[min_length, max_length]`` steps, truncated at ``max_steps``.

        Args:
            num_actions: size of the action space.
            min_length: shortest episode.
            max_length: longest episode before truncation.
            max_steps: truncation limit.
        """
        self.num_actions = num_actions
        self.min_length = min_length
        self.max_length = max_length
        self.max_steps = max_steps
        self.observation_space = gym.spaces.Box(0, 255, shape=(STACK, *FRAME_SHAPE), dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(num_actions)
        self.episode_id = 0
        self._length = 0
        self._t = 0
        self._stack = np.zeros((STACK, *FRAME_SHAPE), dtype=np.uint8)  # [4, 84, 84] oldest first

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode; its id is the reset seed (or a draw from ``np_random`` without one).

        Under ``make`` the reset seed is the per-episode seed, so ids differ between episodes and
        sub-envs (up to 31-bit collisions).
        """
        super().reset(seed=seed)
        self.episode_id = int(seed) if seed is not None else int(self.np_random.integers(2**31))
        self._length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        self._t = 0
        self._stack[:] = 0
        self._stack[-1] = encode_frame(self.episode_id, 0)
        return self._stack.copy(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Reward 1.0 for ``action == t % num_actions``; push frame ``t + 1``."""
        reward = 1.0 if int(action) == self._t % self.num_actions else 0.0
        self._t += 1
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = encode_frame(self.episode_id, self._t)
        terminated = self._t >= self._length
        truncated = not terminated and self._t >= self.max_steps
        return self._stack.copy(), reward, terminated, truncated, {}


def _render_newest_frame(obs: np.ndarray) -> np.ndarray:
    """``[4, 84, 84]`` -> the newest frame as ``[84, 84, 3]`` uint8 gray RGB."""
    return np.repeat(obs[-1][..., None], 3, axis=2)


# id -> (env class, EnvSpec.kind, frame stack)
FAKE_ENVS: dict[str, tuple[type[gym.Env], str, int]] = {
    "fake:chain": (ChainEnv, "vector", 1),
    "fake:bandit": (BanditEnv, "vector", 1),
    "fake:image": (FakeImageEnv, "atari", STACK),
}


def make_fake(
    env_id: str, num_envs: int, seed: int, render: bool = False, **options: Any
) -> GymnasiumVectorEnv:
    """Batch a ``fake:`` env; ``options`` go to its constructor.

    Args:
        env_id: a key of ``FAKE_ENVS``.
        num_envs: number of sub-envs.
        seed: run seed.
        render: unused; ``fake:image`` always renders its newest frame, the others never do.
        **options: constructor keyword arguments (e.g. ``length=8``).

    Returns:
        The batched env.
    """
    cls, kind, stack = FAKE_ENVS[env_id]

    def make_one() -> gym.Env:
        return cls(**options)

    return GymnasiumVectorEnv(
        [make_one] * num_envs,
        seed,
        env_id=env_id,
        kind=kind,
        frame_stack=stack,
        protocol={"fake": True, **{k: v for k, v in options.items() if isinstance(v, int | float)}},
        render_fn=_render_newest_frame if env_id == "fake:image" else None,
    )
