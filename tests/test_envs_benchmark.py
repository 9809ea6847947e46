"""benchmarks/atari_env_ceiling.py still runs against the installed ale_py and gymnasium."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def test_ceiling_functions_return_rates() -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "atari_env_ceiling.py"
    spec = importlib.util.spec_from_file_location("atari_env_ceiling", path)
    if spec is None or spec.loader is None:
        pytest.skip("benchmarks/ not present")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.measure_ale_ceiling("pong", num_envs=2, num_threads=1, seconds=0.05) > 0
    assert bench.measure_arena_atari("pong", num_envs=2, num_threads=1, seconds=0.05) > 0
    assert bench.measure_gym_wrappers("pong", num_envs=2, seconds=0.05) > 0
