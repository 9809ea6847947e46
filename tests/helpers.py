"""Small config builders shared by runner tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from runners.config import LogConfig, TrainConfig
from runners.presets import PRESETS


def quick(preset: str, run_dir: Path, total_steps: int = 200, **runner: int) -> TrainConfig:
    """``preset`` shrunk to a few hundred steps: small replay, early learning, no wandb or progress bar."""
    cfg = PRESETS[preset]()
    learning_starts = max(cfg.agent.batch_size, 64)
    return replace(
        cfg,
        replay=replace(cfg.replay, capacity=max(1_000, learning_starts * 4), learning_starts=learning_starts),
        runner=replace(cfg.runner, total_steps=total_steps, eval_every=0, eval_episodes=2,
                       checkpoint_every=runner.get("checkpoint_every", 0), torch_threads=1),
        log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=50),
    )
