"""Determinism and exact resume: same seed -> same parameters; N + resume + N == 2N; kill -9 then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from runners.api import train
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, load
from tests.helpers import quick


def _params(run_dir: Path) -> dict[str, torch.Tensor]:
    return load(run_dir / CHECKPOINT_DIR / MODEL)["model"]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("preset", ["dqn-cartpole", "rainbow-cartpole"])
def test_same_seed_same_params_and_other_seed_differs(preset: str, tmp_path: Path) -> None:
    cfg = quick(preset, tmp_path / "a", total_steps=600)
    train(cfg, tmp_path / "a")
    train(replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "b"))), tmp_path / "b")
    _assert_same(_params(tmp_path / "a"), _params(tmp_path / "b"))
    other = replace(cfg, runner=replace(cfg.runner, seed=1),
                    log=replace(cfg.log, run_dir=str(tmp_path / "c")))
    train(other, tmp_path / "c")
    pa, pc = _params(tmp_path / "a"), _params(tmp_path / "c")
    assert any(not torch.equal(pa[k], pc[k]) for k in pa)


@pytest.mark.parametrize("preset", ["dqn-cartpole", "rainbow-cartpole", "dqn-minatar", "r2d2-cartpole-masked"])
def test_resume_is_exact(preset: str, tmp_path: Path) -> None:
    # 700 is mid-episode for every env here, so the env replay on resume is exercised too.
    cfg = quick(preset, tmp_path / "straight", total_steps=1_400)
    train(cfg, tmp_path / "straight")
    split = replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "split")))
    first = train(split, tmp_path / "split", stop_at=700)
    assert first.steps == 700
    state = load(tmp_path / "split" / CHECKPOINT_DIR / LATEST)
    assert state["replay_file"] is not None  # replay fits the budget, so it was saved
    second = train(split, tmp_path / "split", resume=True)
    assert second.steps == 1_400
    _assert_same(_params(tmp_path / "straight"), _params(tmp_path / "split"))


def test_kill_9_then_resume_finishes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    total = 4_000
    cmd = [sys.executable, "-m", "runners.cli", "train", "dqn-cartpole", "--runner.total-steps", str(total),
           "--runner.checkpoint-every", "500", "--runner.eval-every", "0", "--runner.eval-episodes", "0",
           "--replay.learning-starts", "200", "--log.run-dir", str(run_dir), "--log.wandb", "off",
           "--log.no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latest = run_dir / CHECKPOINT_DIR / LATEST
    deadline = time.monotonic() + 120
    while not latest.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert latest.exists(), proc.stderr.read().decode() if proc.stderr else ""
    time.sleep(float(np.random.default_rng(7).uniform(0.0, 1.5)))  # a random moment, fixed by the seed
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run([sys.executable, "-m", "runners.cli", "train", "--resume", str(run_dir),
                              "--log.no-progress"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert load(run_dir / CHECKPOINT_DIR / LATEST)["trainer"]["step"] == total
    assert (run_dir / CHECKPOINT_DIR / MODEL).is_file()
    # Rows the killed run wrote after its last checkpoint were dropped on resume, not logged twice.
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps) and steps[-1] == total
    assert sum(r["kind"] == "episode" for r in rows) == load(run_dir / CHECKPOINT_DIR / LATEST)["trainer"]["episodes"]


def test_sigterm_checkpoints_and_resume_continues(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "runners.cli", "train", "dqn-cartpole", "--runner.total-steps", "100000",
           "--runner.checkpoint-every", "0", "--runner.eval-episodes", "0", "--replay.learning-starts", "200",
           "--log.run-dir", str(run_dir), "--log.wandb", "off", "--log.no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 600  # a loaded machine can take minutes to import and start
    while (not metrics.exists() or metrics.stat().st_size < 200) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metrics.exists() and proc.poll() is None, "training did not start"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 143  # 128 + SIGTERM, after the checkpoint
    step = load(run_dir / CHECKPOINT_DIR / LATEST)["trainer"]["step"]
    assert 0 < step < 100_000
