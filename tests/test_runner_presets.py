"""Every preset trains for 200 steps end to end (Atari and MinAtar included) and writes its run directory."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runners.api import train
from runners.families.imitation_presets import IMITATION_PRESETS
from runners.families.registry import PRESETS
from tests.helpers import quick_any


@pytest.mark.parametrize("preset", [p for p in PRESETS if p not in IMITATION_PRESETS])
def test_preset_runs_200_steps(preset: str, tmp_path: Path) -> None:
    run_dir = tmp_path / preset
    cfg = quick_any(preset, run_dir)
    if "atari" in preset:
        # An evaluation episode of Pong lasts minutes: the smoke test covers training and checkpoints.
        cfg = replace(cfg, runner=replace(cfg.runner, eval_episodes=0))
    result = train(cfg, run_dir)
    assert result.steps >= 200
    assert result.updates > 0
    assert (run_dir / "config.json").is_file()
    assert (run_dir / "checkpoints" / "latest.pt").is_file()
    assert (run_dir / "checkpoints" / "model.pt").is_file()
    assert (run_dir / "learning_curve.png").is_file()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "train" for r in records)
    if "atari" not in preset:
        assert any(r["kind"] == "eval" for r in records)
