"""Policy heads over torso features and the action distributions they return.

- ``CategoricalHead``: logits over ``A`` discrete actions (softmax policy), optionally masked to the legal
  actions (board games: an illegal move gets probability exactly 0, ``MASKED_LOGIT``).
- ``DiagGaussianHead``: a diagonal Gaussian over ``d`` real action dimensions, mean from a linear layer
  and a learned, state-independent log standard deviation (Schulman et al. 2015, TRPO; Schulman et al.
  2017, PPO, for continuous control).

The distributions are small classes, not ``torch.distributions``: sampling takes an explicit
``torch.Generator`` (no global RNG), log-probabilities come from ``log_softmax`` / the closed-form Gaussian
density, and there is no argument validation on the hot path. Gaussian samples are unbounded; the env
clips them to its bounds, and the log-probability is that of the unclipped sample (as CleanRL and
Stable-Baselines3 do without a squashing function).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from envs.base import EnvSpec

_LOG_2PI = math.log(2.0 * math.pi)


class ActionDistribution(Protocol):
    """A batch of ``B`` action distributions."""

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """``[B]`` log-probability (density) of ``action`` (``[B]`` int64 or ``[B, d]`` float)."""
        ...

    def entropy(self) -> torch.Tensor:
        """``[B]`` entropy."""
        ...

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per row, drawn with ``generator``."""
        ...

    def mode(self) -> torch.Tensor:
        """The most likely action per row (greedy evaluation)."""
        ...


# What an illegal action's logit becomes under a legal-action mask: finite, so log-probabilities, entropies and
# gradients stay finite (no -inf * 0 = nan), yet exp(-1e9 - logsumexp) underflows to exactly 0 in float32 and
# float64, so an illegal action has probability 0 and is never sampled (Gumbel noise is below 50).
MASKED_LOGIT = -1e9


class Categorical:
    """Softmax over ``logits [B, A]``, optionally restricted to the actions where ``mask [B, A]`` (bool) is True.

    Every row of a mask needs at least one legal action. Without a mask the computation is exactly the unmasked
    one (no extra op).
    """

    def __init__(self, logits: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        if mask is not None:
            logits = logits.masked_fill(~mask.bool(), MASKED_LOGIT)  # [B, A]
        self.logits = F.log_softmax(logits, dim=-1)  # [B, A] normalised log-probabilities

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)  # [B]

    def entropy(self) -> torch.Tensor:
        return -(self.logits.exp() * self.logits).sum(-1)  # [B]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        # Gumbel-max: argmax(log p + G), G = -log(-log U), one uniform per logit; exact and cheap.
        u = torch.rand(self.logits.shape, generator=generator, device=self.logits.device)
        gumbel = -torch.log(-torch.log(u.clamp_min(1e-20)))
        return (self.logits + gumbel).argmax(-1)  # [B]

    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)


class DiagGaussian:
    """Independent Gaussians: ``mean [B, d]``, ``log_std [d]`` or ``[B, d]``."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor) -> None:
        self.mean = mean
        self.log_std = log_std.expand_as(mean)  # [B, d]

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        z = (action - self.mean) * torch.exp(-self.log_std)  # [B, d]
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * _LOG_2PI).sum(-1)  # [B], summed over dimensions

    def entropy(self) -> torch.Tensor:
        return (self.log_std + 0.5 * (1.0 + _LOG_2PI)).sum(-1)  # [B]

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device)
        return self.mean + eps * self.log_std.exp()  # [B, d]

    def mode(self) -> torch.Tensor:
        return self.mean


class CategoricalHead(nn.Module):
    """``features [B, F] -> Categorical(logits [B, A])``, masked to the legal actions when given ``mask [B, A]``."""

    def __init__(self, in_features: int, num_actions: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, num_actions)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> Categorical:
        return Categorical(self.linear(features), mask)


class DiagGaussianHead(nn.Module):
    """``features [B, F] -> DiagGaussian(mean [B, d], log_std [d])``; log_std is a free parameter."""

    def __init__(self, in_features: int, action_dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, action_dim)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, features: torch.Tensor) -> DiagGaussian:
        return DiagGaussian(self.linear(features), self.log_std)


PolicyHead = CategoricalHead | DiagGaussianHead


def build_policy_head(in_features: int, spec: EnvSpec, log_std_init: float = 0.0) -> PolicyHead:
    """A categorical head for discrete specs, a diagonal Gaussian for continuous (1-D ``Box``) ones."""
    if spec.continuous:
        return DiagGaussianHead(in_features, math.prod(spec.action_shape), log_std_init)
    return CategoricalHead(in_features, spec.num_actions)
