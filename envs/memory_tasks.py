"""Memory tasks: partially observed envs a feed-forward policy cannot solve, registered as Gymnasium ids.

Importing ``envs`` registers them, so ``envs.make("arena/CartPoleMasked-v1", n, seed)`` takes the normal
Gymnasium path (same seeding per episode, exact resume by replay).

- ``arena/CartPoleMasked-v1``: CartPole-v1 with the velocities hidden, observation ``[x, theta]`` (the
  "no velocity" CartPole of Heess et al. 2015, "Memory-based control with recurrent neural networks", and
  of the recurrent PPO examples in SB3-contrib / CleanRL). 500-step time limit, optimum 500.
- ``arena/Recall-v0``: a cue-recall task (the T-maze / "memory length" family, Bakker 2001; bsuite's
  memory_length): a cue, one of ``k`` symbols, is shown only in the first observation, then ``delay`` blank
  observations, then a query observation; the action taken at the query is scored, +1 if it names the cue,
  0 otherwise, and the episode terminates. Actions before the query are ignored. Optimum 1.0; a policy
  without memory scores ``1/k`` in expectation.

Recall observations are ``[k + 1]`` float32: the cue's one-hot in the first ``k`` entries (step 0 only)
and a query flag in the last (query step only), so the answer step is observable without counting.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

CARTPOLE_MASKED_ID = "arena/CartPoleMasked-v1"
RECALL_ID = "arena/Recall-v0"


class CartPoleMaskedEnv(CartPoleEnv):
    """CartPole with ``[x, theta]`` observations (cart and pole velocities hidden)."""

    KEEP = np.array([0, 2])

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        full = self.observation_space
        assert isinstance(full, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(full.low[self.KEEP], full.high[self.KEEP], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = super().reset(seed=seed, options=options)
        return np.asarray(obs, np.float32)[self.KEEP], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        return np.asarray(obs, np.float32)[self.KEEP], float(reward), terminated, truncated, info


class RecallEnv(gym.Env[np.ndarray, np.int64]):
    """Show a cue once, wait ``delay`` blank steps, then score the action at the query (see module docstring).

    Episode of ``delay + 2`` steps: step 0 shows the cue, steps ``1..delay`` are blank, step ``delay + 1``
    shows the query flag and its action ends the episode with reward 1 (right) or 0 (wrong).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, num_symbols: int = 4, delay: int = 5, render_mode: str | None = None) -> None:
        if num_symbols < 2 or delay < 0:
            raise ValueError(f"Recall needs num_symbols >= 2 and delay >= 0, got {num_symbols}, {delay}")
        self.num_symbols, self.delay = num_symbols, delay
        self.observation_space = gym.spaces.Box(0.0, 1.0, (num_symbols + 1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(num_symbols)
        self.render_mode = render_mode
        self._cue = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.num_symbols + 1, dtype=np.float32)
        if self._t == 0:
            obs[self._cue] = 1.0
        elif self._t == self.delay + 1:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._cue = int(self.np_random.integers(self.num_symbols))
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._t == self.delay + 1:
            reward = 1.0 if int(action) == self._cue else 0.0
            return np.zeros(self.num_symbols + 1, dtype=np.float32), reward, True, False, {}
        self._t += 1
        return self._obs(), 0.0, False, False, {}


def register() -> None:
    """Register the memory tasks with Gymnasium (idempotent)."""
    if CARTPOLE_MASKED_ID not in gym.registry:
        gym.register(CARTPOLE_MASKED_ID, entry_point="envs.memory_tasks:CartPoleMaskedEnv", max_episode_steps=500,
                     reward_threshold=475.0)
    if RECALL_ID not in gym.registry:
        gym.register(RECALL_ID, entry_point="envs.memory_tasks:RecallEnv", kwargs={"num_symbols": 4, "delay": 5})
