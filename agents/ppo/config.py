"""Configuration of PPO-clip (Schulman et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from agents.constraints import MAX_COUNT, Ge, Gt, Interval


@dataclass(frozen=True)
class PPOConfig:
    """PPO with the clipped surrogate, GAE, and the usual implementation details as options."""

    rollout_length: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 128
    """Steps per sub-environment per rollout (T); a rollout holds T x num_envs steps."""
    epochs: Annotated[int, Interval(ge=1, le=10_000)] = 4
    """Passes over each rollout."""
    num_minibatches: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 4
    """Minibatches per pass (minibatch size = T x num_envs / num_minibatches), shuffled every pass."""
    gamma: Annotated[float, Interval(ge=0, le=1)] = 0.99
    """Discount."""
    gae_lambda: Annotated[float, Interval(ge=0, le=1)] = 0.95
    """GAE lambda (Schulman et al. 2016)."""
    lr: Annotated[float, Gt(0)] = 2.5e-4
    """Learning rate."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over the run's total steps."""
    clip: Annotated[float, Gt(0)] = 0.2
    """Clip range epsilon of the probability ratio."""
    anneal_clip: bool = False
    """Decay the clip range linearly to 0 over the run's total steps (the paper's Atari setting)."""
    value_clip: Annotated[float, Ge(0)] = 0.0
    """Clip the value prediction to old value +- this (the PPO2 baselines' value loss); 0 disables."""
    value_coef: Annotated[float, Ge(0)] = 0.5
    """Weight of the value loss."""
    ent_coef: Annotated[float, Ge(0)] = 0.0
    """Entropy bonus coefficient."""
    max_grad_norm: Annotated[float, Ge(0)] = 0.5
    """Clip the global gradient norm to this (0 disables)."""
    normalize_advantage: bool = True
    """Normalise advantages to zero mean and unit std within each minibatch."""
    target_kl: Annotated[float, Ge(0)] = 0.0
    """Stop the epochs early when the approximate KL of an epoch exceeds this (0: never)."""
    optimizer: str = "adam"
    """Optimiser: adam, rmsprop, sgd, nesterov, adagrad, adamax or nadam."""
    optimizer_eps: Annotated[float, Ge(0)] = 1e-5
    """Epsilon of adaptive optimisers (1e-5 as in OpenAI Baselines' PPO2)."""
    reward_clip: bool = False
    """Clip learning rewards to [-1, 1] (the Atari protocol)."""
    reward_scaling: bool = False
    """Divide learning rewards by the running std of a discounted return (saved in checkpoints), clipped to +-10."""
