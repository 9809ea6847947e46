"""One self-play run in one process: run directory, progress bar, JSONL / wandb metrics, checkpoints, exact resume."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import TextColumn

from runners.families.common import to_dict
from runners.families.selfplay import SelfPlayConfig
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, CheckpointError, load
from runners.local.logging import IterationLogger, print_table, trim_metrics
from runners.local.resume import check_fits, load_into
from runners.local.signals import StopFlag
from runners.selfplay.anchors import added_message
from runners.selfplay.checkpoint import FORMAT, save_selfplay
from runners.selfplay.trainer import SelfPlayTrainer


@dataclass(frozen=True)
class SelfPlayResult:
    iterations: int
    games: int
    seconds: float
    last_elo: dict[str, Any] | None
    interrupted: bool
    signum: int | None = None
    """SIGINT / SIGTERM that stopped the run; the CLI exits with 128 + signum."""


class SelfPlayLogger(IterationLogger):
    """RUN_DIR/metrics.jsonl, a progress bar (games, positions/s, loss, Elo) and wandb when asked."""

    def __init__(self, run_dir: Path, cfg: SelfPlayConfig, start_iteration: int, console: Console) -> None:
        super().__init__(run_dir, to_dict(cfg), cfg.log, start_iteration, cfg.selfplay.iterations, console,
                         "selfplay", [TextColumn("{task.fields[games]:,} games"),
                                      TextColumn("{task.fields[pps]:>6.0f} pos/s"),
                                      TextColumn("loss {task.fields[loss]}"), TextColumn("Elo {task.fields[elo]}")],
                         {"games": 0, "pps": 0.0, "loss": "-", "elo": "-"})

    def iteration(self, metrics: dict[str, float]) -> None:
        self.last = int(metrics["iteration"])
        self.write({"kind": "iteration", **{k: round(v, 6) for k, v in metrics.items()}})
        if self.bar is not None:
            loss = f"{metrics['loss']:.3f}" if "loss" in metrics else "-"
            self.bar.update(self.task, completed=self.last, games=int(metrics["games"]),
                            pps=metrics["positions_per_s"], loss=loss)

    def evaluation(self, entry: dict[str, Any]) -> None:
        self.write({"kind": "eval", **entry})
        vs = ", ".join(f"{k} {w}/{d}/{lo}" for k, (w, d, lo) in entry["vs"].items())
        bound = " - won every anchor game: the rating is a lower bound" if saturated(entry) else ""
        self.console.log(f"Elo @ iteration {entry['iteration']}: {round(entry['elo'])} ± {entry['elo_ci95']:.0f} "
                         f"(W/D/L {vs}){bound}")
        if "added_anchor" in entry:
            self.console.log(added_message(entry))
        if self.bar is not None:
            self.bar.update(self.task, elo=f"{round(entry['elo'])}")



def saturated(entry: dict[str, Any]) -> bool:
    """Every anchor game of this Elo evaluation was won: the anchors cannot measure the agent any more, and the
    fitted rating (pulled toward the prior) is only a lower bound."""
    return all(d == 0 and lo == 0 for _, d, lo in entry["vs"].values())


def run_selfplay_local(cfg: SelfPlayConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
                       console: Console | None = None, trainer: SelfPlayTrainer | None = None) -> SelfPlayResult:
    """Train until ``iterations`` (or ``stop_at`` iterations, the time limit, or a signal): the self-play family's
    single-process trainer. The Ray trainer (``runners.distributed.selfplay``) starts the actors and runs this
    same loop around its own ``trainer``.
    """
    console = console or Console(stderr=True)
    trainer = trainer or SelfPlayTrainer(cfg)  # validates the game and config before the run directory appears
    if resume:
        state = load(run_dir / CHECKPOINT_DIR / LATEST)
        if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("trainer"), dict):
            raise CheckpointError(f"{run_dir} holds no self-play checkpoint")
        if state["trainer"].get("game") != trainer.game.name:
            raise CheckpointError(f"run {run_dir} was trained on {state['trainer'].get('game')}, "
                                  f"not {trainer.game.name}")
        check_fits(cfg, state, run_dir)  # the network's shape cannot change
        load_into(trainer, state["trainer"], run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")
    if not resume:
        console.log(f"run directory: {run_dir}")
    s = cfg.selfplay
    end = s.iterations if stop_at is None else min(stop_at, s.iterations)
    if resume:  # rows a killed run logged after its last checkpoint are logged again from here
        evaluated = bool(trainer.elo_history) and trainer.elo_history[-1]["iteration"] == trainer.iteration
        trim_metrics(run_dir / "metrics.jsonl", "iteration", trainer.iteration, () if evaluated else ("eval",))
    logger = SelfPlayLogger(run_dir, cfg, trainer.iteration, console)
    t0 = time.perf_counter()
    interrupted = False
    try:
        with StopFlag() as stop:
            while trainer.iteration < end:
                logger.iteration(trainer.iterate())
                if s.eval_every > 0 and trainer.iteration % s.eval_every == 0 and (entry := trainer.evaluate()):
                    logger.evaluation(entry)
                if s.checkpoint_every > 0 and trainer.iteration % s.checkpoint_every == 0:
                    save_selfplay(trainer, run_dir, final=False)
                if stop.raised:
                    interrupted = True
                    break
                if s.time_limit_s > 0 and time.perf_counter() - t0 >= s.time_limit_s:
                    break
            if not interrupted and s.eval_every > 0 and (not trainer.elo_history or
                                                         trainer.elo_history[-1]["iteration"] != trainer.iteration):
                save_selfplay(trainer, run_dir, final=False)  # the final Elo games take a while: keep the run first
                if entry := trainer.evaluate():  # None: a signal stopped the games
                    logger.evaluation(entry)
            save_selfplay(trainer, run_dir, final=not interrupted)  # a signal here lets the writes finish
        plot_elo(trainer.elo_history, run_dir / "elo_curve.png", f"{cfg.preset} on {cfg.game}")
    finally:
        logger.close()
    result = SelfPlayResult(trainer.iteration, trainer.games, time.perf_counter() - t0,
                            trainer.elo_history[-1] if trainer.elo_history else None,
                            interrupted or stop.signum is not None, signum=stop.signum)
    print_summary(console, cfg, run_dir, result)
    return result


def plot_elo(history: Sequence[dict[str, Any]], out: Path, title: str) -> Path | None:
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    games = [h["games"] for h in history]
    ax.errorbar(games, [h["elo"] for h in history], yerr=[h["elo_ci95"] for h in history], marker="o", ms=3,
                capsize=2, label="alphazero")
    bounds = [h for h in history if saturated(h)]
    if bounds:
        ax.plot([h["games"] for h in bounds], [h["elo"] for h in bounds], "^", ms=8, color="tab:red",
                label="won every anchor game: a lower bound")
        ax.legend(loc="lower right", fontsize=8)
    # One dashed line per anchor from the evaluation it first played in: grown anchors start part way along.
    anchors: dict[str, tuple[list[int], list[float]]] = {}
    for h in history:
        for name, elo in h["anchor_elo"].items():
            xs, ys = anchors.setdefault(name, ([], []))
            xs.append(h["games"])
            ys.append(elo)
    for name, (xs, ys) in anchors.items():
        if len(xs) == 1:
            ax.plot(xs, ys, "_", ms=12, color="gray")
        ax.plot(xs, ys, ls="--", lw=1, color="gray")
        ax.text(xs[0], ys[0], f" {name}", va="bottom", fontsize=8, color="gray")
    ax.set_xlabel("self-play games")
    ax.set_ylabel("Elo (95% CI)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def print_summary(console: Console, cfg: SelfPlayConfig, run_dir: Path, result: SelfPlayResult) -> None:
    title = ("interrupted: resume with arena selfplay --resume " + str(run_dir)) if result.interrupted \
        else "self-play finished"
    rows = [("preset / game", f"{cfg.preset} / {cfg.game}"),
            ("iterations / games", f"{result.iterations:,} / {result.games:,}"),
            ("wall time", f"{result.seconds:.1f} s")]
    if result.last_elo is not None:
        e = result.last_elo
        rows.append(("Elo", f"{round(e['elo'])} ± {e['elo_ci95']:.0f} (anchor {cfg.selfplay.anchors[0]} = 0)"))
    print_table(console, title, [*rows, ("run directory", str(run_dir))])
