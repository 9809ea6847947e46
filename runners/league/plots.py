"""The league's own Elo over time: ``league_elo.png`` from the ``iteration`` rows of ``metrics.jsonl``.

Each ``iteration`` row with a ``league_elo`` entry holds every player's ``[rating, 95% half-width]`` from a
Bradley-Terry fit over the whole payoff matrix at that iteration (``LeagueTrainer.league_elo``, the first main
agent at 0). The rows are the record, not the trainer: a resumed run's file has been trimmed to its checkpoint
(``trim_metrics``), so it holds each fit once, and the plot needs nothing else from the checkpoint.

The plot: one line per current learner (its rating at each fit, with error bars), and each frozen snapshot as a
point at the iteration it was taken, rated by the last fit (the most games) in its learner's colour, so the
snapshots read as the learners' progress measured by everything played since.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LeagueEloRow = tuple[int, int, dict[str, list[float]]]
"""``(iteration, games, {player: [rating, ci95]})`` of one fit."""


def league_elo_rows(metrics: Path) -> list[LeagueEloRow]:
    """Every league Elo fit logged in ``metrics`` (a ``metrics.jsonl``), oldest first; torn lines are skipped."""
    rows: list[LeagueEloRow] = []
    if not metrics.is_file():
        return rows
    for line in metrics.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("kind") == "iteration" and isinstance(row.get("league_elo"), dict):
            rows.append((int(row["iteration"]), int(row["games"]), row["league_elo"]))
    return rows


def plot_league_elo(rows: Sequence[LeagueEloRow], learners: Sequence[str], parents: Sequence[tuple[str, str]],
                    out: Path, title: str) -> Path | None:
    """Write the league Elo plot (module docstring) to ``out``; None (nothing written) without any fit.

    Args:
        rows: the fits, oldest first (``league_elo_rows``).
        learners: the current learners' names (a line each).
        parents: ``(snapshot, learner it froze)`` pairs; a snapshot's name ends in ``@ITERATION``.
        out: the PNG to write.
        title: the plot's title.
    """
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    colours: dict[str, Any] = {}
    for name in learners:
        xs = [it for it, _, elo in rows if name in elo]
        line = ax.errorbar(xs, [elo[name][0] for _, _, elo in rows if name in elo],
                           yerr=[elo[name][1] for _, _, elo in rows if name in elo], marker="o", ms=3, capsize=2,
                           lw=1.2, label=name)
        colours[name] = line.lines[0].get_color()
    last = rows[-1][2]
    for snapshot, learner in parents:
        if snapshot in last:
            rating, ci = last[snapshot]
            ax.errorbar([int(snapshot.rpartition("@")[2])], [rating], yerr=[ci], fmt="s", ms=4, capsize=2,
                        alpha=0.6, color=colours.get(learner, "gray"))
    if parents:
        ax.plot([], [], "s", color="gray", alpha=0.6, label="snapshots (last fit)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"league Elo ({learners[0] if learners else 'first player'} = 0), 95% CI")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def league_elo_table(rows: Sequence[LeagueEloRow]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``(columns, rows)`` of every fit, one row per player per fit: the wandb table (``log_tables``)."""
    columns = ["iteration", "games", "player", "elo", "ci95", "elo_low", "elo_high"]
    table = [(it, games, name, r, c, r - c, r + c) for it, games, elo in rows for name, (r, c) in elo.items()]
    return columns, table
