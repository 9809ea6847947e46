"""Small config builders shared by runner tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from runners.config import LogConfig, TrainConfig
from runners.pg_config import PGTrainConfig
from runners.presets import PRESETS


def quick(preset: str, run_dir: Path, total_steps: int = 200, **runner: int) -> TrainConfig:
    """``preset`` shrunk to a few hundred steps: small replay, early learning, no wandb or progress bar."""
    cfg = PRESETS[preset]()
    assert isinstance(cfg, TrainConfig), f"{preset} is not a DQN-family preset; use quick_pg"
    learning_starts = max(cfg.agent.batch_size, 64)
    return replace(
        cfg,
        replay=replace(cfg.replay, capacity=max(1_000, learning_starts * 4), learning_starts=learning_starts),
        runner=replace(cfg.runner, total_steps=total_steps, eval_every=0, eval_episodes=2,
                       checkpoint_every=runner.get("checkpoint_every", 0), torch_threads=1),
        log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=50),
    )


def quick_pg(preset: str, run_dir: Path, total_steps: int = 200, **runner: int) -> PGTrainConfig:
    """A policy-gradient ``preset`` shrunk to a few hundred steps: short rollouts and batches, no target return."""
    cfg = PRESETS[preset]()
    assert isinstance(cfg, PGTrainConfig), f"{preset} is not a policy-gradient preset; use quick"
    n = cfg.env.num_envs
    return replace(
        cfg,
        ppo=replace(cfg.ppo, rollout_length=max(min(cfg.ppo.rollout_length, total_steps // (2 * n)), 4),
                    num_minibatches=min(cfg.ppo.num_minibatches, 4)),
        reinforce=replace(cfg.reinforce, batch_steps=min(cfg.reinforce.batch_steps, 100)),
        runner=replace(cfg.runner, total_steps=total_steps, eval_every=0, eval_episodes=2, target_return=None,
                       checkpoint_every=runner.get("checkpoint_every", 0), torch_threads=1),
        log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=50),
    )


def quick_any(preset: str, run_dir: Path, total_steps: int = 200) -> TrainConfig | PGTrainConfig:
    """``quick`` or ``quick_pg``, by the preset's family."""
    if isinstance(PRESETS[preset](), PGTrainConfig):
        return quick_pg(preset, run_dir, total_steps)
    return quick(preset, run_dir, total_steps)
