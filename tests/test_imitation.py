"""Imitation end to end: record demonstrations, every imitation preset runs, bad demos are one-line errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from replay.demos import record_dataset
from runners.api import train
from runners.cli.main import main
from runners.families.imitation_presets import IMITATION_PRESETS
from runners.local.imitation import gail_setup
from tests.helpers import quick_pg


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    """A linear controller that balances CartPole-v1 for all 500 steps."""
    return (obs @ np.array([0.1, 0.5, 3.0, 1.0]) > 0).astype(np.int64)


def pendulum_policy(obs: np.ndarray) -> np.ndarray:
    """A crude energy-pumping swing-up: push in the direction of the angular velocity."""
    return np.clip(2.0 * np.sign(obs[:, 2:3]), -2.0, 2.0).astype(np.float32)


@pytest.fixture(scope="module")
def demos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    record_dataset(cartpole_expert, "CartPole-v1", 4, 0, "cartpole-test", {"algorithm": "linear"}, root=root)
    record_dataset(pendulum_policy, "Pendulum-v1", 2, 0, "pendulum-test", {"algorithm": "swing"}, root=root)
    return root


@pytest.fixture(autouse=True)
def _datasets_path(demos_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(demos_root))


@pytest.mark.parametrize("preset", IMITATION_PRESETS)
def test_imitation_preset_runs(preset: str, tmp_path: Path) -> None:
    cfg = quick_pg(preset, tmp_path / preset, total_steps=400)
    demos = "arena/pendulum-test-v0" if "pendulum" in preset else "arena/cartpole-test-v0"
    cfg = replace(cfg, demos=demos, bc=replace(cfg.bc, steps=50))
    result = train(cfg, tmp_path / preset)
    records = [json.loads(line) for line in (tmp_path / preset / "metrics.jsonl").read_text().splitlines()]
    assert (tmp_path / preset / "checkpoints" / "model.pt").is_file()
    assert result.last_eval is not None
    if cfg.imitation == "gail":
        last = [r for r in records if r["kind"] == "train"][-1]
        for key in ("disc_acc_expert", "disc_acc_policy", "model_reward_mean", "disc_loss"):
            assert key in last, key
    else:
        assert records[-1]["kind"] == "eval" and records[-1]["expert_return"] == 500.0
    # The checkpoint evaluates like any policy-gradient one.
    assert main(["eval", str(tmp_path / preset), "--episodes", "2"]) == 0


def test_gail_with_options_and_bc_pretraining(tmp_path: Path) -> None:
    cfg = quick_pg("gail-cartpole", tmp_path, total_steps=300)
    cfg = replace(cfg, demos="arena/cartpole-test-v0",
                  gail=replace(cfg.gail, spectral_norm=True, grad_penalty=1.0, entropy_weight=0.01, disc_steps=2,
                               reward_form="log D - log(1-D)", bc_pretrain_steps=20))
    train(cfg, tmp_path)
    last = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"train"' in x][-1]
    assert "disc_grad_penalty" in last


def test_resume_gail_is_exact(tmp_path: Path) -> None:
    import torch

    from runners.local.checkpoint import load
    cfg = replace(quick_pg("gail-cartpole", tmp_path / "a", total_steps=512), demos="arena/cartpole-test-v0")
    train(cfg, tmp_path / "a")
    cfg_b = replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "b")))
    train(cfg_b, tmp_path / "b", stop_at=256)
    train(cfg_b, tmp_path / "b", resume=True)
    a = load(tmp_path / "a" / "checkpoints" / "latest.pt")["trainer"]
    b = load(tmp_path / "b" / "checkpoints" / "latest.pt")["trainer"]
    for part in ("learner", "reward_model"):
        key = "network" if part == "learner" else "disc"
        for k, v in a[part][key].items():
            assert torch.equal(v, b[part][key][k]), (part, k)


def test_record_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "ppo"
    train(quick_pg("ppo-cartpole", run, total_steps=256), run)
    capsys.readouterr()
    assert main(["record", str(run), "--episodes", "2", "--out", "from-ppo", "--root", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "arena/from-ppo-v0" in out
    meta = json.loads((tmp_path / "ds" / "arena" / "from-ppo-v0" / "data" / "metadata.json").read_text())
    assert len(meta["arena"]["metadata"]["checkpoint_sha256"]) == 64


@pytest.mark.parametrize("args,needle", [
    (["train", "gail-cartpole"], "--demos"),
    (["train", "bc-cartpole", "--demos", "arena/pendulum-test-v0"], "continuous actions"),
    (["train", "gail-pendulum", "--demos", "arena/nosuch-v0"], "nosuch"),
    (["train", "bc-cartpole", "--demos", "arena/cartpole-test-v0", "--torso.core", "lstm"], "single demonstration"),
    (["train", "gail-cartpole", "--demos", "arena/cartpole-test-v0", "--torso.core", "gru",
      "--gail.bc-pretrain-steps", "10"], "bc-pretrain-steps"),
])
def test_bad_demos_are_one_line_errors(args: list[str], needle: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, "--log.run-dir", str(tmp_path / "r"), "--log.wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "\n" not in err and needle in err, err


def test_gail_with_a_recurrent_policy_keeps_a_feed_forward_discriminator(tmp_path: Path) -> None:
    cfg = quick_pg("gail-cartpole", tmp_path, total_steps=300)
    cfg = replace(cfg, demos="arena/cartpole-test-v0", torso=replace(cfg.torso, core="lstm", core_hidden=16))
    model, init = gail_setup(cfg)
    assert init is None and not model.disc.torso.is_recurrent
    # The expert balances every episode to the time limit: auto keeps the per-step bonus.
    assert cfg.gail.reward_form == "auto" and model.reward_form == "-log(1-D)"
    assert model.reward_note.startswith("GAIL reward: -log(1-D) (auto: 0 of ")
    train(cfg, tmp_path, reward_model=model)
    assert (tmp_path / "checkpoints" / "model.pt").is_file()
