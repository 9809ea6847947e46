"""Configuration of the DQN family. Every Rainbow component is an independent flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from agents.constraints import MAX_COUNT, MAX_STEPS, MAX_WIDTH, Ge, Gt, Interval


@dataclass(frozen=True)
class DQNConfig:
    """DQN and its extensions.

    Rainbow is all six flags on: double, dueling, prioritized, n_step > 1, noisy, distributional.
    """

    double: bool = False
    """Double Q-learning (van Hasselt et al. 2016): the online net picks the next action, the target net values it."""
    dueling: bool = False
    """Dueling head: separate value and advantage streams (Wang et al. 2016)."""
    dueling_aggregation: Literal["mean", "max"] = "mean"
    """Dueling aggregation: mean (the paper's, default) or max (the seed notes' form)."""
    prioritized: bool = False
    """Prioritized experience replay, proportional variant (Schaul et al. 2016)."""
    priority_exponent: Annotated[float, Ge(0)] = 0.5
    """PER alpha (called zeta in the seed notes): p = (|delta| + eps)^alpha."""
    priority_eps: Annotated[float, Gt(0)] = 1e-6
    """PER eps added to |delta| so no item starves."""
    beta_start: Annotated[float, Interval(ge=0, le=1)] = 0.4
    """PER importance-sampling exponent at the start, annealed linearly to 1 over training."""
    weight_form: Literal["paper", "seed"] = "paper"
    """PER weights: paper = (N P)^-beta / max_i w_i (default); seed = (nP)^-beta without max normalisation."""
    n_step: Annotated[int, Interval(ge=1, le=1_000)] = 1
    """Multi-step returns (Sutton 1988): bootstrap after n rewards."""
    noisy: bool = False
    """Noisy linear layers in the head for exploration (Fortunato et al. 2018)."""
    noisy_sigma0: Annotated[float, Ge(0)] = 0.5
    """Initial noise scale sigma_0 of factorised noisy layers."""
    distributional: bool = False
    """C51 distributional head (Bellemare et al. 2017)."""
    num_atoms: Annotated[int, Interval(ge=2, le=10_000)] = 51
    """C51 number of atoms."""
    v_min: float = -10.0
    """C51 lowest support value."""
    v_max: float = 10.0
    """C51 highest support value."""
    head_hidden: Annotated[int, Interval(ge=0, le=MAX_WIDTH)] = 0
    """Hidden width of each head stream (0: a single linear layer on torso features)."""
    gamma: Annotated[float, Interval(ge=0, le=1)] = 0.99
    """Discount factor."""
    lr: Annotated[float, Gt(0)] = 1e-4
    """Learning rate."""
    optimizer: str = "adam"
    """Optimiser: adam, rmsprop, sgd, nesterov, adagrad, adamax or nadam."""
    optimizer_eps: Annotated[float, Ge(0)] = 1.5e-4
    """Epsilon of adaptive optimisers (Adam, RMSprop, ...)."""
    batch_size: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 32
    """Minibatch size per update."""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss for non-distributional agents."""
    max_grad_norm: Annotated[float, Ge(0)] = 10.0
    """Clip the global gradient norm to this (0 disables)."""
    target_update_period: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 1000
    """Learner updates between target-network updates."""
    tau: Annotated[float, Interval(gt=0, le=1)] = 1.0
    """Target update: 1.0 copies (hard update); <1 is Polyak averaging target <- tau*online + (1-tau)*target."""
    epsilon_start: Annotated[float, Interval(ge=0, le=1)] = 1.0
    """Exploration epsilon at step 0."""
    epsilon_end: Annotated[float, Interval(ge=0, le=1)] = 0.01
    """Exploration epsilon after the decay."""
    epsilon_decay_steps: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 10_000
    """Env steps over which epsilon decays linearly."""
    reward_clip: bool = False
    """Clip rewards to [-1, 1] in the learner (the Atari protocol)."""
    obs_norm: bool = False
    """Normalise observations by their mean and std over the env steps before learning starts, then frozen (the
    Q targets see fixed inputs); the statistics are network buffers, saved with it."""
    burn_in: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 10
    """Memory torsos (R2D2 sequence replay): leading steps of each replayed sequence that only refresh the stored
    recurrent state, without gradient or loss."""
    sequence_length: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20
    """Memory torsos: steps of each replayed sequence that the loss is taken over (after the burn-in)."""
    sequence_period: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 10
    """Memory torsos: env steps between the starts of adjacent sequences (sequence_length / 2: half overlap)."""
    priority_eta: Annotated[float, Interval(ge=0, le=1)] = 0.9
    """Memory torsos with PER: sequence priority eta * max|delta| + (1 - eta) * mean|delta| (R2D2)."""
