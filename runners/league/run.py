"""One league run in one process: run directory, progress bar, JSONL / wandb metrics, checkpoints, exact resume.

metrics.jsonl rows (each with ``iteration``): ``learner`` (one per learner per iteration: opponent, the role's
branch, games, wins / draws / losses, positions, loss, snapshot and reset), ``iteration`` (games so far, pool
size, and every ``elo_every`` iterations the league's own Elo over the payoff matrix) and ``eval`` (a main
agent's Elo against the anchors, as self-play logs it). At the end ``league_elo.png`` plots the league Elo fits
(``runners.league.plots``) beside ``elo_curve.png`` (the first main agent against the anchors).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import TextColumn

from runners.families.common import to_dict
from runners.families.league import LeagueConfig
from runners.league.checkpoint import FORMAT, save_league
from runners.league.plots import league_elo_rows, league_elo_table, plot_league_elo
from runners.league.ppo_trainer import AnyLeagueTrainer, make_league_trainer
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, CheckpointError, load
from runners.local.logging import IterationLogger, log_tables, print_table, trim_metrics
from runners.local.resume import check_fits, load_into
from runners.local.signals import StopFlag
from runners.selfplay.anchors import added_message
from runners.selfplay.run import plot_elo, saturated


@dataclass(frozen=True)
class LeagueResult:
    iterations: int
    games: int
    seconds: float
    last_elo: dict[str, Any] | None
    """The last anchor Elo entry of a main agent (None: no evaluation ran)."""
    league_elo: dict[str, list[float]]
    """Every player's ``[Elo, 95% half-width]`` over the payoff matrix at the end."""
    pool: int
    interrupted: bool
    signum: int | None = None
    """SIGINT / SIGTERM that stopped the run; the CLI exits with 128 + signum."""


class LeagueLogger(IterationLogger):
    """RUN_DIR/metrics.jsonl, a progress bar (games, pool, main's loss and Elo) and wandb when asked."""

    def __init__(self, run_dir: Path, cfg: LeagueConfig, start_iteration: int, console: Console) -> None:
        super().__init__(run_dir, to_dict(cfg), cfg.log, start_iteration, cfg.selfplay.iterations, console, "league",
                         [TextColumn("{task.fields[games]:,} games"), TextColumn("pool {task.fields[pool]}"),
                          TextColumn("loss {task.fields[loss]}"), TextColumn("Elo {task.fields[elo]}")],
                         {"games": 0, "pool": 0, "loss": "-", "elo": "-"})

    def iteration(self, trainer: AnyLeagueTrainer, rows: list[dict[str, Any]], league_elo: dict[str, Any] | None
                  ) -> None:
        self.last = trainer.iteration
        for row in rows:
            clean = {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
            self.write({"kind": "learner", "iteration": trainer.iteration, **clean}, prefix=f"{row['learner']}/")
        record: dict[str, Any] = {"kind": "iteration", "iteration": trainer.iteration, "games": trainer.games,
                                  "pool": len(trainer.pool), **trainer.iteration_metrics()}
        if league_elo is not None:
            record["league_elo"] = league_elo
        self.write(record)
        if league_elo is not None and self.wandb is not None:  # the current learners' curves, as scalars
            self.wandb.log({f"league_elo/{k}": league_elo[k][0] for k in trainer.by_name} |
                           {f"league_elo_ci95/{k}": league_elo[k][1] for k in trainer.by_name},
                           step=trainer.iteration)
        if self.bar is not None:
            main = rows[0]
            loss = f"{main['loss']:.3f}" if "loss" in main else "-"
            self.bar.update(self.task, completed=self.last, games=trainer.games, pool=len(trainer.pool), loss=loss)

    def evaluation(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self.write({"kind": "eval", **entry}, prefix=f"{entry['player']}/")
            vs = ", ".join(f"{k} {w}/{d}/{lo}" for k, (w, d, lo) in entry["vs"].items())
            bound = " - won every anchor game: the rating is a lower bound" if saturated(entry) else ""
            self.console.log(f"{entry['player']} Elo @ iteration {entry['iteration']}: {round(entry['elo'])} ± "
                             f"{entry['elo_ci95']:.0f} (W/D/L {vs}){bound}")
        for entry in entries:
            if "added_anchor" in entry:
                self.console.log(added_message(entry))
        if self.bar is not None and entries:
            self.bar.update(self.task, elo=f"{round(entries[0]['elo'])}")

    def league_elo_plot(self, trainer: AnyLeagueTrainer, run_dir: Path, title: str) -> Path | None:
        """``league_elo.png`` from every fit in ``metrics.jsonl``, and to wandb (every fit's table and the plot)."""
        rows = league_elo_rows(run_dir / "metrics.jsonl")  # line-buffered: every row written so far is there
        png = plot_league_elo(rows, [x.name for x in trainer.learners], trainer.parents, run_dir / "league_elo.png",
                              title)
        if self.wandb is not None and png is not None:
            log_tables(self.wandb, {"league/elo": league_elo_table(rows)}, images={"league/elo_plot": png})
        return png



def resume_into(trainer: AnyLeagueTrainer, cfg: LeagueConfig, run_dir: Path) -> None:
    """Load ``run_dir``'s latest league checkpoint into ``trainer``; one-line CheckpointError when it cannot."""
    state = load(run_dir / CHECKPOINT_DIR / LATEST)
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("trainer"), dict):
        raise CheckpointError(f"{run_dir} holds no league checkpoint")
    if state["trainer"].get("game") != trainer.game.name:
        raise CheckpointError(f"run {run_dir} was trained on {state['trainer'].get('game')}, not {trainer.game.name}")
    check_fits(cfg, state, run_dir)  # the networks' shapes and the learners cannot change
    load_into(trainer, state["trainer"], run_dir)


def run_league_local(cfg: LeagueConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None,
                     console: Console | None = None, trainer: AnyLeagueTrainer | None = None) -> LeagueResult:
    """Run the league until ``iterations`` (or ``stop_at`` iterations, the time limit, or a signal): the league
    family's single-process trainer. The Ray league (``runners.distributed.league``) starts its actors and runs
    this same loop around its own ``trainer``."""
    console = console or Console(stderr=True)
    trainer = trainer or make_league_trainer(cfg)  # validates the game and config before the run directory appears
    if resume:
        resume_into(trainer, cfg, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n")
    if not resume:
        console.log(f"run directory: {run_dir}")
    s, lg = cfg.selfplay, cfg.league
    end = s.iterations if stop_at is None else min(stop_at, s.iterations)

    def evaluated() -> bool:
        return bool(trainer.elo_history) and trainer.elo_history[-1]["iteration"] == trainer.iteration

    if resume:  # rows a killed run logged after its last checkpoint are logged again from here
        trim_metrics(run_dir / "metrics.jsonl", "iteration", trainer.iteration, () if evaluated() else ("eval",))
    logger = LeagueLogger(run_dir, cfg, trainer.iteration, console)
    t0 = time.perf_counter()
    interrupted = False
    try:
        with StopFlag() as stop:
            while trainer.iteration < end:
                rows = trainer.iterate()
                elo_now = lg.elo_every > 0 and trainer.iteration % lg.elo_every == 0
                logger.iteration(trainer, rows, trainer.league_elo() if elo_now else None)
                if s.eval_every > 0 and trainer.iteration % s.eval_every == 0 and (entries := trainer.evaluate()):
                    logger.evaluation(entries)
                if s.checkpoint_every > 0 and trainer.iteration % s.checkpoint_every == 0:
                    save_league(trainer, run_dir, final=False)
                if stop.raised:
                    interrupted = True
                    break
                if s.time_limit_s > 0 and time.perf_counter() - t0 >= s.time_limit_s:
                    break
            if not interrupted and s.eval_every > 0 and not evaluated():
                save_league(trainer, run_dir, final=False)  # the final Elo games take a while: keep the run first
                if entries := trainer.evaluate():  # None: a signal stopped the games
                    logger.evaluation(entries)
            save_league(trainer, run_dir, final=not interrupted)  # a signal here lets the writes finish
        first = [e for e in trainer.elo_history if e["player"] == trainer.main_agents[0].name]
        plot_elo(first, run_dir / "elo_curve.png", f"{cfg.preset} on {cfg.game}: {trainer.main_agents[0].name}")
        logger.league_elo_plot(trainer, run_dir, f"{cfg.preset} on {cfg.game}: league Elo over the payoff matrix")
    finally:
        logger.close()
    result = LeagueResult(trainer.iteration, trainer.games, time.perf_counter() - t0,
                          trainer.elo_history[-1] if trainer.elo_history else None, trainer.league_elo(),
                          len(trainer.pool), interrupted or stop.signum is not None, signum=stop.signum)
    print_summary(console, cfg, run_dir, result)
    return result


def print_summary(console: Console, cfg: LeagueConfig, run_dir: Path, result: LeagueResult) -> None:
    title = ("interrupted: resume with arena league --resume " + str(run_dir)) if result.interrupted \
        else "league finished"
    top = sorted(result.league_elo.items(), key=lambda kv: -kv[1][0])[:5]
    rows = [("preset / game", f"{cfg.preset} / {cfg.game}"),
            ("iterations / games", f"{result.iterations:,} / {result.games:,}"),
            ("pool", f"{result.pool} snapshots"),
            ("league Elo (top 5)", ", ".join(f"{n} {round(r)}" for n, (r, _) in top)),
            ("wall time", f"{result.seconds:.1f} s")]
    if result.last_elo is not None:
        e = result.last_elo
        rows.append((f"{e['player']} Elo", f"{round(e['elo'])} ± {e['elo_ci95']:.0f} "
                                           f"(anchor {cfg.selfplay.anchors[0]} = 0)"))
    print_table(console, title, [*rows, ("run directory", str(run_dir))])
