"""Recurrent PPO (memory cores): the sequence re-run reproduces the acting log-probs (first-epoch ratio
exactly 1, so state threading and resets are right), exact resume with a carried state, shared and separate
torsos, and the configs still rejected. The presets' smoke runs are in tests/test_pg_runner.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.errors import ConfigError
from runners.api import train
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, load
from runners.local.logging import NullLogger
from runners.local.pg import PGTrainer
from tests.helpers import quick_pg

LSTM = "ppo-lstm-cartpole-masked"


@pytest.mark.parametrize("preset,core,shared", [
    (LSTM, "lstm", False), (LSTM, "gru", True), ("ppo-attention-cartpole-masked", "attention", False)])
def test_first_epoch_ratio_is_one(preset: str, core: str, shared: bool, tmp_path: Path) -> None:
    # lr = 0: the policy never moves, so re-running whole env columns from the stored start state with the
    # stored resets must give back the acting log-probs exactly (rollouts 2 and 3 start mid-episode).
    cfg = quick_pg(preset, tmp_path, total_steps=800)
    cfg = replace(cfg, ppo=replace(cfg.ppo, lr=0.0, anneal_lr=False, epochs=2),
                  torso=replace(cfg.torso, core=core), net=replace(cfg.net, shared=shared))
    trainer = PGTrainer(cfg, NullLogger())
    try:
        for _ in range(3):
            trainer.env_step()
            trainer.learn()
            assert trainer.metrics["approx_kl"] == pytest.approx(0.0, abs=1e-6)
            assert trainer.metrics["clip_frac"] == 0.0
        # Directly: the sequence pass gives the acting log-probs; a zero start state or no resets do not.
        trainer.env_step()
        rollout = trainer.rollout
        assert rollout is not None and rollout.reset is not None and rollout.reset[1:].any()
        net = trainer.learner.network

        def gap(state: object, reset: np.ndarray) -> float:
            with torch.no_grad():
                dist, _, _ = net.sequence(torch.as_tensor(rollout.obs), state, torch.as_tensor(reset))
                lp = dist.log_prob(torch.as_tensor(rollout.action).flatten(0, 1)).numpy()
            return float(np.abs(lp - rollout.log_prob.reshape(-1)).max())

        assert gap(rollout.initial_state, rollout.reset) < 1e-6
        assert gap(net.initial_state(rollout.num_envs), rollout.reset) > 1e-5
        assert gap(rollout.initial_state, np.zeros_like(rollout.reset)) > 1e-5
    finally:
        trainer.close()


def test_recurrent_resume_is_exact(tmp_path: Path) -> None:
    cfg = quick_pg(LSTM, tmp_path / "straight", total_steps=1_200)
    train(cfg, tmp_path / "straight")
    split = replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "split")))
    first = train(split, tmp_path / "split", stop_at=600)
    assert 600 <= first.steps < 1_200
    train(split, tmp_path / "split", resume=True)
    a = load(tmp_path / "straight" / CHECKPOINT_DIR / MODEL)["model"]
    b = load(tmp_path / "split" / CHECKPOINT_DIR / MODEL)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state = load(tmp_path / "split" / CHECKPOINT_DIR / LATEST)["trainer"]
    assert state["actor"]["recurrent_state"] is not None and np.asarray(state["first"]).shape == (8,)


def test_memory_core_rejected_where_not_wired(tmp_path: Path) -> None:
    cfg = quick_pg(LSTM, tmp_path)
    with pytest.raises(ConfigError, match="whole env columns"):
        PGTrainer(replace(cfg, ppo=replace(cfg.ppo, num_minibatches=16)), NullLogger())
