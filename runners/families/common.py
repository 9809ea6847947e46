"""Config pieces every family shares: the env, the run's records, and how configs become JSON and back.

One frozen dataclass per component; tyro builds the CLI from them and each field's docstring is its ``--help``
text. The families' own configs (``runners.families.dqn``, ``.pg``, ``.selfplay``) nest these.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from agents.constraints import MAX_SEED, MAX_STEPS, Interval
from runners.families.distributed import RAY_OPTIONS, DistributedConfig

# Sub-envs (and evaluation episodes, each its own sub-env) one process steps together.
MAX_ENVS = 4_096
# Options a resume may not change in any family that steps envs: one saved state per sub-environment, and the
# observation and action shapes.
ENV_RESUME_FIXED = ("env.num_envs", "env.frame_stack", "env.full_action_space")


@dataclass(frozen=True)
class EnvConfig:
    """Which environment, how many copies, and the Atari protocol options."""

    id: str = "CartPole-v1"
    """Env id: any Gymnasium id, ale:GAME (native ALE vector env), minatar:GAME, or fake:NAME."""
    num_envs: Annotated[int, Interval(ge=1, le=MAX_ENVS)] = 1
    """Sub-environments stepped together by the actor."""
    repeat_action_probability: Annotated[float, Interval(ge=0, le=1)] = 0.0
    """Atari sticky actions (0.0: the Nature-DQN protocol; 0.25: Machado et al. 2018)."""
    terminal_on_life_loss: bool = False
    """Atari: end the learning episode on a lost life (the env still resets only on game over)."""
    full_action_space: bool = False
    """Atari: all 18 actions instead of the game's minimal set."""
    frame_stack: Annotated[int, Interval(ge=1, le=64)] = 1
    """MinAtar: stack this many observations along the channels (Atari stacks its own 4 frames)."""


@dataclass(frozen=True)
class LoopConfig:
    """The training loop: how long, evaluation, checkpoints, seed and device (every env-stepping family)."""

    total_steps: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 50_000
    """Env steps to train for, summed over sub-environments."""
    eval_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 5_000
    """Env steps between evaluations (0: only at the end)."""
    eval_episodes: Annotated[int, Interval(ge=0, le=MAX_ENVS)] = 10
    """Episodes per evaluation, each from its own seeded sub-environment (0: no evaluation); policy gradients act
    greedily there (the distribution's mode)."""
    eval_max_steps: int | None = 27_000
    """Agent steps after which an evaluation episode is cut and counted as truncated (27,000: the Atari
    protocol's 108,000 frames at frame skip 4; None: no cap beyond the env's own time limit)."""
    target_return: float | None = None
    """Stop early once the evaluation mean reaches this return (None: train for total_steps)."""
    checkpoint_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 10_000
    """Env steps between checkpoints (0: only at the end); one is also written at the end and on SIGINT/SIGTERM."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 0
    """Run seed; every RNG (envs, exploration or action sampling, replay or minibatches, network init) derives
    from it."""
    device: str = "auto"
    """Torch device for the learner: auto (cuda when present), cpu, cuda, cuda:1, ..."""
    torch_threads: Annotated[int, Interval(ge=0, le=4_096)] = 1
    """torch intra-op threads (0: one per core, torch's default). 1 by default: beside other busy processes one
    per core ran 2.7-4.6x slower (benchmarks/results/torch_threads.md); on an idle machine it gains nothing for
    MLPs and MinAtar and about 1.5x for the Nature CNN (Atari on a dedicated machine: try 0)."""


@dataclass(frozen=True)
class LogConfig:
    """Where and how the run is recorded."""

    run_dir: str | None = None
    """Run directory (default runs/PRESET-ENV-sSEED-TIME)."""
    wandb: Literal["off", "offline", "online"] = "offline"
    """Weights & Biases: offline (default, no network or account needed), online, or off."""
    wandb_project: str = "arena"
    """wandb project name."""
    video: bool = False
    """Record a video of one episode at each evaluation (into RUN_DIR/videos)."""
    progress: bool = True
    """Show the progress bar."""
    log_every: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 1_000
    """Env steps between metric lines in metrics.jsonl."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON-able data."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) frozen dataclass from ``to_dict`` output; tuples come back as tuples."""
    kwargs: dict[str, Any] = {}
    hints = {f.name: f for f in dataclasses.fields(cls)}
    if issubclass(cls, DistributedConfig):  # saved before each family had its own Ray options: drop the others'
        data = {k: v for k, v in data.items() if k in hints or k not in RAY_OPTIONS}
    for name, value in data.items():
        if name not in hints:
            raise ValueError(f"unknown config field '{name}' for {cls.__name__}")
        default = getattr(cls(), name) if _has_defaults(cls) else None
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _has_defaults(cls: type) -> bool:
    return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls))


def save_config(cfg: Any, path: Path) -> None:
    """Write any (nested) config dataclass as sorted, indented JSON."""
    path.write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")
