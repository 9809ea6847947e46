"""Learning tests (slow, fixed seeds): GAIL from 4 expert episodes reaches >= 95% of the expert's return on
CartPole-v1 within 200,000 env steps; behaviour cloning from the same 4 episodes reports its return."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from replay.demos import record_dataset
from runners.api import train
from runners.families.common import LogConfig
from runners.families.imitation_presets import bc_cartpole, gail_cartpole
from tests.test_imitation import cartpole_expert


@pytest.mark.slow
def test_gail_and_bc_from_four_expert_episodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, learning_seed: int,
                                               learning_report: dict[str, object]) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    record_dataset(cartpole_expert, "CartPole-v1", 4, 123, "expert4", {"algorithm": "linear controller"})
    expert_return = 500.0  # the controller balances every episode to the time limit (checked below via BC's log)

    log = LogConfig(wandb="off", progress=False)
    bc = replace(bc_cartpole(), demos="arena/expert4-v0", log=replace(log, run_dir=str(tmp_path / "bc")))
    bc_result = train(bc, tmp_path / "bc")
    bc_eval = json.loads((tmp_path / "bc" / "metrics.jsonl").read_text().splitlines()[-1])
    assert bc_eval["expert_return"] == expert_return
    assert bc_result.last_eval is not None
    print(f"BC from 4 episodes: eval return {bc_result.last_eval.mean:.1f} ± {bc_result.last_eval.std:.1f}")

    gail = replace(gail_cartpole(), demos="arena/expert4-v0", log=replace(log, run_dir=str(tmp_path / "gail")))
    assert gail.runner.total_steps == 200_000 and gail.runner.eval_episodes == 10
    gail = replace(gail, runner=replace(gail.runner, seed=learning_seed, target_return=0.95 * expert_return))
    result = train(gail, tmp_path / "gail")
    learning_report.update(steps=result.steps, last=result.last_eval.mean if result.last_eval else None,
                           bc=bc_result.last_eval.mean)
    assert result.steps <= 200_000
    assert result.last_eval is not None and result.last_eval.mean >= 0.95 * expert_return, result.last_eval
