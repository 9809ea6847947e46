"""Configuration of the AlphaZero learner (network and optimisation); search settings live in ``MCTSConfig``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlphaZeroConfig:
    """Optimisation of the policy-value network."""

    lr: float = 1e-3
    """Learning rate."""
    optimizer: str = "adam"
    """Optimiser: adam, rmsprop, sgd, nesterov, adagrad, adamax or nadam."""
    l2: float = 1e-4
    """c in the loss: L2 penalty on weights (the paper's 1e-4)."""
    value_weight: float = 1.0
    """Weight of the value loss (z - v)^2 (1 in the paper)."""
    batch_size: int = 256
    """Positions per update."""
    max_grad_norm: float = 0.0
    """Clip the gradient norm (0: off)."""
    value_hidden: int = 64
    """Hidden width of the value head."""
