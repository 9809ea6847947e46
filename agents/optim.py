"""Build a torch optimiser by name."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from agents.errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd", "nesterov", "adagrad", "adamax", "nadam")


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, eps: float = 1e-8,
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """One of ``OPTIMIZERS``; ``eps`` goes to the adaptive ones (Adam's 1.5e-4 in Rainbow, RMSprop's 0.01)."""
    ps = list(params)
    if name == "adam":
        return torch.optim.Adam(ps, lr=lr, eps=eps, foreach=True)
    if name == "rmsprop":
        # Nature DQN: centered RMSprop, decay 0.95, momentum 0; torch's alpha is the decay.
        return torch.optim.RMSprop(ps, lr=lr, alpha=0.95, eps=eps, centered=True, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(ps, lr=lr)
    if name == "nesterov":
        return torch.optim.SGD(ps, lr=lr, momentum=momentum, nesterov=True)
    if name == "adagrad":
        return torch.optim.Adagrad(ps, lr=lr, eps=eps)
    if name == "adamax":
        return torch.optim.Adamax(ps, lr=lr, eps=eps)
    if name == "nadam":
        return torch.optim.NAdam(ps, lr=lr, eps=eps)
    raise ConfigError(f"unknown optimizer '{name}'; choose from {', '.join(OPTIMIZERS)}")
