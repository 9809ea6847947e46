"""Configuration of REINFORCE (Williams 1992) with an optional baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from agents.constraints import MAX_COUNT, Ge, Gt, Interval


@dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE: whole-episode Monte-Carlo policy gradient, delta w = alpha (G - b) d log pi / d w."""

    baseline: Literal["none", "mean", "value"] = "value"
    """Baseline b subtracted from the return: none, mean (a running mean of past returns) or value (a learned
    state value V(s), trained by regression on the returns)."""
    gamma: Annotated[float, Interval(ge=0, le=1)] = 0.99
    """Discount of the rewards-to-go."""
    lr: Annotated[float, Gt(0)] = 1e-3
    """Policy learning rate."""
    value_lr: Annotated[float, Gt(0)] = 1e-3
    """Learning rate of the value baseline (separate torsos; with --net.shared one optimiser uses lr)."""
    value_steps: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 5
    """Gradient steps of the value regression per batch (separate torsos)."""
    value_coef: Annotated[float, Ge(0)] = 0.5
    """Weight of the value loss when policy and value share a torso (one combined loss)."""
    mean_decay: Annotated[float, Interval(ge=0, le=1)] = 0.9
    """Mean baseline: b is an exponential moving average, with this decay, of past batches' mean return."""
    normalize_advantage: bool = True
    """Subtract the batch mean of G - b and divide by its standard deviation. The subtraction is itself a constant
    baseline, so with it on, baseline mean and none give the same updates."""
    ent_coef: Annotated[float, Ge(0)] = 0.0
    """Entropy bonus coefficient."""
    batch_steps: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 2_000
    """Steps of finished episodes per update: a rollout runs until its finished episodes hold this many steps (the
    unfinished episode of each other sub-env is dropped, and its steps still count as env steps)."""
    max_rollout_length: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20_000
    """Per-sub-env step limit of one rollout (episodes still running then are dropped)."""
    optimizer: str = "adam"
    """Optimiser: adam, rmsprop, sgd, nesterov, adagrad, adamax or nadam."""
    optimizer_eps: Annotated[float, Ge(0)] = 1e-5
    """Epsilon of adaptive optimisers."""
    max_grad_norm: Annotated[float, Ge(0)] = 0.0
    """Clip the policy's global gradient norm to this (0 disables)."""
    grad_var_episodes: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 16
    """Episodes used to estimate the variance of the per-episode policy-gradient estimate (0: not measured)."""
    reward_clip: bool = False
    """Clip learning rewards to [-1, 1] (the Atari protocol)."""
