"""``arena plot RUN_DIR...``: learning curves of one or more runs in one PNG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from agents.constraints import MAX_COUNT, Interval, MinLen
from runners.cli.parse import UsageError, parse
from runners.local.plot import plot_runs


@dataclass(frozen=True)
class PlotArgs:
    """Plot learning curves (training returns smoothed, evaluation mean ± std) to a PNG."""

    run_dirs: tyro.conf.Positional[
        Annotated[tuple[str, ...], MinLen(1), tyro.conf.arg(metavar="RUN_DIR [RUN_DIR ...]")]]
    """One or more run directories."""
    out: Annotated[str, MinLen(1)] = "learning_curves.png"
    """Output PNG path (its directory must exist)."""
    title: str | None = None
    """Plot title."""
    window: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20
    """Smoothing window (episodes) for training returns."""


def cmd_plot(argv: Sequence[str]) -> int:
    a = parse(PlotArgs, argv, "arena plot")
    if not Path(a.out).parent.is_dir():  # a typo'd path must not leave new directories behind
        raise UsageError(f"--out {a.out}: directory {Path(a.out).parent} does not exist")
    out = plot_runs([Path(d) for d in a.run_dirs], Path(a.out), a.title, a.window)
    print(out)
    return 0
