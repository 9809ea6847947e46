"""Learning tests (slow): fixed seeds, reward thresholds. DQN (the default preset, what `make train`
runs), Double+Dueling DQN and Rainbow each solve CartPole-v1 (eval mean >= 475 over 10 episodes)
within 50,000 env steps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runners.api import train
from runners.families.common import LogConfig
from runners.families.registry import PRESETS
from tests.helpers import best_eval, steps_to


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["dqn-cartpole", "double-dueling-cartpole", "rainbow-cartpole"])
def test_solves_cartpole_within_50k_steps(preset: str, tmp_path: Path, learning_seed: int,
                                          learning_report: dict[str, object]) -> None:
    cfg = PRESETS[preset]()
    assert cfg.runner.total_steps == 50_000 and cfg.runner.eval_episodes == 10
    cfg = replace(cfg, runner=replace(cfg.runner, seed=learning_seed, torch_threads=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = train(cfg, tmp_path)
    best = best_eval(tmp_path)
    learning_report.update(best=best, steps_to_threshold=steps_to(tmp_path, 475.0), steps=result.steps)
    assert result.steps <= 50_000
    assert best >= 475.0, f"best eval mean {best:.1f} < 475"
    assert result.last_eval is not None and result.last_eval.mean >= 475.0  # the saved model is the solver
