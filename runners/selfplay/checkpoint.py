"""Self-play checkpoints: ``latest.pt`` (everything to resume) and ``model.pt`` (the network, for players)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.families.common import to_dict
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, CheckpointError, atomic_save, load
from runners.selfplay.trainer import SelfPlayTrainer

FORMAT = "arena-selfplay-1"


def save_selfplay(trainer: SelfPlayTrainer, run_dir: Path, final: bool) -> None:
    """``latest.pt`` (everything to resume) and, on the final save, ``model.pt`` (the network alone)."""
    ckpt_dir = run_dir / CHECKPOINT_DIR
    config = to_dict(trainer.cfg)
    atomic_save({"format": FORMAT, "config": config, "trainer": trainer.state_dict()}, ckpt_dir / LATEST)
    if final:
        atomic_save(model_payload(trainer), ckpt_dir / MODEL)


def model_payload(trainer: SelfPlayTrainer) -> dict[str, Any]:
    game = trainer.game
    return {"format": FORMAT, "config": to_dict(trainer.cfg), "model": trainer.net.state_dict(),
            "game": game.name, "obs_shape": list(game.obs_shape), "num_actions": game.num_actions,
            "iteration": trainer.iteration}


def load_selfplay_checkpoint(path: Path) -> dict[str, Any]:
    """A self-play checkpoint (file or run directory); CheckpointError for anything else."""
    candidates = [path / CHECKPOINT_DIR / MODEL, path / CHECKPOINT_DIR / LATEST, path] if path.is_dir() else [path]
    for c in candidates:
        if c.is_file():
            ckpt = load(c)
            if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
                raise CheckpointError(f"{c} is not an arena self-play checkpoint")
            return ckpt
    raise CheckpointError(f"no self-play checkpoint found at {path}")
