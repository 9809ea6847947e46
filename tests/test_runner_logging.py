"""Run outputs: JSONL metrics, eval videos, learning curve, and an offline wandb run (no network)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from runners.api import train
from tests.helpers import quick


def test_wandb_offline_video_and_metrics(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WANDB_MODE", "offline")
    run_dir = tmp_path / "run"
    cfg = quick("dqn-cartpole", run_dir, total_steps=300)
    cfg = replace(cfg, runner=replace(cfg.runner, eval_every=150),
                  log=replace(cfg.log, wandb="offline", video=True))
    result = train(cfg, run_dir)
    assert result.last_eval is not None and len(result.last_eval.returns) == 2
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [150, 300]
    assert all(len(r["returns"]) == 2 for r in evals)
    assert any(r["kind"] == "episode" for r in records)
    videos = sorted((run_dir / "videos").glob("*.mp4"))
    assert len(videos) == 2 and all(v.stat().st_size > 0 for v in videos)
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    assert any(offline[0].rglob("*.wandb"))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"]["id"] == "CartPole-v1" and config["runner"]["seed"] == 0
