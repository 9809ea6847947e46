"""The batched-environment protocol every arena env satisfies, and its static description."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    """What agents need to know about an environment, fixed at construction.

    Attributes:
        env_id: the id as the user wrote it (``"CartPole-v1"``, ``"ale:pong"``, ``"minatar:breakout"``).
        obs_shape: shape of one observation, without the batch dimension.
        obs_dtype: numpy dtype name of observations (``"float32"``, ``"uint8"``).
        num_actions: size of the discrete action space (0 when actions are continuous).
        kind: ``"vector"`` (flat features), ``"image"`` (channels-first planes) or ``"atari"``.
        frame_stack: number of stacked frames in an observation (1 when not stacked). Replay stores
            each frame once when this is > 1.
        protocol: facts about preprocessing (frame skip, sticky actions, reward clipping, ...),
            recorded in the run config.
        action_shape: shape of one continuous action (``()`` for discrete actions).
        action_low: per-dimension lower bounds of continuous actions (``()`` for discrete).
        action_high: per-dimension upper bounds of continuous actions (``()`` for discrete).
    """

    env_id: str
    obs_shape: tuple[int, ...]
    obs_dtype: str
    num_actions: int
    kind: str
    frame_stack: int = 1
    protocol: dict[str, Any] = field(default_factory=dict)
    action_shape: tuple[int, ...] = ()
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()

    @property
    def continuous(self) -> bool:
        """Whether actions are real vectors (``Box``) rather than integers (``Discrete``)."""
        return len(self.action_shape) > 0


@dataclass(frozen=True)
class StepResult:
    """What ``BatchedEnv.step`` returns, for ``N`` sub-environments.

    Attributes:
        next_obs: ``[N, *obs_shape]`` the observation the step produced; the *final* observation
            where an episode ended.
        reward: ``[N]`` float32.
        terminated: ``[N]`` bool.
        truncated: ``[N]`` bool.
        obs: ``[N, *obs_shape]`` the observation to act from next: equal to ``next_obs`` except
            where an episode ended, where the env has been reset and this is the first observation
            of the new episode.
        episode_return: ``[N]`` float32, the undiscounted, unclipped return of episodes that ended
            on this step (NaN elsewhere).
        episode_length: ``[N]`` int64, length of episodes that ended on this step (0 elsewhere).
    """

    next_obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    obs: np.ndarray
    episode_return: np.ndarray
    episode_length: np.ndarray


class BatchedEnv(Protocol):
    """``N`` environments stepped together, reset automatically and seeded per episode."""

    spec: EnvSpec
    num_envs: int

    def reset(self) -> np.ndarray:
        """Start every sub-environment; returns ``[N, *obs_shape]``."""
        ...

    def step(self, action: np.ndarray) -> StepResult:
        """Step every sub-environment with ``[N]`` int actions, or ``[N, *action_shape]`` float32 ones."""
        ...

    def get_state(self) -> dict[str, Any]:
        """Everything needed to put the env back where it is (for exact resume)."""
        ...

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore a ``get_state`` result; returns the current ``[N, *obs_shape]`` observation."""
        ...

    def render(self, index: int = 0) -> np.ndarray | None:
        """An RGB frame ``[H, W, 3]`` of sub-environment ``index`` (for videos), if available."""
        ...

    def close(self) -> None:
        ...
