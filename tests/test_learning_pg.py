"""Learning tests (slow): fixed seeds, reward thresholds. REINFORCE with a learned value baseline solves
CartPole-v1 (eval mean >= 475 over 10 episodes) within 200,000 env steps, PPO within 50,000."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runners.api import train
from runners.families.common import LogConfig
from runners.families.pg import PGTrainConfig
from runners.families.registry import PRESETS
from tests.helpers import best_eval, steps_to


@pytest.mark.slow
@pytest.mark.parametrize("preset,budget", [("reinforce-cartpole", 200_000), ("ppo-cartpole", 50_000)])
def test_pg_solves_cartpole(preset: str, budget: int, tmp_path: Path, learning_seed: int,
                            learning_report: dict[str, object]) -> None:
    cfg = PRESETS[preset]()
    assert isinstance(cfg, PGTrainConfig)
    assert cfg.runner.total_steps == budget and cfg.runner.eval_episodes == 10
    if cfg.algo == "reinforce":
        assert cfg.reinforce.baseline == "value"
    cfg = replace(cfg, runner=replace(cfg.runner, seed=learning_seed, torch_threads=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = train(cfg, tmp_path)
    best = best_eval(tmp_path)
    learning_report.update(best=best, steps_to_threshold=steps_to(tmp_path, 475.0), steps=result.steps)
    assert result.steps <= budget
    assert best >= 475.0, f"best eval mean {best:.1f} < 475"
    assert result.last_eval is not None and result.last_eval.mean >= 475.0  # the saved model is the solver
