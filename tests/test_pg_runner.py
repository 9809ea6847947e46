"""The policy-gradient runner: every PG preset runs a few hundred steps (Atari included), determinism,
exact resume (N + resume + N == 2N) for REINFORCE and PPO, the reward-model hook, `arena eval` on a PG
checkpoint, and one-line CLI errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from replay.types import Rollout
from runners.api import train
from runners.cli.main import main
from runners.families.imitation_presets import IMITATION_PRESETS
from runners.families.pg_presets import PG_PRESETS
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, load
from tests.helpers import quick_pg

QUIET = ["--log.wandb", "off", "--log.no-progress"]


def _params(run_dir: Path) -> dict[str, torch.Tensor]:
    return load(run_dir / CHECKPOINT_DIR / MODEL)["model"]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("arena: error: ")
    return err[0]


@pytest.mark.parametrize("preset", [p for p in PG_PRESETS if p not in IMITATION_PRESETS])
def test_pg_preset_runs(preset: str, tmp_path: Path) -> None:
    run_dir = tmp_path / preset
    cfg = quick_pg(preset, run_dir, total_steps=400)
    if "atari" in preset:
        cfg = replace(cfg, runner=replace(cfg.runner, eval_episodes=0))  # a Pong episode lasts minutes
    result = train(cfg, run_dir)
    assert result.steps >= 400 and result.updates > 0
    for name in ("config.json", "env_spec.json", "learning_curve.png", "checkpoints/latest.pt", "checkpoints/model.pt"):
        assert (run_dir / name).is_file(), name
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    assert train_records and "entropy" in train_records[-1] and "epsilon" not in train_records[-1]
    if cfg.algo == "reinforce":
        assert "grad_var" in train_records[-1] and "grad_rel_var" in train_records[-1]
    else:
        assert "clip_frac" in train_records[-1] and "approx_kl" in train_records[-1]
    if "atari" not in preset:
        assert any(r["kind"] == "eval" for r in records)
    assert json.loads((run_dir / "config.json").read_text())["algo"] == cfg.algo


@pytest.mark.parametrize("preset", ["reinforce-cartpole", "ppo-cartpole"])
def test_same_seed_same_params_and_other_seed_differs(preset: str, tmp_path: Path) -> None:
    cfg = quick_pg(preset, tmp_path / "a", total_steps=600)
    train(cfg, tmp_path / "a")
    train(replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "b"))), tmp_path / "b")
    _assert_same(_params(tmp_path / "a"), _params(tmp_path / "b"))
    other = replace(cfg, runner=replace(cfg.runner, seed=1), log=replace(cfg.log, run_dir=str(tmp_path / "c")))
    train(other, tmp_path / "c")
    pa, pc = _params(tmp_path / "a"), _params(tmp_path / "c")
    assert any(not torch.equal(pa[k], pc[k]) for k in pa)


@pytest.mark.parametrize("preset", ["reinforce-cartpole", "ppo-cartpole", "ppo-pendulum"])
def test_resume_is_exact(preset: str, tmp_path: Path) -> None:
    cfg = quick_pg(preset, tmp_path / "straight", total_steps=1_200)
    if preset == "ppo-pendulum":
        cfg = replace(cfg, ppo=replace(cfg.ppo, rollout_length=50))  # 200-step episodes: split mid-episode
    train(cfg, tmp_path / "straight")
    split = replace(cfg, log=replace(cfg.log, run_dir=str(tmp_path / "split")))
    first = train(split, tmp_path / "split", stop_at=600)
    assert 600 <= first.steps < 1_200
    second = train(split, tmp_path / "split", resume=True)
    assert second.steps == load(tmp_path / "straight" / CHECKPOINT_DIR / LATEST)["trainer"]["step"]
    _assert_same(_params(tmp_path / "straight"), _params(tmp_path / "split"))
    if preset == "ppo-pendulum":  # observation statistics and the reward scaler travel with the checkpoint
        state = load(tmp_path / "split" / CHECKPOINT_DIR / LATEST)["trainer"]
        assert float(state["learner"]["network"]["obs_norm.count"]) > 0
        assert state["learner"]["reward_scaler"]["rms"]["count"] > 0


class ConstantReward:
    """A stand-in reward model: reward 1 everywhere, records what the runner hands it."""

    def __init__(self) -> None:
        self.updates = 0
        self.shapes: list[tuple[int, ...]] = []

    def reward(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        self.shapes.append(obs.shape)
        assert next_obs.shape == obs.shape and action.shape[:2] == obs.shape[:2]
        return np.ones(obs.shape[:2], dtype=np.float32)

    def update(self, rollout: Rollout) -> dict[str, float]:
        self.updates += 1
        return {"disc_loss": 0.5}

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "weights": torch.ones(2)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])


def test_reward_model_hook(tmp_path: Path) -> None:
    cfg = quick_pg("ppo-cartpole", tmp_path / "run", total_steps=512)
    model = ConstantReward()
    result = train(cfg, tmp_path / "run", reward_model=model)
    assert model.updates == result.updates == 512 // (cfg.ppo.rollout_length * cfg.env.num_envs)
    assert model.shapes[0] == (cfg.ppo.rollout_length, cfg.env.num_envs, 4)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["kind"] == "train"][-1]
    assert last["disc_loss"] == 0.5 and last["model_reward_mean"] == 1.0
    episodes = [r["return"] for r in records if r["kind"] == "episode"]
    assert episodes and all(r == int(r) for r in episodes)  # true env returns are logged, not model rewards
    state = load(tmp_path / "run" / CHECKPOINT_DIR / LATEST)["trainer"]["reward_model"]
    assert state["updates"] == model.updates and torch.equal(state["weights"], torch.ones(2))


@pytest.fixture(scope="module")
def pg_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("pgcli") / "run"
    train(quick_pg("ppo-cartpole", run_dir, total_steps=512), run_dir)
    return run_dir


def test_eval_cli_on_pg_checkpoint(pg_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(pg_run), "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "ppo-cartpole on CartPole-v1" in out and "over 3 episodes, greedy" in out
    assert main(["eval", str(pg_run / CHECKPOINT_DIR / MODEL), "--episodes", "2"]) == 0
    capsys.readouterr()
    assert main(["eval", str(pg_run), "--env-id", "Pendulum-v1"]) == 2
    assert "trained on CartPole-v1" in _error_line(capsys)
    assert main(["eval", str(pg_run), "--epsilon", "0.1"]) == 2
    assert "--epsilon" in _error_line(capsys)


def test_cli_train_and_resume_pg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "cli"
    args = ["train", "ppo-cartpole", "--runner.total-steps", "256", "--ppo.rollout-length", "16",
            "--runner.eval-episodes", "1", "--log.run-dir", str(run_dir), *QUIET]
    assert main(args) == 0
    assert load(run_dir / CHECKPOINT_DIR / LATEST)["trainer"]["step"] == 256
    assert json.loads((run_dir / "config.json").read_text())["ppo"]["rollout_length"] == 16
    # --resume finds the config class (PGTrainConfig) from config.json and takes its overrides.
    assert main(["train", "--resume", str(run_dir), "--runner.total-steps", "512", *QUIET]) == 0
    assert load(run_dir / CHECKPOINT_DIR / LATEST)["trainer"]["step"] == 512
    with pytest.raises(SystemExit) as e:
        main(["train", "ppo-cartpole", "--help"])
    assert e.value.code == 0
    assert "GAE lambda" in capsys.readouterr().out


@pytest.mark.parametrize("args,match", [
    (["train", "reinforce-cartpole", "--env.id", "ale:pong"], "REINFORCE learns from whole episodes"),
    (["train", "ppo-atari", "--env.id", "CartPole-v1"], "not an Atari env"),
    (["train", "ppo-pendulum", "--env.id", "CartPole-v1"], "continuous actions"),
    (["train", "ppo-cartpole", "--algo", "a2c"], "invalid choice 'a2c' for argument '--algo'"),
    (["train", "ppo-cartpole", "--agent.lr", "1e-3"], "Unrecognized"),
    (["train", "ppo-cartpole", "--ppo.lr", "fast"], "--ppo.lr"),
    (["train", "dqn-cartpole", "--env.id", "Pendulum-v1"], "DQN needs discrete actions"),
])
def test_pg_bad_input_is_one_line_and_exit_2(args: list[str], match: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, *QUIET, "--log.run-dir", str(tmp_path / "r")]) == 2
    assert match in _error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_policy_init_and_load_policy(pg_run: Path) -> None:
    from runners.local.logging import NullLogger
    from runners.local.pg import PGTrainer
    from runners.local.saved_policy import load_policy

    loaded = load_policy(pg_run, greedy=False, seed=3)
    assert isinstance(loaded.cfg, type(quick_pg("ppo-cartpole", pg_run)))
    actions = loaded.act(np.zeros((5, 4), np.float32))
    assert actions.shape == (5,) and actions.dtype == np.int64
    policy = loaded.network.policy_state_dict()  # type: ignore[union-attr]
    assert policy and all(k.startswith(("obs_norm.", "actor_torso.", "head.")) for k in policy)
    trainer = PGTrainer(replace(loaded.cfg, runner=replace(loaded.cfg.runner, seed=5)), NullLogger(),  # type: ignore[arg-type]
                        policy_init=policy)
    try:
        state = trainer.learner.network.state_dict()
        assert all(torch.equal(state[k], v) for k, v in policy.items())
        critic = [k for k in state if k.startswith(("critic_torso.", "value_head."))]
        assert critic and any(not torch.equal(state[k], loaded.network.state_dict()[k]) for k in critic)
        trainer.env_step()
        trainer.learn()  # the flat optimiser buffers still back the loaded weights
        assert any(not torch.equal(trainer.learner.network.state_dict()[k], v) for k, v in policy.items())
    finally:
        trainer.close()
    with pytest.raises(ValueError, match="do not fit"):
        loaded.network.load_policy_state_dict({"head.linear.weight": torch.zeros(2, 64)})  # type: ignore[union-attr]


@pytest.mark.parametrize("preset", ["ppo-cartpole", "ppo-pendulum"])
def test_ppo_learns_with_the_log_probs_it_acted_with(preset: str, tmp_path: Path) -> None:
    # With lr = 0 the policy never moves, so every ratio must be exactly 1: acting and learning see the same
    # network and the same observation statistics (they are folded in only after an update).
    from runners.local.logging import NullLogger
    from runners.local.pg import PGTrainer

    cfg = quick_pg(preset, tmp_path)
    cfg = replace(cfg, ppo=replace(cfg.ppo, lr=0.0, anneal_lr=False, epochs=2))
    trainer = PGTrainer(cfg, NullLogger())
    try:
        for _ in range(3):
            trainer.env_step()
            trainer.learn()
            assert trainer.metrics["approx_kl"] == pytest.approx(0.0, abs=1e-6)
            assert trainer.metrics["clip_frac"] == 0.0
    finally:
        trainer.close()
