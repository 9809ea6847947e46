"""``PGTrainConfig``: the policy-gradient family's run configuration (REINFORCE or PPO), nested like
``TrainConfig``; tyro builds ``arena train PRESET --help`` from it, each field's docstring its help text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from agents.actor_critic import ActorCriticConfig
from agents.constraints import MAX_STEPS, Interval
from agents.gail.config import BCConfig, GAILConfig
from agents.ppo.config import PPOConfig
from agents.reinforce.config import ReinforceConfig
from agents.torsos import TorsoConfig
from runners.families.common import EnvConfig, LogConfig, LoopConfig
from runners.families.distributed import OnPolicyRayConfig


@dataclass(frozen=True)
class PGRunnerConfig(LoopConfig):
    """The on-policy loop: how long, evaluation, checkpoints, seed and device."""

    total_steps: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 100_000
    """Env steps to train for, summed over sub-environments (a rollout in progress is finished)."""
    eval_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 10_000
    """Env steps between evaluations (0: only at the end)."""
    checkpoint_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 50_000
    """Env steps between checkpoints (0: only at the end); one is also written at the end and on SIGINT/SIGTERM."""


@dataclass(frozen=True)
class PGTrainConfig:
    """A policy-gradient training run; saved as config.json in the run directory."""

    preset: str = "ppo-cartpole"
    """Name of the preset this config came from."""
    algo: Literal["reinforce", "ppo"] = "ppo"
    """Algorithm: reinforce (whole-episode Monte-Carlo policy gradient) or ppo (PPO-clip with GAE); GAIL's
    generator."""
    imitation: Literal["none", "gail", "bc"] = "none"
    """Imitation: none (learn from env rewards), gail (learn from a discriminator's rewards), or bc (behaviour
    cloning only: no env steps but evaluation)."""
    demos: str = ""
    """Expert demonstrations for gail and bc: a Minari dataset id (arena/NAME-v0, see arena record) or a path."""
    env: EnvConfig = field(default_factory=EnvConfig)
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    gail: GAILConfig = field(default_factory=GAILConfig)
    bc: BCConfig = field(default_factory=BCConfig)
    net: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    torso: TorsoConfig = field(default_factory=TorsoConfig)
    runner: PGRunnerConfig = field(default_factory=PGRunnerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    distributed: OnPolicyRayConfig = field(default_factory=OnPolicyRayConfig)
