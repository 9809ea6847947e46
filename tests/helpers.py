"""Small config builders shared by runner tests."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from agents.bots.base import Player
from envs.games.base import Game
from runners.families.common import LogConfig
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.families.registry import PRESETS


def on_ray(cfg: Any, **options: Any) -> Any:
    """``cfg`` on a local Ray instance with two workers (its family's Ray options, plus ``options``)."""
    ray = {"kind": "ray", "num_workers": 2, "status_every": 0, **options}
    return replace(cfg, distributed=replace(cfg.distributed, **ray))


def quick(preset: str, run_dir: Path, total_steps: int = 200, **runner: int) -> TrainConfig:
    """``preset`` shrunk to a few hundred steps: small replay, early learning, no wandb or progress bar."""
    cfg = PRESETS[preset]()
    assert isinstance(cfg, TrainConfig), f"{preset} is not a DQN-family preset; use quick_pg"
    learning_starts = max(cfg.agent.batch_size, 64)
    return replace(
        cfg,
        replay=replace(cfg.replay, capacity=max(1_000, learning_starts * 4), learning_starts=learning_starts),
        runner=replace(cfg.runner, total_steps=total_steps, eval_every=0, eval_episodes=2,
                       checkpoint_every=runner.get("checkpoint_every", 0), torch_threads=1),
        log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=50),
    )


def quick_pg(preset: str, run_dir: Path, total_steps: int = 200, **runner: int) -> PGTrainConfig:
    """A policy-gradient ``preset`` shrunk to a few hundred steps: short rollouts and batches, no target return."""
    cfg = PRESETS[preset]()
    assert isinstance(cfg, PGTrainConfig), f"{preset} is not a policy-gradient preset; use quick"
    n = cfg.env.num_envs
    return replace(
        cfg,
        ppo=replace(cfg.ppo, rollout_length=max(min(cfg.ppo.rollout_length, total_steps // (2 * n)), 4),
                    num_minibatches=min(cfg.ppo.num_minibatches, 4)),
        reinforce=replace(cfg.reinforce, batch_steps=min(cfg.reinforce.batch_steps, 100)),
        runner=replace(cfg.runner, total_steps=total_steps, eval_every=0, eval_episodes=2, target_return=None,
                       checkpoint_every=runner.get("checkpoint_every", 0), torch_threads=1),
        log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=50),
    )


def quick_any(preset: str, run_dir: Path, total_steps: int = 200) -> TrainConfig | PGTrainConfig:
    """``quick`` or ``quick_pg``, by the preset's family."""
    if isinstance(PRESETS[preset](), PGTrainConfig):
        return quick_pg(preset, run_dir, total_steps)
    return quick(preset, run_dir, total_steps)


def eval_records(run_dir: Path) -> list[dict[str, Any]]:
    """The ``eval`` rows of ``run_dir``'s metrics.jsonl, in order."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "eval"]


def best_eval(run_dir: Path) -> float:
    return max(r["eval_mean"] for r in eval_records(run_dir))


def steps_to(run_dir: Path, threshold: float) -> int | None:
    """Env steps of the first evaluation whose mean reached ``threshold`` (None: never)."""
    return next((int(r["step"]) for r in eval_records(run_dir) if r["eval_mean"] >= threshold), None)


def lines_lost(player: Player, game: Game, seat: int) -> tuple[int, int]:
    """Play ``player`` (deterministic: greedy, no noise) in ``seat`` against every possible opponent line, not
    just perfect ones: ``(lines it loses, lines in all)``. Exhaustive, so only for small games (tic-tac-toe:
    a few hundred lines, seconds). The player's moves are searched a tree level at a time, in one batch."""
    frontier = [game.new_initial_state()]
    lost = total = 0
    while frontier:
        children = []
        mine = [s for s in frontier if s.current_player() == seat]
        for state, action in zip(mine, player.act(mine) if mine else [], strict=True):
            child = state.clone()
            child.apply(int(action))
            children.append(child)
        for state in frontier:
            if state.current_player() != seat:
                for action in np.flatnonzero(state.legal_mask()):
                    child = state.clone()
                    child.apply(int(action))
                    children.append(child)
        frontier = []
        for child in children:
            if child.is_terminal():
                total += 1
                lost += int(child.returns()[seat] < 0)
            else:
                frontier.append(child)
    return lost, total
