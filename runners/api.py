"""arena's Python API: train any registered family, one process or Ray, and load what a run saved.

    from runners.api import train
    from runners.families.registry import PRESETS
    result = train(PRESETS["dqn-cartpole"](), Path("runs/mine"))

``train`` looks the config's family up in the registry (``runners.families.registry``) and runs its
single-process trainer, or its Ray trainer when ``cfg.distributed.kind == "ray"``; the ``arena`` command
(``runners.cli``) calls the same functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from agents.base import RewardModel
from runners.families.league import LeagueConfig
from runners.families.pg import PGTrainConfig
from runners.families.registry import family_of
from runners.families.selfplay import SelfPlayConfig
from runners.league.run import LeagueResult
from runners.local.loop import RunResult
from runners.local.saved_policy import LoadedPolicy, load_policy
from runners.local.validation import validate_config
from runners.selfplay.run import SelfPlayResult

__all__ = ["LoadedPolicy", "load_policy", "run_league", "run_selfplay", "train"]


def train(cfg: Any, run_dir: Path, resume: bool = False, stop_at: int | None = None,
          console: Console | None = None, reward_model: RewardModel | None = None,
          policy_init: dict[str, torch.Tensor] | None = None) -> RunResult | SelfPlayResult | LeagueResult:
    """Train ``cfg`` into ``run_dir`` (resuming its latest checkpoint when ``resume``).

    Args:
        cfg: a config of any registered family (``TrainConfig``, ``PGTrainConfig``, ``SelfPlayConfig``,
            ``LeagueConfig``, ...).
        run_dir: the run directory (created; resumed from when ``resume``).
        resume: continue from ``run_dir``'s latest checkpoint.
        stop_at: stop after this many env steps (self-play and leagues: iterations); a checkpoint is written.
        console: where the summary and progress bar go.
        reward_model: policy-gradient runs only: learned rewards replace env rewards (GAIL).
        policy_init: policy-gradient runs only: ``ActorCritic.policy_state_dict`` weights to start from
            (behaviour cloning); ignored on resume, where the checkpoint has the weights.

    Returns:
        The trainer's result: ``RunResult`` (``SelfPlayResult`` for self-play, ``LeagueResult`` for leagues).
    """
    validate_config(cfg)  # every field's declared range, before anything is built (CLI, resume and Python API)
    extra: dict[str, Any] = {}
    if reward_model is not None or policy_init is not None:
        if not isinstance(cfg, PGTrainConfig):
            raise ValueError("a reward model or initial policy weights need a policy-gradient config")
        extra = {"reward_model": reward_model, "policy_init": policy_init}
    trainer = family_of(cfg).load_trainer(ray=cfg.distributed.kind == "ray")
    result: RunResult | SelfPlayResult | LeagueResult = trainer(cfg, run_dir, resume=resume, stop_at=stop_at,
                                                                console=console, **extra)
    return result


def run_selfplay(cfg: SelfPlayConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
                 console: Console | None = None) -> SelfPlayResult:
    """``train`` for self-play: until ``iterations`` (or ``stop_at`` iterations, the time limit, or a signal)."""
    result = train(cfg, run_dir, resume=resume, stop_at=stop_at, console=console)
    assert isinstance(result, SelfPlayResult)
    return result


def run_league(cfg: LeagueConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
               console: Console | None = None) -> LeagueResult:
    """``train`` for leagues: until ``iterations`` (or ``stop_at`` iterations, the time limit, or a signal)."""
    result = train(cfg, run_dir, resume=resume, stop_at=stop_at, console=console)
    assert isinstance(result, LeagueResult)
    return result
