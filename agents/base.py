"""The small vocabulary every agent speaks (after Acme): Actor, Learner, LearnerOutput.

An ``Actor`` turns observations into actions and never learns; a ``Learner`` consumes ``Batch`` es
and produces new parameters (an ``OnPolicyLearner`` consumes ``Rollout`` s instead). A ``RewardModel``
(GAIL's discriminator) supplies learned rewards to an on-policy runner.

A runner (one process or Ray actors) wires them together through a
``ParamsClient``, so agent code is the same local and distributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from replay.types import Batch, Rollout

RecurrentState = Any  # None for feed-forward torsos; a tensor or tuple of tensors otherwise.


@dataclass(frozen=True)
class LearnerOutput:
    """What one learner step reports.

    Attributes:
        metrics: scalar diagnostics (loss, mean Q, grad norm, ...).
        priorities: ``[B]`` new replay priorities (``|TD error|`` or the C51 cross-entropy), or None.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    priorities: np.ndarray | None = None


class Actor(Protocol):
    def act(self, obs: np.ndarray, state: RecurrentState = None) -> tuple[np.ndarray, RecurrentState]:
        """Choose ``[N]`` actions for ``[N, *obs_shape]`` observations."""
        ...

    def update_params(self, version: int, params: dict[str, torch.Tensor]) -> None:
        """Load new network parameters published by a learner."""
        ...


class Learner(Protocol):
    def step(self, batch: Batch) -> LearnerOutput:
        """One gradient update."""
        ...

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        """``(version, state_dict)`` of the acting network; version counts updates."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume learning exactly (nets, target, optimiser, counters)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...


class OnPolicyLearner(Protocol):
    """A learner that consumes whole rollouts of its own policy (REINFORCE, PPO)."""

    updates: int

    def update(self, rollout: Rollout, reward: np.ndarray | None = None) -> LearnerOutput:
        """Learn from ``rollout``; ``reward [T, N]``, when given, replaces its env rewards for learning."""
        ...

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        ...

    def state_dict(self) -> dict[str, Any]:
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...


class RewardModel(Protocol):
    """Learned rewards for an on-policy runner (GAIL's discriminator, Ho & Ermon 2016).

    The runner calls ``update(rollout)`` before each policy update (e.g. discriminator steps on the
    rollout against expert data), then learns from ``reward(rollout.obs, rollout.action,
    rollout.next_obs)`` instead of the env's rewards; logged and evaluated returns stay the env's.
    ``state_dict`` travels in checkpoints, so it must hold tensors, numpy arrays and plain containers only.
    """

    def reward(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """``[T, N]`` rewards for ``obs [T, N, *obs_shape]``, ``action [T, N]`` or ``[T, N, d]``, ``next_obs``."""
        ...

    def update(self, rollout: Rollout) -> dict[str, float]:
        """Learn from a fresh rollout of the current policy; returns scalar metrics to log."""
        ...

    def state_dict(self) -> dict[str, Any]:
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...
