"""Learning tests (slow): fixed seeds, reward thresholds. REINFORCE with a learned value baseline solves
CartPole-v1 (eval mean >= 475 over 10 episodes) within 200,000 env steps, PPO within 50,000."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runners.config import LogConfig
from runners.pg_config import PGTrainConfig
from runners.presets import PRESETS
from runners.train import train


@pytest.mark.slow
@pytest.mark.parametrize("preset,budget", [("reinforce-cartpole", 200_000), ("ppo-cartpole", 50_000)])
def test_pg_solves_cartpole(preset: str, budget: int, tmp_path: Path) -> None:
    cfg = PRESETS[preset]()
    assert isinstance(cfg, PGTrainConfig)
    assert cfg.runner.total_steps == budget and cfg.runner.eval_episodes == 10
    if cfg.algo == "reinforce":
        assert cfg.reinforce.baseline == "value"
    cfg = replace(cfg, runner=replace(cfg.runner, seed=0, torch_threads=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = train(cfg, tmp_path)
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    best = max(r["eval_mean"] for r in evals if r["kind"] == "eval")
    assert result.steps <= budget
    assert best >= 475.0, f"best eval mean {best:.1f} < 475"
    assert result.last_eval is not None and result.last_eval.mean >= 475.0  # the saved model is the solver
