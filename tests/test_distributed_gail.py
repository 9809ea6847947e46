"""GAIL on Ray (the discriminator lives with the on-policy learner): a short run logs the discriminator's
metrics and checkpoints its state, resume restores it, initial (behaviour-cloned) policy weights are what the
workers pull first, behaviour cloning itself is refused with one line; and (slow) GAIL with two workers
reaches the single-process bar."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray
import torch

from agents.actor_critic import build_actor_critic
from envs.make import spec_for
from replay.demos import record_dataset
from runners.api import train
from runners.cli.main import main
from runners.distributed.onpolicy import OnPolicyTrainer
from runners.families.common import LogConfig
from runners.families.distributed import OnPolicyRayConfig
from runners.families.imitation_presets import gail_cartpole
from runners.local.checkpoint import load
from tests.helpers import quick_pg
from tests.test_imitation import cartpole_expert

RAY = OnPolicyRayConfig(kind="ray", num_workers=2, status_every=0)
DEMOS = "arena/cartpole-ray-v0"


@pytest.fixture(scope="module")
def demos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    record_dataset(cartpole_expert, "CartPole-v1", 4, 0, "cartpole-ray", {"algorithm": "linear"}, root=root)
    return root


@pytest.fixture(autouse=True)
def _datasets_path(demos_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(demos_root))


def test_behaviour_cloning_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "bc-cartpole", "--demos", DEMOS, "--runner", "ray", "--log.run-dir",
                 str(tmp_path / "run"), "--log.wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "--runner local" in err and "\n" not in err


def test_gail_runs_checkpoints_and_resumes(local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = replace(quick_pg("gail-cartpole", tmp_path, total_steps=4_000), demos=DEMOS, distributed=RAY)
    torch.manual_seed(123)  # initial policy weights (behaviour cloning's place) no run would initialise with
    init = build_actor_critic(cfg.net, cfg.torso, spec_for("CartPole-v1")).policy_state_dict()
    published: dict[str, torch.Tensor] = {}
    construct = OnPolicyTrainer.__init__

    def check_init(self: OnPolicyTrainer, *args: Any, **kwargs: Any) -> None:  # what every worker pulls first
        construct(self, *args, **kwargs)
        published.update(self.learner.get_params()[1])

    monkeypatch.setattr(OnPolicyTrainer, "__init__", check_init)
    first = train(cfg, tmp_path, stop_at=2_000, policy_init=init)
    for k, v in init.items():
        assert torch.equal(published[k], v), k
    assert first.updates > 0
    trains = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
    for key in ("disc_acc_expert", "disc_acc_policy", "model_reward_mean", "disc_loss", "dist/policy_lag"):
        assert key in trains[-1], key
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["runner"] == "ray" and saved["reward_model"] is not None
    disc = saved["reward_model"]["disc"]
    seen: dict[str, Any] = {}
    restore = OnPolicyTrainer.load_state_dict

    def check_restore(self: OnPolicyTrainer, state: dict[str, Any]) -> None:  # look inside the resumed run
        restore(self, state)
        seen.update(ray.get(self.learner_actor.reward_model_state.remote()))

    monkeypatch.setattr(OnPolicyTrainer, "load_state_dict", check_restore)
    resumed = train(cfg, tmp_path, resume=True)
    for k, v in disc.items():
        assert torch.equal(seen["disc"][k], v), k
    assert resumed.steps >= 4_000 and resumed.updates > first.updates
    after = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]["reward_model"]["disc"]
    assert any(not torch.equal(after[k], disc[k]) for k in disc)  # the discriminator kept learning


# --- learning (slow) ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_gail_on_ray_reaches_the_single_process_bar(local_ray: None, tmp_path: Path, learning_seed: int,
                                                    learning_report: dict[str, object]) -> None:
    """gail-cartpole with two workers from 4 expert episodes: >= 95% of the expert's 500 within 200,000 steps
    (the single-process test's bar, tests/test_learning_imitation.py)."""
    cfg = replace(gail_cartpole(), demos=DEMOS, distributed=RAY,
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    assert cfg.runner.total_steps == 200_000 and cfg.runner.eval_episodes == 10
    cfg = replace(cfg, runner=replace(cfg.runner, seed=learning_seed, torch_threads=1, target_return=0.95 * 500.0))
    result = train(cfg, tmp_path)
    learning_report.update(steps=result.steps, last=result.last_eval.mean if result.last_eval else None)
    assert result.steps <= 200_000 + cfg.env.num_envs * cfg.ppo.rollout_length
    assert result.last_eval is not None and result.last_eval.mean >= 0.95 * 500.0, result.last_eval
