"""Learning test (slow, fixed seed): on CartPole with the velocities hidden, PPO with the attention torso
reaches eval mean >= 400 within 300,000 env steps, while the same agent with its memory core removed (MLP,
no frame stack) stays below 200 over the same budget: memory is what makes the difference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runners.api import train
from runners.families.common import LogConfig
from runners.families.pg_presets import ppo_attention_cartpole_masked
from tests.helpers import best_eval, steps_to


@pytest.mark.slow
def test_attention_ppo_solves_masked_cartpole_and_mlp_does_not(tmp_path: Path, learning_seed: int,
                                                               learning_report: dict[str, object]) -> None:
    base = ppo_attention_cartpole_masked()
    assert base.env.id == "arena/CartPoleMasked-v1" and base.torso.core == "attention"
    cfg = replace(base, runner=replace(base.runner, seed=learning_seed, total_steps=300_000, target_return=400.0),
                  log=LogConfig(run_dir=str(tmp_path / "attention"), wandb="off", progress=False))
    result = train(cfg, tmp_path / "attention")
    learning_report.update(best=best_eval(tmp_path / "attention"), steps=result.steps,
                           steps_to_threshold=steps_to(tmp_path / "attention", 400.0))
    assert result.steps <= 300_000 and best_eval(tmp_path / "attention") >= 400.0

    mlp = replace(cfg, torso=replace(cfg.torso, core="none"),
                  log=replace(cfg.log, run_dir=str(tmp_path / "mlp")))
    train(mlp, tmp_path / "mlp")
    learning_report.update(memoryless_best=best_eval(tmp_path / "mlp"))
    assert best_eval(tmp_path / "mlp") < 200.0


@pytest.mark.slow
def test_lstm_and_attention_reach_the_recall_optimum(tmp_path: Path, learning_seed: int,
                                                     learning_report: dict[str, object]) -> None:
    """arena/Recall-v0: the cue shows only at the first step; the optimum is 1.0, a memoryless policy 1/4."""
    from runners.families.pg_presets import ppo_lstm_cartpole_masked

    runs = {"lstm": ppo_lstm_cartpole_masked(), "attention": ppo_attention_cartpole_masked(),
            "mlp": replace(ppo_lstm_cartpole_masked(), torso=replace(ppo_lstm_cartpole_masked().torso, core="none"))}
    best = {}
    for name, base in runs.items():
        cfg = replace(base, env=replace(base.env, id="arena/Recall-v0"),
                      runner=replace(base.runner, seed=learning_seed, total_steps=50_000, target_return=1.0,
                                     eval_every=5_000, eval_episodes=50),
                      log=LogConfig(run_dir=str(tmp_path / name), wandb="off", progress=False))
        train(cfg, tmp_path / name)
        best[name] = best_eval(tmp_path / name)
        learning_report[f"{name}_steps_to_threshold"] = steps_to(tmp_path / name, 1.0)
    learning_report.update(best=best)
    assert best["lstm"] == 1.0 and best["attention"] == 1.0, best
    assert best["mlp"] < 0.5, best


@pytest.mark.slow
def test_r2d2_lstm_solves_masked_cartpole_and_mlp_does_not(tmp_path: Path, learning_seed: int,
                                                           learning_report: dict[str, object]) -> None:
    """R2D2-style DQN (LSTM, sequence replay with burn-in) reaches eval >= 400 within 300,000 env steps; the
    same agent with its memory core removed (MLP, no frame stack) stays below 200 over the steps it took."""
    from runners.families.dqn import TrainConfig
    from runners.families.dqn_presets import r2d2_cartpole_masked

    base = r2d2_cartpole_masked()
    assert isinstance(base, TrainConfig) and base.torso.core == "lstm"
    assert base.env.id == "arena/CartPoleMasked-v1"
    cfg = replace(base, runner=replace(base.runner, seed=learning_seed, total_steps=300_000, target_return=400.0),
                  log=LogConfig(run_dir=str(tmp_path / "lstm"), wandb="off", progress=False))
    result = train(cfg, tmp_path / "lstm")
    learning_report.update(best=best_eval(tmp_path / "lstm"), steps=result.steps,
                           steps_to_threshold=steps_to(tmp_path / "lstm", 400.0))
    assert result.steps <= 300_000 and best_eval(tmp_path / "lstm") >= 400.0

    mlp = replace(cfg, torso=replace(cfg.torso, core="none"),
                  runner=replace(cfg.runner, total_steps=max(result.steps, 50_000), target_return=None),
                  log=replace(cfg.log, run_dir=str(tmp_path / "mlp")))
    train(mlp, tmp_path / "mlp")
    learning_report.update(memoryless_best=best_eval(tmp_path / "mlp"))
    assert best_eval(tmp_path / "mlp") < 200.0
