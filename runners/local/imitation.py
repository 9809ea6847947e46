"""Imitation runs: GAIL (a reward model for the on-policy runner) and behaviour cloning (no env steps).

``train_imitation`` is the imitation family's single-process trainer. ``gail_setup`` loads the demonstrations,
builds the discriminator and, when asked, a BC-pretrained policy for the generator to start from; the
generator is then trained as any policy-gradient run (``runners.local.train.train_pg``). ``train_bc`` clones a
policy from the demonstrations and evaluates it; its ``model.pt`` is a policy-gradient checkpoint, so
``arena eval`` and ``arena record`` take it like any other.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from rich.console import Console

from agents.actor_critic import build_actor_critic
from agents.base import RewardModel
from agents.errors import ConfigError
from agents.gail.bc import BCLearner
from agents.gail.reward_model import GAILRewardModel
from envs import spec_for
from envs.base import EnvSpec
from replay.demos import Demos, load_demos
from runners.families.common import save_config, to_dict
from runners.families.pg import PGTrainConfig
from runners.local.checkpoint import CHECKPOINT_DIR, FORMAT_VERSION, MODEL, CheckpointError, atomic_save
from runners.local.envs import env_options
from runners.local.evaluate import evaluate_policy
from runners.local.loop import RunResult
from runners.local.plot import plot_runs
from runners.local.train import train_pg


def load_expert(cfg: PGTrainConfig, spec: EnvSpec) -> Demos:
    """The run's demonstrations, checked against the env's spaces (DemosError otherwise)."""
    if not cfg.demos:
        raise ConfigError(f"{cfg.preset} needs expert demonstrations: --demos NAME (a Minari dataset id or path; "
                          "record one with: arena record CHECKPOINT --episodes 4 --out NAME)")
    return load_demos(cfg.demos, spec)


def bc_policy(cfg: PGTrainConfig, spec: EnvSpec, demos: Demos, steps: int) -> dict[str, torch.Tensor]:
    """``steps`` of behaviour cloning on a fresh network; its ``policy_state_dict`` (for ``policy_init``)."""
    torch.manual_seed(cfg.runner.seed)
    net = build_actor_critic(cfg.net, cfg.torso, spec, value=True)
    BCLearner(net, cfg.bc, demos, seed=cfg.runner.seed + 5).train(steps)
    return net.policy_state_dict()


def gail_setup(cfg: PGTrainConfig, console: Console | None = None
               ) -> tuple[GAILRewardModel, dict[str, torch.Tensor] | None]:
    """The discriminator (a ``RewardModel``) and, with ``--gail.bc-pretrain-steps``, initial policy weights; the
    reward form (``--gail.reward-form auto`` picks it from the demonstrations) is said on ``console``."""
    spec = spec_for(cfg.env.id, **env_options(cfg))
    demos = load_expert(cfg, spec)
    if cfg.torso.core != "none" and cfg.gail.bc_pretrain_steps > 0:
        raise ConfigError(f"--gail.bc-pretrain-steps clones single demonstration steps, which a --torso.core "
                          f"{cfg.torso.core} policy cannot learn from; use --gail.bc-pretrain-steps 0")
    # The discriminator scores single (s, a) pairs: it takes the feed-forward part of the torso config.
    model = GAILRewardModel(spec, replace(cfg.torso, core="none"), cfg.gail, demos, seed=cfg.runner.seed + 3)
    init = bc_policy(cfg, spec, demos, cfg.gail.bc_pretrain_steps) if cfg.gail.bc_pretrain_steps > 0 else None
    if console is not None:
        console.log(model.reward_note)
    return model, init


def train_imitation(cfg: PGTrainConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
                    console: Console | None = None, reward_model: RewardModel | None = None,
                    policy_init: dict[str, torch.Tensor] | None = None) -> RunResult:
    """Behaviour cloning (``--imitation bc``) or GAIL (``--imitation gail``) in one process."""
    if cfg.imitation == "bc":
        if resume:
            raise CheckpointError("behaviour-cloning runs are short and not resumable: start a new run")
        return train_bc(cfg, run_dir, console)
    if reward_model is None:
        reward_model, bc_init = gail_setup(cfg, console or Console(stderr=True))
        policy_init = policy_init if policy_init is not None else bc_init
    return train_pg(cfg, run_dir, resume=resume, stop_at=stop_at, console=console, reward_model=reward_model,
                    policy_init=policy_init)


def train_bc(cfg: PGTrainConfig, run_dir: Path, console: Console | None = None) -> RunResult:
    """Behaviour cloning: ``bc.steps`` updates, logged to metrics.jsonl, then a greedy evaluation."""
    console = console or Console(stderr=True)
    if cfg.torso.core != "none":
        raise ConfigError(f"behaviour cloning learns from single demonstration steps: --torso.core {cfg.torso.core} "
                          "needs whole episodes; use --torso.core none")
    if cfg.runner.torch_threads > 0:
        torch.set_num_threads(cfg.runner.torch_threads)
    spec = spec_for(cfg.env.id, **env_options(cfg))
    demos = load_expert(cfg, spec)
    torch.manual_seed(cfg.runner.seed)
    net = build_actor_critic(cfg.net, cfg.torso, spec, value=True)
    learner = BCLearner(net, cfg.bc, demos, seed=cfg.runner.seed + 5)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.json")
    console.log(f"run directory: {run_dir}")
    t0 = time.perf_counter()
    every = max(cfg.bc.steps // 20, 1)
    with (run_dir / "metrics.jsonl").open("w") as f:
        for step in range(1, cfg.bc.steps + 1):
            metrics = learner.step()
            if step % every == 0 or step == cfg.bc.steps:
                f.write(json.dumps({"kind": "bc", "step": step, **metrics,
                                    "time": round(time.perf_counter() - t0, 3)}) + "\n")
        result = evaluate_policy(net, cfg, max(cfg.runner.eval_episodes, 1), seed=cfg.runner.seed + 1_000_003,
                                 step=0)
        f.write(json.dumps({"kind": "eval", "step": 0, "eval_mean": result.mean, "eval_std": result.std,
                            "eval_min": result.min, "eval_max": result.max, "returns": list(result.returns),
                            "bc_steps": cfg.bc.steps, "demo_steps": len(demos),
                            "expert_return": float(demos.episode_returns.mean()),
                            "time": round(time.perf_counter() - t0, 3)}) + "\n")
    atomic_save({"format_version": FORMAT_VERSION, "config": to_dict(cfg), "step": 0, "model": net.state_dict(),
                 "env_id": spec.env_id, "obs_shape": list(spec.obs_shape), "num_actions": spec.num_actions,
                 "action_shape": list(spec.action_shape)}, run_dir / CHECKPOINT_DIR / MODEL)
    plot_runs([run_dir], run_dir / "learning_curve.png", title=f"{cfg.preset} on {cfg.env.id}")
    console.log(f"behaviour cloning from {len(demos):,} expert steps (expert return "
                f"{demos.episode_returns.mean():.1f}): eval return {result.mean:.2f} ± {result.std:.2f} "
                f"over {len(result.returns)} episodes")
    return RunResult(0, learner.steps, result, False, time.perf_counter() - t0)
