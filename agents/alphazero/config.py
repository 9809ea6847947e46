"""Configuration of the AlphaZero learner (network and optimisation); search settings live in ``MCTSConfig``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from agents.constraints import MAX_COUNT, MAX_WIDTH, Ge, Gt, Interval


@dataclass(frozen=True)
class AlphaZeroConfig:
    """Optimisation of the policy-value network."""

    lr: Annotated[float, Gt(0)] = 1e-3
    """Learning rate."""
    optimizer: str = "adam"
    """Optimiser: adam, rmsprop, sgd, nesterov, adagrad, adamax or nadam."""
    l2: Annotated[float, Ge(0)] = 1e-4
    """c in the loss: L2 penalty on weights (the paper's 1e-4)."""
    value_weight: Annotated[float, Ge(0)] = 1.0
    """Weight of the value loss (z - v)^2 (1 in the paper)."""
    batch_size: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 256
    """Positions per update."""
    max_grad_norm: Annotated[float, Ge(0)] = 0.0
    """Clip the gradient norm (0: off)."""
    value_hidden: Annotated[int, Interval(ge=1, le=MAX_WIDTH)] = 64
    """Hidden width of the value head."""
