"""Output heads over torso features: Q values, dueling, C51 distributions, noisy linear layers.

- Noisy nets: Fortunato et al. 2018, "Noisy Networks for Exploration" (factorised Gaussian noise).
- Dueling: Wang et al. 2016, "Dueling Network Architectures for Deep RL". The paper's aggregation
  ``Q = V + A - mean(A)`` is the default (``"mean"``); the project's seed notes give
  ``Q = V + A - max(A)`` (``"max"``), offered as an option.
- C51: Bellemare et al. 2017, "A Distributional Perspective on RL" (logits over fixed atoms).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class NoisyLinear(nn.Module):
    """Linear layer with learned factorised Gaussian noise on weights and biases.

    ``y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b`` with ``eps_w = f(eps_out) f(eps_in)^T``,
    ``f(x) = sign(x) sqrt(|x|)``. Noise is redrawn by ``reset_noise`` from an explicit generator; in
    eval mode (``module.eval()``) the layer uses the mean weights only.
    """

    eps_in: torch.Tensor
    eps_out: torch.Tensor

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 / math.sqrt(in_features)))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 / math.sqrt(in_features)))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))

    @staticmethod
    def _f(x: torch.Tensor) -> torch.Tensor:
        return x.sign() * x.abs().sqrt()

    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        dev = self.weight_mu.device
        self.eps_in.copy_(self._f(torch.randn(self.in_features, generator=generator).to(dev)))
        self.eps_out.copy_(self._f(torch.randn(self.out_features, generator=generator).to(dev)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        bias = self.bias_mu + self.bias_sigma * self.eps_out
        return F.linear(x, weight, bias)


def _linear(in_f: int, out_f: int, noisy: bool, sigma0: float) -> nn.Module:
    return NoisyLinear(in_f, out_f, sigma0) if noisy else nn.Linear(in_f, out_f)


def _stream(in_f: int, out_f: int, hidden: int, noisy: bool, sigma0: float) -> nn.Module:
    if hidden <= 0:
        return _linear(in_f, out_f, noisy, sigma0)
    return nn.Sequential(_linear(in_f, hidden, noisy, sigma0), nn.ReLU(), _linear(hidden, out_f, noisy, sigma0))


class QHead(nn.Module):
    """Features ``[B, F]`` -> per-action outputs ``[B, A, K]`` (``K = num_atoms``; 1 for plain Q).

    For C51 the outputs are logits over atoms; dueling aggregation is done on those logits per atom,
    as in Rainbow (Hessel et al. 2018).
    """

    def __init__(self, in_features: int, num_actions: int, num_atoms: int = 1, dueling: bool = False,
                 aggregation: str = "mean", hidden: int = 0, noisy: bool = False, sigma0: float = 0.5) -> None:
        super().__init__()
        if aggregation not in ("mean", "max"):
            raise ValueError(f"dueling aggregation must be 'mean' or 'max', got '{aggregation}'")
        self.num_actions, self.num_atoms = num_actions, num_atoms
        self.dueling, self.aggregation = dueling, aggregation
        self.advantage = _stream(in_features, num_actions * num_atoms, hidden, noisy, sigma0)
        self.value = _stream(in_features, num_atoms, hidden, noisy, sigma0) if dueling else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b = features.shape[0]
        adv = self.advantage(features).view(b, self.num_actions, self.num_atoms)  # [B, A, K]
        if self.value is None:
            return adv
        value = self.value(features).view(b, 1, self.num_atoms)  # [B, 1, K]
        if self.aggregation == "mean":
            return value + adv - adv.mean(dim=1, keepdim=True)
        return value + adv - adv.max(dim=1, keepdim=True).values
