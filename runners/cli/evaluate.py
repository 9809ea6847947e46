"""``arena eval CHECKPOINT``: evaluate a saved policy on fresh, seeded episodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from agents.constraints import MAX_COUNT, MAX_SEED, Interval
from runners.cli.parse import parse
from runners.local.saved_policy import evaluate_checkpoint


@dataclass(frozen=True)
class EvalArgs:
    """Evaluate a checkpoint on fresh, seeded episodes."""

    checkpoint: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="CHECKPOINT")]]
    """Run directory or checkpoint file."""
    episodes: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 10
    """Number of episodes."""
    epsilon: Annotated[float, Interval(ge=0, le=1)] = 0.0
    """Exploration epsilon (0: greedy)."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 12345
    """Seed of the evaluation episodes."""
    video: bool = False
    """Also record one episode as an mp4 next to the checkpoint."""
    env_id: str | None = None
    """Evaluate on this env id instead of the one in the checkpoint (must match its spaces)."""
    max_steps: int | None = None
    """Cut an episode after this many agent steps and count it as truncated (default: the run's
    --runner.eval-max-steps, 27,000 unless set)."""
    progress: bool = True
    """Show the episodes and steps done so far on stderr."""


def cmd_eval(argv: Sequence[str]) -> int:
    a = parse(EvalArgs, argv, "arena eval")
    return evaluate_checkpoint(Path(a.checkpoint), a.episodes, a.epsilon, a.seed, a.video, a.env_id,
                               max_steps=a.max_steps, progress=a.progress)
