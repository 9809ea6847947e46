"""Reporting a ``TournamentResult``: rich tables, ``results.json``, ``tournament.png`` and wandb tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from runners.local.logging import log_tables
from runners.selfplay.tournament import TournamentResult


def print_results(result: TournamentResult, console: Console | None = None) -> None:
    """The W/D/L matrix (row against column, both colours) and the Elo ranking with 95% intervals."""
    console = console or Console()
    names, k = result.names, len(result.names)
    # Player specs are long (alphazero:runs/.../model.pt:200): the matrix uses short labels and a legend
    # gives the full names, so no column is cut however narrow the terminal.
    labels = [f"P{i + 1}" for i in range(k)]
    matrix = Table(title=f"{result.game}: wins/draws/losses of the row player ({result.games_per_pair} games a pair)")
    matrix.add_column("")
    for label in labels:
        matrix.add_column(label, justify="center")
    for i in range(k):
        cells = ["-" if i == j else f"{result.wins[i, j]}/{result.draws[i, j]}/{result.wins[j, i]}"
                 for j in range(k)]
        matrix.add_row(labels[i], *cells)
    console.print(matrix)
    legend = Table(show_header=False, box=None, padding=(0, 1))
    legend.add_column(justify="right")
    legend.add_column(overflow="fold")
    for label, name in zip(labels, names, strict=True):
        legend.add_row(label, name)
    console.print(legend)

    elo = result.elo
    ranking = Table(title=f"Elo (Bradley-Terry, {elo.anchor} = 0, 95% interval)")
    for col, justify in (("#", "right"), ("player", "left"), ("Elo", "right"), ("± 95%", "right"),
                         ("score", "right"), ("W/D/L", "center")):
        # Long names wrap inside their cell instead of being cut with an ellipsis.
        ranking.add_column(col, justify=justify, overflow="fold" if col == "player" else "ellipsis")  # type: ignore[arg-type]
    for rank, i in enumerate(elo.order(), 1):
        w, d, l = int(result.wins[i].sum()), int(result.draws[i].sum()), int(result.wins[:, i].sum())
        score = (w + d / 2) / max(w + d + l, 1)
        ranking.add_row(str(rank), f"{labels[i]} {names[i]}", f"{elo.ratings[i]:.0f}", f"{elo.ci95[i]:.0f}",
                        f"{score:.1%}", f"{w}/{d}/{l}")
    console.print(ranking)


def write_json(result: TournamentResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path


def plot_results(result: TournamentResult, path: Path) -> Path:
    """Elo with 95% error bars (left) and the row player's score rate against each column player (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = result.elo.order()
    names = [result.names[i] for i in order]
    k = len(names)
    fig, (ax_elo, ax_map) = plt.subplots(1, 2, figsize=(6 + 1.2 * k, 0.6 * k + 2.5),
                                         gridspec_kw={"width_ratios": [1, 1.2]})
    y = np.arange(k)[::-1]  # best at the top
    ax_elo.errorbar(result.elo.ratings[order], y, xerr=result.elo.ci95[order], fmt="o", capsize=4)
    ax_elo.set_yticks(y, names)
    ax_elo.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax_elo.set_xlabel(f"Elo ({result.elo.anchor} = 0), 95% interval")
    ax_elo.grid(axis="x", alpha=0.3)

    rate = result.score_rate()[np.ix_(order, order)]  # [K, K], rows and columns best first
    im = ax_map.imshow(rate, vmin=0.0, vmax=1.0, cmap="RdYlGn")
    ax_map.set_xticks(range(k), names, rotation=45, ha="right")
    ax_map.set_yticks(range(k), names)
    for r in range(k):
        for c in range(k):
            if r != c:
                ax_map.text(c, r, f"{rate[r, c]:.2f}", ha="center", va="center", fontsize=8)
    ax_map.set_title("score of row vs column")
    fig.colorbar(im, ax=ax_map, fraction=0.046)
    fig.suptitle(f"{result.game}: {result.games_per_pair} games per pair, seed {result.seed}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(result: TournamentResult, out_dir: Path) -> list[Path]:
    """``results.json`` and ``tournament.png`` in ``out_dir``."""
    return [write_json(result, out_dir / "results.json"), plot_results(result, out_dir / "tournament.png")]


def log_to_wandb(result: TournamentResult, run: Any = None, png: Path | None = None, prefix: str = "tournament"
                 ) -> bool:
    """Log the Elo and W/D/L tables (and ``png``) to ``run``, or to the active wandb run; False if there is none."""
    names, elo = result.names, result.elo
    ratings: list[tuple[Any, ...]] = []
    for i in elo.order():
        r, c = float(elo.ratings[i]), float(elo.ci95[i])
        ratings.append((names[i], r, c, r - c, r + c))
    matches: list[tuple[Any, ...]] = [
        (a, b, int(result.wins[i, j]), int(result.draws[i, j]), int(result.wins[j, i]),
         *[int(x) for x in result.as_first[i, j]])
        for i, a in enumerate(names) for j, b in enumerate(names) if i != j]
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {
        f"{prefix}/elo": (["player", "elo", "ci95", "elo_low", "elo_high"], ratings),
        f"{prefix}/results": (["player", "opponent", "wins", "draws", "losses", "first_wins", "first_draws",
                               "first_losses"], matches)}
    return log_tables(run, tables, images={f"{prefix}/plot": png} if png is not None else None,
                      summary={f"{prefix}/elo/{n}": float(r) for n, r in zip(names, elo.ratings, strict=True)})
