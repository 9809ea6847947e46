"""The DQN family's config: ``TrainConfig`` nests the env, agent, torso, replay, runner, log and Ray options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from agents.constraints import MAX_STEPS, AllowInf, Ge, Interval
from agents.dqn.config import DQNConfig
from agents.torsos import TorsoConfig
from runners.families.common import EnvConfig, LogConfig, LoopConfig
from runners.families.distributed import ApexConfig

# Replay slots: 1e9 transitions of even a 4-float CartPole observation hold about 40 GB.
MAX_CAPACITY = 10**9


@dataclass(frozen=True)
class ReplayConfig:
    """Replay storage size and when learning starts."""

    capacity: Annotated[int, Interval(ge=1, le=MAX_CAPACITY)] = 50_000
    """Transitions kept (Atari frames are stored once each); refused when it cannot fit the available memory."""
    learning_starts: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 1_000
    """Env steps collected before the first update."""
    checkpoint_budget_gb: Annotated[float, Ge(0), AllowInf] = 4.0
    """Save the replay buffer with checkpoints when it needs at most this many GB (exact resume; 0: never, inf:
    always)."""


@dataclass(frozen=True)
class RunnerConfig(LoopConfig):
    """The training loop's cadence (the DQN family's additions: updates per env step, evaluation epsilon)."""

    train_every: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 1
    """Env steps (summed over sub-environments) per gradient update."""
    eval_epsilon: Annotated[float, Interval(ge=0, le=1)] = 0.0
    """Epsilon used in evaluation (0: greedy)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; saved as config.json in the run directory."""

    preset: str = "dqn-cartpole"
    """Name of the preset this config came from."""
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: DQNConfig = field(default_factory=DQNConfig)
    torso: TorsoConfig = field(default_factory=TorsoConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    log: LogConfig = field(default_factory=LogConfig)
    distributed: ApexConfig = field(default_factory=ApexConfig)

