"""Learning test (slow, fixed seed): on CartPole with the velocities hidden, PPO with the attention torso
reaches eval mean >= 400 within 300,000 env steps, while the same agent with its memory core removed (MLP,
no frame stack) stays below 200 over the same budget: memory is what makes the difference."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runners.config import LogConfig
from runners.pg_presets import ppo_attention_cartpole_masked
from runners.train import train


def _best_eval(run_dir: Path) -> float:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return max(r["eval_mean"] for r in records if r["kind"] == "eval")


@pytest.mark.slow
def test_attention_ppo_solves_masked_cartpole_and_mlp_does_not(tmp_path: Path) -> None:
    base = ppo_attention_cartpole_masked()
    assert base.env.id == "arena/CartPoleMasked-v1" and base.torso.core == "attention"
    cfg = replace(base, runner=replace(base.runner, seed=0, total_steps=300_000, target_return=400.0),
                  log=LogConfig(run_dir=str(tmp_path / "attention"), wandb="off", progress=False))
    result = train(cfg, tmp_path / "attention")
    assert result.steps <= 300_000 and _best_eval(tmp_path / "attention") >= 400.0

    mlp = replace(cfg, torso=replace(cfg.torso, core="none"),
                  log=replace(cfg.log, run_dir=str(tmp_path / "mlp")))
    train(mlp, tmp_path / "mlp")
    assert _best_eval(tmp_path / "mlp") < 200.0


@pytest.mark.slow
def test_lstm_and_attention_reach_the_recall_optimum(tmp_path: Path) -> None:
    """arena/Recall-v0: the cue shows only at the first step; the optimum is 1.0, a memoryless policy 1/4."""
    from runners.pg_presets import ppo_lstm_cartpole_masked

    runs = {"lstm": ppo_lstm_cartpole_masked(), "attention": ppo_attention_cartpole_masked(),
            "mlp": replace(ppo_lstm_cartpole_masked(), torso=replace(ppo_lstm_cartpole_masked().torso, core="none"))}
    best = {}
    for name, base in runs.items():
        cfg = replace(base, env=replace(base.env, id="arena/Recall-v0"),
                      runner=replace(base.runner, seed=0, total_steps=50_000, target_return=1.0, eval_every=5_000,
                                     eval_episodes=50),
                      log=LogConfig(run_dir=str(tmp_path / name), wandb="off", progress=False))
        train(cfg, tmp_path / name)
        best[name] = _best_eval(tmp_path / name)
    assert best["lstm"] == 1.0 and best["attention"] == 1.0, best
    assert best["mlp"] < 0.5, best


@pytest.mark.slow
def test_r2d2_lstm_solves_masked_cartpole_and_mlp_does_not(tmp_path: Path) -> None:
    """R2D2-style DQN (LSTM, sequence replay with burn-in) reaches eval >= 400 within 300,000 env steps; the
    same agent with its memory core removed (MLP, no frame stack) stays below 200 over the steps it took."""
    from runners.config import TrainConfig
    from runners.presets import r2d2_cartpole_masked

    base = r2d2_cartpole_masked()
    assert isinstance(base, TrainConfig) and base.torso.core == "lstm"
    assert base.env.id == "arena/CartPoleMasked-v1"
    cfg = replace(base, runner=replace(base.runner, seed=0, total_steps=300_000, target_return=400.0),
                  log=LogConfig(run_dir=str(tmp_path / "lstm"), wandb="off", progress=False))
    result = train(cfg, tmp_path / "lstm")
    assert result.steps <= 300_000 and _best_eval(tmp_path / "lstm") >= 400.0

    mlp = replace(cfg, torso=replace(cfg.torso, core="none"),
                  runner=replace(cfg.runner, total_steps=max(result.steps, 50_000), target_return=None),
                  log=replace(cfg.log, run_dir=str(tmp_path / "mlp")))
    train(mlp, tmp_path / "mlp")
    assert _best_eval(tmp_path / "mlp") < 200.0
