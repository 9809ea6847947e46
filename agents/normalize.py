"""Running statistics for observation normalisation and reward scaling.

Both follow what PPO implementations do in practice (Engstrom et al. 2020, "Implementation Matters in
Deep Policy Gradients"; Stable-Baselines3's ``VecNormalize``; CleanRL's continuous PPO):

- ``ObsNormalizer``: ``clip((obs - mean) / sqrt(var + eps), -c, c)`` with a running mean and variance
  (parallel-variance update of Chan et al.). It is a module with buffers, so the statistics live in the
  network's ``state_dict``: in checkpoints, in ``model.pt`` and in evaluation copies.
- ``RewardScaler``: rewards divided by the standard deviation of a running discounted return
  ``R_t = gamma * R_{t-1} + r_t`` (reset at episode ends), then clipped. The mean is not subtracted.

Deviation: statistics are updated once per rollout, after the policy update that used them (the
networks act and learn with the same statistics, so PPO's first-epoch ratio is exactly 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class RunningMeanStd:
    """Mean and variance of a stream of ``[..., *shape]`` batches (float64, numpy)."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 0.0

    def update(self, x: np.ndarray) -> None:
        """Fold in a batch ``x [B, *shape]``."""
        x = x.reshape(-1, *self.mean.shape).astype(np.float64)
        if x.shape[0] == 0:
            return
        self.mean, self.var, self.count = _combine(self.mean, self.var, self.count, x.mean(0), x.var(0),
                                                   float(x.shape[0]))

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var = np.asarray(state["mean"]).copy(), np.asarray(state["var"]).copy()
        self.count = float(state["count"])


def _combine(mean: Any, var: Any, count: float, b_mean: Any, b_var: Any, b_count: float) -> tuple[Any, Any, float]:
    """Chan et al.'s parallel update of (mean, var, count) with a batch's (mean, var, count)."""
    total = count + b_count
    delta = b_mean - mean
    new_mean = mean + delta * b_count / total
    m2 = var * count + b_var * b_count + delta**2 * count * b_count / total
    return new_mean, m2 / total, total


class ObsNormalizer(nn.Module):
    """Normalises observations with running statistics kept as buffers; identity while ``enabled`` is False."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: tuple[int, ...], enabled: bool, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.enabled, self.clip, self.eps = enabled, clip, eps
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float32))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float32))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return obs
        x = (obs.float() - self.mean) * torch.rsqrt(self.var + self.eps)
        return x.clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, obs: np.ndarray) -> None:
        """Fold in a batch of raw observations ``[B, *shape]`` (no-op when disabled)."""
        if not self.enabled:
            return
        x = obs.reshape(-1, *self.mean.shape).astype(np.float64)
        if x.shape[0] == 0:
            return
        self.merge(x.mean(0), x.var(0), float(x.shape[0]))

    @torch.no_grad()
    def merge(self, b_mean: np.ndarray, b_var: np.ndarray, b_count: float) -> None:
        """Fold in statistics gathered elsewhere (``RunningMeanStd``'s mean, var and count)."""
        if not self.enabled or b_count <= 0:
            return
        mean, var, count = _combine(self.mean.double().cpu().numpy(), self.var.double().cpu().numpy(),
                                    float(self.count), np.asarray(b_mean), np.asarray(b_var), float(b_count))
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.var.copy_(torch.as_tensor(var, dtype=torch.float32))
        self.count.fill_(count)


class RewardScaler:
    """Scales ``[T, N]`` reward rollouts by the std of a running discounted return per sub-env."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.gamma, self.clip, self.eps = gamma, clip, eps
        self.ret = np.zeros(num_envs, dtype=np.float64)  # [N] running discounted return
        self.rms = RunningMeanStd(())

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Update the statistics with this rollout's returns and return the scaled ``[T, N]`` rewards.

        Args:
            reward: ``[T, N]`` learning rewards.
            done: ``[T, N]`` bool, ``terminated | truncated`` (the running return restarts after them).
        """
        returns = np.empty(reward.shape, dtype=np.float64)
        for t in range(reward.shape[0]):
            self.ret = self.ret * self.gamma + reward[t]
            returns[t] = self.ret
            self.ret = np.where(done[t], 0.0, self.ret)
        self.rms.update(returns)
        scaled = reward / np.sqrt(self.rms.var + self.eps)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"ret": self.ret.copy(), "rms": self.rms.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ret = np.asarray(state["ret"], dtype=np.float64).copy()
        self.rms.load_state_dict(state["rms"])
