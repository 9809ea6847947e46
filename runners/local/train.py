"""One single-process training run: run directory, logger, trainer, checkpoints, curve and summary.

``train_dqn`` and ``train_pg`` are the DQN and policy-gradient families' single-process trainers (the
registry names them, ``runners.api.train`` calls them); both build their trainer and hand it to ``train_with``,
which runs it in ``runners.local.loop.run``. The Ray runner shares the run directory's set-up
(``open_run_dir``), the logger (``run_logger``) and the summary (``summary``, ``print_summary``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from agents.base import RewardModel
from runners.families.common import save_config, to_dict
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.local.checkpoint import CheckpointError, load_trainer_state, save_trainer
from runners.local.dqn import DQNTrainer
from runners.local.logging import NullLogger, RunLogger, print_table, trim_metrics
from runners.local.loop import LoopTrainer, RunResult, run
from runners.local.pg import PGTrainer
from runners.local.plot import plot_runs
from runners.local.resume import check_fits, load_into

AnyConfig = TrainConfig | PGTrainConfig


def default_run_dir(cfg: Any) -> Path:
    env = cfg.env.id.replace("/", "_").replace(":", "_")
    return Path("runs") / f"{cfg.preset}-{env}-s{cfg.runner.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def train_dqn(cfg: TrainConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
              console: Console | None = None) -> RunResult:
    """The DQN family in one process (``DQNTrainer``)."""
    return train_with(lambda video_dir: DQNTrainer(cfg, NullLogger(), video_dir=video_dir), cfg, run_dir,
                      resume=resume, stop_at=stop_at, console=console)


def train_pg(cfg: PGTrainConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
             console: Console | None = None, reward_model: RewardModel | None = None,
             policy_init: dict[str, torch.Tensor] | None = None) -> RunResult:
    """REINFORCE or PPO in one process (``PGTrainer``); with a ``reward_model`` its rewards replace the env's
    (GAIL), and ``policy_init`` weights start the policy (ignored on resume: the checkpoint has the weights)."""
    return train_with(lambda video_dir: PGTrainer(cfg, NullLogger(), video_dir=video_dir, reward_model=reward_model,
                                                  policy_init=None if resume else policy_init),
                      cfg, run_dir, resume=resume, stop_at=stop_at, console=console)


def train_with(build: Callable[[Path | None], DQNTrainer | PGTrainer], cfg: AnyConfig, run_dir: Path,
               resume: bool = False, stop_at: int | None = None, console: Console | None = None) -> RunResult:
    """Run the trainer ``build(video_dir)`` makes: resume it, log, checkpoint, plot and summarise."""
    console = console or Console(stderr=True)
    # A checkpoint of another family, or an override of an option its saved state depends on, is refused here.
    state = load_trainer_state(run_dir, lambda ckpt: check_fits(cfg, ckpt, run_dir)) if resume else None
    if state is not None and state.get("runner") == "ray":
        raise CheckpointError(f"{run_dir} was trained on Ray (its checkpoint holds no env or actor state for one "
                              "process): resume it with --runner ray")
    # Build (and so validate) everything before the run directory or the progress bar appear.
    trainer = build(run_dir / "videos" if cfg.log.video else None)
    try:
        config, env_spec = open_run_dir(trainer, cfg, run_dir, state, resume)
    except BaseException:
        trainer.close()
        raise
    logger = run_logger(cfg, run_dir, config, env_spec, trainer.step, console)
    trainer.logger = logger
    try:
        if state is not None and isinstance(trainer, DQNTrainer) and "replay" not in state:
            console.log("replay was not saved with this checkpoint (over the memory budget): refilling it")
        if not resume:
            console.log(f"run directory: {run_dir}")
        result = run(trainer, lambda t, final: save_trainer(t, run_dir, final, config, env_spec), stop_at=stop_at)
        curve = plot_runs([run_dir], run_dir / "learning_curve.png", title=f"{cfg.preset} on {cfg.env.id}")
        logger.finish(summary(result), [curve, run_dir / "checkpoints" / "model.pt"])
    finally:
        logger.close()
        trainer.close()
    print_summary(console, cfg, run_dir, result)
    return result


def open_run_dir(trainer: LoopTrainer, cfg: AnyConfig, run_dir: Path, state: Mapping[str, Any] | None,
                 resume: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load ``state`` into ``trainer``, then write the run directory's config.json and env_spec.json and trim
    metrics.jsonl to the checkpoint's step. Returns the config and env spec as dicts (for logs and checkpoints)."""
    spec = trainer.spec
    if state is not None:
        if state["env_id"] != spec.env_id:
            raise CheckpointError(f"checkpoint in {run_dir} is from env {state['env_id']}, not {spec.env_id}")
        load_into(trainer, state, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.json")
    # The env's protocol (frame skip, sticky actions, reward clipping, ...) as the env itself reports it.
    env_spec = dataclasses.asdict(spec)
    (run_dir / "env_spec.json").write_text(json.dumps(env_spec, indent=2, default=str) + "\n")
    if resume:  # rows a killed run logged after its last checkpoint are logged again from here
        # At total_steps the checkpoint precedes the final evaluation, which the resumed run repeats.
        trim_metrics(run_dir / "metrics.jsonl", "step", trainer.step,
                     ("eval",) if trainer.step >= cfg.runner.total_steps else ())
    return to_dict(cfg), env_spec


def run_logger(cfg: AnyConfig, run_dir: Path, config: dict[str, Any], env_spec: dict[str, Any], start: int,
               console: Console) -> RunLogger:
    """The run's console, metrics.jsonl and wandb logger, continuing at env step ``start``."""
    return RunLogger(run_dir, {**config, "env_spec": env_spec}, cfg.runner.total_steps, start_step=start,
                     log_every=cfg.log.log_every, progress=cfg.log.progress, wandb_mode=cfg.log.wandb,
                     wandb_project=cfg.log.wandb_project, console=console)


def summary(result: RunResult) -> dict[str, float]:
    """The run's totals for wandb's summary."""
    out = {"steps": float(result.steps), "updates": float(result.updates), "seconds": result.seconds}
    if result.last_eval is not None:
        out.update(eval_mean=result.last_eval.mean, eval_std=result.last_eval.std)
    return out


def print_summary(console: Console, cfg: AnyConfig, run_dir: Path, result: RunResult) -> None:
    """The table printed when a run ends (or stops on a signal, with the command that resumes it)."""
    title = "run finished"
    if result.interrupted:  # a signal during the final evaluation comes after the last step: nothing to resume
        title = "final evaluation stopped early by a signal; model saved" if result.steps >= cfg.runner.total_steps \
            else "interrupted: resume with arena train --resume " + str(run_dir)
    rows = [("preset / env", f"{cfg.preset} / {cfg.env.id}"),
            ("env steps / updates", f"{result.steps:,} / {result.updates:,}"), ("wall time", f"{result.seconds:.1f} s")]
    if result.last_eval is not None:
        e = result.last_eval
        rows.append(("last eval", f"{e.mean:.2f} ± {e.std:.2f} ({len(e.returns)} episodes @ {e.step:,} steps)"))
    print_table(console, title, [*rows, ("run directory", str(run_dir))])
