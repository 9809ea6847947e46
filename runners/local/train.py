"""One training run: run directory, logger, trainer, checkpoints, curve and summary.

``train`` dispatches on the config's type: ``TrainConfig`` builds the DQN-family ``Trainer``,
``PGTrainConfig`` the on-policy ``PGTrainer``; both run in ``runners.loop.run``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from agents.base import RewardModel
from runners.checkpoint import CheckpointError, load_trainer_state, save_trainer
from runners.config import TrainConfig, save_config, to_dict
from runners.imitation import gail_setup, train_bc
from runners.logging import NullLogger, RunLogger, trim_metrics
from runners.loop import RunResult, Trainer, run
from runners.onpolicy import PGTrainer
from runners.pg_config import PGTrainConfig
from runners.plot import plot_runs
from runners.resume import check_fits, load_into
from runners.validation import validate_config


def default_run_dir(cfg: TrainConfig | PGTrainConfig) -> Path:
    env = cfg.env.id.replace("/", "_").replace(":", "_")
    return Path("runs") / f"{cfg.preset}-{env}-s{cfg.runner.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(cfg: TrainConfig | PGTrainConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
          console: Console | None = None, reward_model: RewardModel | None = None,
          policy_init: dict[str, torch.Tensor] | None = None) -> RunResult:
    """Train ``cfg`` into ``run_dir`` (resuming its latest checkpoint when ``resume``).

    Args:
        cfg: a DQN-family ``TrainConfig`` or a policy-gradient ``PGTrainConfig``.
        run_dir: the run directory (created; resumed from when ``resume``).
        resume: continue from ``run_dir``'s latest checkpoint.
        stop_at: stop after this many env steps (a checkpoint is written; tests of exact resume).
        console: where the summary and progress bar go.
        reward_model: policy-gradient runs only: learned rewards replace env rewards (GAIL).
        policy_init: policy-gradient runs only: ``ActorCritic.policy_state_dict`` weights to start from
            (behaviour cloning); ignored on resume, where the checkpoint has the weights.
    """
    validate_config(cfg)  # every field's declared range, before anything is built (CLI, resume and Python API)
    console = console or Console(stderr=True)
    if cfg.distributed.kind == "ray":  # env-worker actors and a learner actor (runners/distributed.py)
        from runners.distributed import check_config, train_distributed

        check_config(cfg)  # before demonstrations load or Ray starts: bad flags cost nothing
        if isinstance(cfg, PGTrainConfig) and cfg.imitation == "gail" and reward_model is None:
            # The discriminator travels to the learner actor, which relabels rewards (runners/distributed_onpolicy.py).
            reward_model, bc_init = gail_setup(cfg)
            policy_init = policy_init if policy_init is not None else bc_init
        return train_distributed(cfg, run_dir, resume=resume, stop_at=stop_at, console=console,
                                 reward_model=reward_model, policy_init=policy_init)
    if isinstance(cfg, PGTrainConfig) and cfg.imitation == "bc":
        if resume:
            raise CheckpointError("behaviour-cloning runs are short and not resumable: start a new run")
        return train_bc(cfg, run_dir, console)
    if isinstance(cfg, PGTrainConfig) and cfg.imitation == "gail" and reward_model is None:
        reward_model, bc_init = gail_setup(cfg)
        policy_init = policy_init if policy_init is not None else bc_init
    # A checkpoint of another family, or an override of an option its saved state depends on, is refused here.
    state = load_trainer_state(run_dir, lambda ckpt: check_fits(cfg, ckpt, run_dir)) if resume else None
    if state is not None and state.get("runner") == "ray":
        raise CheckpointError(f"{run_dir} was trained on Ray (its checkpoint holds no env or actor state for one "
                              "process): resume it with --runner ray")
    # Build (and so validate) everything before the run directory or the progress bar appear.
    video_dir = run_dir / "videos" if cfg.log.video else None
    trainer: Trainer | PGTrainer
    if isinstance(cfg, PGTrainConfig):
        trainer = PGTrainer(cfg, NullLogger(), video_dir=video_dir, reward_model=reward_model,
                            policy_init=None if resume else policy_init)
    else:
        if reward_model is not None or policy_init is not None:
            raise ValueError("a reward model or initial policy weights need a policy-gradient config")
        trainer = Trainer(cfg, NullLogger(), video_dir=video_dir)
    try:
        if state is not None:
            if state["env_id"] != trainer.spec.env_id:
                raise CheckpointError(f"checkpoint in {run_dir} is from env {state['env_id']}, "
                                      f"not {trainer.spec.env_id}")
            load_into(trainer, state, run_dir)
    except BaseException:
        trainer.close()
        raise
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.json")
    # The env's protocol (frame skip, sticky actions, reward clipping, ...) as the env itself reports it.
    env_spec = dataclasses.asdict(trainer.spec)
    (run_dir / "env_spec.json").write_text(json.dumps(env_spec, indent=2, default=str) + "\n")
    config = to_dict(cfg)
    start = trainer.step
    if resume:  # rows a killed run logged after its last checkpoint are logged again from here
        # At total_steps the checkpoint precedes the final evaluation, which the resumed run repeats.
        trim_metrics(run_dir / "metrics.jsonl", "step", start, ("eval",) if start >= cfg.runner.total_steps else ())
    logger = RunLogger(run_dir, {**config, "env_spec": env_spec}, cfg.runner.total_steps, start_step=start,
                       log_every=cfg.log.log_every,
                       progress=cfg.log.progress, wandb_mode=cfg.log.wandb, wandb_project=cfg.log.wandb_project,
                       console=console)
    trainer.logger = logger
    try:
        if state is not None and isinstance(trainer, Trainer) and "replay" not in state:
            console.log("replay was not saved with this checkpoint (over the memory budget): refilling it")
        if not resume:
            console.log(f"run directory: {run_dir}")
        result = run(trainer, lambda t, final: save_trainer(t, run_dir, final, config, env_spec), stop_at=stop_at)
        curve = plot_runs([run_dir], run_dir / "learning_curve.png", title=f"{cfg.preset} on {cfg.env.id}")
        logger.finish(_summary(result), [curve, run_dir / "checkpoints" / "model.pt"])
    finally:
        logger.close()
        trainer.close()
    _print_summary(console, cfg, run_dir, result)
    return result


def _summary(result: RunResult) -> dict[str, float]:
    out = {"steps": float(result.steps), "updates": float(result.updates), "seconds": result.seconds}
    if result.last_eval is not None:
        out.update(eval_mean=result.last_eval.mean, eval_std=result.last_eval.std)
    return out


def _print_summary(console: Console, cfg: TrainConfig | PGTrainConfig, run_dir: Path, result: RunResult) -> None:
    title = "run finished"
    if result.interrupted:  # a signal during the final evaluation comes after the last step: nothing to resume
        title = "final evaluation stopped early by a signal; model saved" if result.steps >= cfg.runner.total_steps \
            else "interrupted: resume with arena train --resume " + str(run_dir)
    table = Table(title=title, show_header=False)
    table.add_row("preset / env", f"{cfg.preset} / {cfg.env.id}")
    table.add_row("env steps / updates", f"{result.steps:,} / {result.updates:,}")
    table.add_row("wall time", f"{result.seconds:.1f} s")
    if result.last_eval is not None:
        e = result.last_eval
        table.add_row("last eval", f"{e.mean:.2f} ± {e.std:.2f} ({len(e.returns)} episodes @ {e.step:,} steps)")
    table.add_row("run directory", str(run_dir))
    console.print(table)
