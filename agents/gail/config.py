"""Configuration of GAIL's discriminator and of behaviour cloning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from agents.constraints import MAX_COUNT, MAX_STEPS, MAX_WIDTH, Ge, Gt, Interval

RewardForm = Literal["-log(1-D)", "log D", "log D - log(1-D)"]
"""The fixed learned-reward forms (``agents.gail.discriminator.reward_from_logit``)."""


@dataclass(frozen=True)
class GAILConfig:
    """GAIL (Ho & Ermon 2016). D(s, a) is the probability that (s, a) came from the expert."""

    reward_form: Literal["auto"] | RewardForm = "auto"
    """Learned reward: -log(1-D) (always positive: a bonus for every step, so the generator learns to keep episodes
    going), log D (always negative: a cost for every step, so it learns to end them), log D - log(1-D) (the
    logit, AIRL's form, its sign following D), or auto (default): the logit when most expert episodes end by
    termination (the expert ends them: reaching a goal), else -log(1-D) (the expert survives to the time limit).
    Measured on CartPole, Pendulum and MountainCar (benchmarks/results/gail_reward_forms.md): each form of
    constant sign fails one kind of task."""
    disc_steps: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 1
    """k: discriminator passes over each generator rollout (minibatches of disc_batch_size) per generator round."""
    disc_lr: Annotated[float, Gt(0)] = 3e-4
    """Discriminator learning rate (Adam)."""
    disc_batch_size: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 256
    """Expert and policy samples per discriminator step (each)."""
    disc_hidden: tuple[Annotated[int, Interval(ge=1, le=MAX_WIDTH)], ...] = (64, 64)
    """Hidden widths of the discriminator head on [torso features, action]."""
    spectral_norm: bool = False
    """Spectral normalisation of the discriminator's linear layers (Miyato et al. 2018)."""
    grad_penalty: Annotated[float, Ge(0)] = 0.0
    """Weight of the gradient penalty on interpolated expert/policy inputs (Gulrajani et al. 2017); 0: off."""
    entropy_weight: Annotated[float, Ge(0)] = 0.0
    """Bonus on the discriminator's output entropy (imitation's 'ent_coef'), which slows overconfident D."""
    bc_pretrain_steps: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 0
    """Behaviour-cloning gradient steps on the demonstrations before GAIL starts (0: none)."""


@dataclass(frozen=True)
class BCConfig:
    """Behaviour cloning: maximum likelihood of expert actions (cross-entropy, or Gaussian log-likelihood)."""

    steps: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 2_000
    """Gradient steps."""
    batch_size: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 64
    """Expert samples per step."""
    lr: Annotated[float, Gt(0)] = 1e-3
    """Learning rate (Adam)."""
    entropy_weight: Annotated[float, Ge(0)] = 1e-3
    """Entropy bonus, which keeps a Gaussian policy's std from collapsing on few demonstrations."""
    l2: Annotated[float, Ge(0)] = 0.0
    """L2 penalty on weights."""
