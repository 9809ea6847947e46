"""Learning tests (slow): fixed seeds, reward thresholds. DQN (the default preset, what `make train`
runs), Double+Dueling DQN and Rainbow each solve CartPole-v1 (eval mean >= 475 over 10 episodes)
within 50,000 env steps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runners.config import LogConfig
from runners.presets import PRESETS
from runners.train import train


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["dqn-cartpole", "double-dueling-cartpole", "rainbow-cartpole"])
def test_solves_cartpole_within_50k_steps(preset: str, tmp_path: Path) -> None:
    cfg = PRESETS[preset]()
    assert cfg.runner.total_steps == 50_000 and cfg.runner.eval_episodes == 10
    cfg = replace(cfg, runner=replace(cfg.runner, seed=0, torch_threads=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = train(cfg, tmp_path)
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    best = max(r["eval_mean"] for r in evals if r["kind"] == "eval")
    assert result.steps <= 50_000
    assert best >= 475.0, f"best eval mean {best:.1f} < 475"
    assert result.last_eval is not None and result.last_eval.mean >= 475.0  # the saved model is the solver
