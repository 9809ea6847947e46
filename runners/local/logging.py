"""Run logging: console (rich progress bar and summary), JSONL metrics, and wandb.

wandb is offline by default (no network, no account): runs land in RUN_DIR/wandb and can be
synced later with ``wandb sync``. ``--log.wandb online`` uses the user's wandb login.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from runners.local.evaluate import EvalResult


class Logger(Protocol):
    def episode(self, step: int, ret: float, length: int) -> None: ...
    def progress(self, step: int, metrics: dict[str, float], epsilon: float | None, recent: deque[float]) -> None: ...
    def evaluation(self, step: int, result: EvalResult) -> None: ...
    def close(self) -> None: ...


class NullLogger:
    """Logs nothing (tests, evaluation-only tools)."""

    def episode(self, step: int, ret: float, length: int) -> None:
        pass

    def progress(self, step: int, metrics: dict[str, float], epsilon: float | None, recent: deque[float]) -> None:
        pass

    def evaluation(self, step: int, result: EvalResult) -> None:
        pass

    def close(self) -> None:
        pass


class RunLogger:
    """Writes RUN_DIR/metrics.jsonl, drives the progress bar and mirrors everything to wandb."""

    def __init__(self, run_dir: Path, config: dict[str, Any], total_steps: int, start_step: int = 0,
                 log_every: int = 1_000, progress: bool = True, wandb_mode: str = "off",
                 wandb_project: str = "arena", console: Console | None = None) -> None:
        self.run_dir = run_dir
        self.file = (run_dir / "metrics.jsonl").open("a", buffering=1)
        self.log_every = max(log_every, 1)
        self.next_log = (start_step // self.log_every + 1) * self.log_every
        self.console = console or Console(stderr=True)
        self.start_step, self.total_steps = start_step, total_steps
        self.t0 = time.perf_counter()
        self.sps_window: deque[tuple[float, int]] = deque(maxlen=20)
        self.last_bar = 0.0
        self.last_step = start_step
        self.wandb = init_wandb(run_dir, config, wandb_mode, wandb_project) if wandb_mode != "off" else None
        self.bar: Progress | None = None
        if progress:
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                                TextColumn("{task.fields[sps]:>6.0f} SPS"), TextColumn("return {task.fields[ret]}"),
                                TimeRemainingColumn(), console=self.console, transient=False)
            self.task = self.bar.add_task("train", total=total_steps, completed=start_step, sps=0.0, ret="-")
            self.bar.start()

    def _write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in record.items() if k not in ("kind", "step", "returns")},
                           step=record["step"])

    def sps(self, step: int) -> float:
        now = time.perf_counter()
        self.sps_window.append((now, step))
        (t0, s0), (t1, s1) = self.sps_window[0], self.sps_window[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def episode(self, step: int, ret: float, length: int) -> None:
        self._write({"kind": "episode", "step": step, "return": ret, "length": length,
                     "time": round(time.perf_counter() - self.t0, 3)})

    def progress(self, step: int, metrics: dict[str, float], epsilon: float | None, recent: deque[float]) -> None:
        """A ``train`` record every ``log_every`` steps (``epsilon`` omitted when None) and the progress bar."""
        now = time.perf_counter()
        self.last_step = step
        if step >= self.next_log:
            self.next_log = (step // self.log_every + 1) * self.log_every
            record: dict[str, Any] = {"kind": "train", "step": step, "sps": round(self.sps(step), 1),
                                      "time": round(now - self.t0, 3)}
            if epsilon is not None:
                record["epsilon"] = epsilon
            record.update({k: round(v, 6) for k, v in metrics.items()})
            if recent:
                record["recent_return"] = float(np.mean(recent))
            self._write(record)
        if self.bar is not None and now - self.last_bar > 0.25:
            self.last_bar = now
            ret = f"{np.mean(recent):8.2f}" if recent else "       -"
            self.bar.update(self.task, completed=step, sps=self.sps(step), ret=ret)

    def eval_progress(self, done: int, episodes: int, steps: int) -> None:
        """The bar shows an evaluation in progress (an Atari evaluation can run for minutes)."""
        now = time.perf_counter()
        if self.bar is not None and (now - self.last_bar > 0.25 or done == episodes):
            self.last_bar = now
            self.bar.update(self.task, description=f"eval {done}/{episodes} episodes, {steps:,} steps")

    def evaluation(self, step: int, result: EvalResult) -> None:
        record: dict[str, Any] = {"kind": "eval", "step": step, "eval_mean": result.mean, "eval_std": result.std,
                                  "eval_min": result.min, "eval_max": result.max, "returns": list(result.returns),
                                  "eval_epsilon": result.epsilon, "time": round(time.perf_counter() - self.t0, 3)}
        if result.truncated:  # cut at --runner.eval-max-steps (or by a signal): returns so far
            record["eval_truncated"] = result.truncated
        if result.interrupted:
            record["eval_interrupted"] = True
        self._write(record)
        if self.bar is not None:
            self.bar.update(self.task, description="train")
        cut = f", {result.truncated} cut short (truncated)" if result.truncated else ""
        stopped = " (stopped early by a signal)" if result.interrupted else ""
        self.console.log(f"eval @ {step:,} steps: return {result.mean:.2f} ± {result.std:.2f} "
                         f"over {len(result.returns)} episodes{cut}{stopped}")
        if self.wandb is not None and result.video is not None:
            import wandb
            self.wandb.log({"eval_video": wandb.Video(result.video, format="mp4")}, step=step)

    def finish(self, summary: dict[str, Any], files: list[Path]) -> None:
        """Record the summary, learning curve and final checkpoint (as an artifact) in wandb."""
        if self.wandb is None:
            return
        import wandb
        self.wandb.summary.update(summary)
        for f in files:
            if f.suffix == ".png":
                self.wandb.log({"learning_curve": wandb.Image(str(f))})
            elif f.exists():
                art = wandb.Artifact(f"model-{self.wandb.id}", type="model")
                art.add_file(str(f))
                self.wandb.log_artifact(art)

    def close(self) -> None:
        close_outputs(self, self.last_step)


def close_outputs(logger: Any, completed: int) -> None:
    """Close a run logger's outputs, each once: its progress bar (ending where the run ended: ``completed``),
    its metrics file and its wandb run (``bar``, ``task``, ``file``, ``wandb`` attributes)."""
    if logger.bar is not None:
        logger.bar.update(logger.task, completed=completed)
        logger.bar.stop()
        logger.bar = None
    logger.file.close()
    if logger.wandb is not None:
        logger.wandb.finish()
        logger.wandb = None


class IterationLogger:
    """An iteration-stepped run's outputs: RUN_DIR/metrics.jsonl (one JSON row per record, with its wall time),
    wandb when ``log.wandb`` asks (``config`` as the run's config; numeric fields at step
    ``record["iteration"]``), and a progress bar (``log.progress``) of ``columns`` between the bar and the time
    left, whose fields start at ``fields``. Self-play and leagues log through it."""

    def __init__(self, run_dir: Path, config: dict[str, Any], log: Any, start_iteration: int, total: int,
                 console: Console, label: str, columns: Sequence[TextColumn], fields: dict[str, Any]) -> None:
        self.file = (run_dir / "metrics.jsonl").open("a", buffering=1)
        self.console = console
        self.t0 = time.perf_counter()
        self.wandb = init_wandb(run_dir, config, log.wandb, log.wandb_project) if log.wandb != "off" else None
        self.bar: Progress | None = None
        self.last = start_iteration
        if log.progress:
            self.bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), TaskProgressColumn(), *columns,
                                TimeRemainingColumn(), console=console)
            self.task = self.bar.add_task(label, total=total, completed=start_iteration, **fields)
            self.bar.start()

    def write(self, record: dict[str, Any], prefix: str = "") -> None:
        """One metrics row; on wandb its numbers (not booleans) as ``prefix + name``."""
        record = {**record, "time": round(time.perf_counter() - self.t0, 3)}
        self.file.write(json.dumps(record) + "\n")
        if self.wandb is not None:
            flat = {prefix + k: v for k, v in record.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "iteration"}
            self.wandb.log(flat, step=int(record["iteration"]))

    def close(self) -> None:
        close_outputs(self, self.last)


def print_table(console: Console, title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table (a run's summary) on ``console``."""
    table = Table(title=title, show_header=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def init_wandb(run_dir: Path, config: dict[str, Any], mode: str, project: str) -> Any:
    """A wandb run in ``run_dir`` (``mode``: offline or online). wandb is imported here and in ``log_tables``
    only: the rest of arena logs through these functions."""
    import wandb
    os.environ.setdefault("WANDB_SILENT", "true")
    return wandb.init(project=project, dir=str(run_dir), config=config, mode=mode,  # type: ignore[arg-type]
                      name=run_dir.name, reinit="finish_previous")


def log_tables(run: Any, tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
               images: Mapping[str, Path] | None = None, summary: Mapping[str, float] | None = None) -> bool:
    """Log ``tables`` (key -> (columns, rows)), ``images`` (key -> PNG, when it exists) and ``summary`` values to
    ``run``, or to the active wandb run; False when there is none."""
    import wandb

    run = run if run is not None else wandb.run
    if run is None:
        return False
    record: dict[str, Any] = {}
    for key, (columns, rows) in tables.items():
        table = wandb.Table(columns=list(columns))
        for row in rows:
            table.add_data(*row)
        record[key] = table
    for key, png in (images or {}).items():
        if png.exists():
            record[key] = wandb.Image(str(png))
    run.log(record)
    if summary:
        run.summary.update(dict(summary))
    return True


def trim_metrics(path: Path, key: str, last: int, redo_at_last: tuple[str, ...] = ()) -> int:
    """Drop the rows of ``path`` whose ``key`` (``step``, or self-play's ``iteration``) is past ``last``.

    A resume continues from its checkpoint at ``last``, so the rows a killed run wrote after that checkpoint
    are written again: dropped here, before the logger appends, each step is in the file (and in curves
    and wandb) once. Rows of a kind in ``redo_at_last`` go at ``last`` itself too (an evaluation that ran
    after the checkpoint at ``last`` and runs again on resume). A line torn by the kill goes too. The kept
    rows are written to a temp file that is renamed over ``path``: a crash leaves the old file or the new
    one, never half of one. Returns the number of rows dropped.
    """
    if not path.is_file():
        return 0
    keep: list[str] = []
    dropped, rewrite = 0, False
    with path.open() as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:  # torn or empty
                dropped += 1
                continue
            value = row.get(key) if isinstance(row, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and (
                    value > last or (value == last and row.get("kind") in redo_at_last)):
                dropped += 1
                continue
            rewrite |= not line.endswith("\n")  # the next append would join this row's line
            keep.append(line if line.endswith("\n") else line + "\n")
    if dropped or rewrite:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with tmp.open("w") as f:
            f.writelines(keep)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped
