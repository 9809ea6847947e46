"""Atomic checkpoints and exact resume.

A checkpoint is a ``torch.save`` of plain containers and tensors only, so it loads with
``weights_only=True`` (no pickled code). Numpy arrays travel as byte tensors with dtype and shape.
Replay is saved beside it (``replay-STEP.pt``) when it fits the configured budget; the main file is
written last and names its replay file, so a crash at any point leaves a consistent pair.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runners.local import signals

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest.pt"
MODEL = "model.pt"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A missing, corrupt or mismatched checkpoint."""


def encode(obj: Any) -> Any:
    """Replace numpy arrays and scalars by weights_only-safe values, recursively."""
    if isinstance(obj, np.ndarray):
        flat = np.ascontiguousarray(obj).reshape(-1).view(np.uint8)
        return {"__ndarray__": torch.from_numpy(flat.copy()), "dtype": obj.dtype.str, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(encode(v) for v in obj)
    return obj


def decode(obj: Any) -> Any:
    """Inverse of ``encode``."""
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            raw = obj["__ndarray__"].numpy()
            return raw.view(np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(decode(v) for v in obj)
    return obj


def atomic_save(obj: Any, path: Path) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    SIGINT / SIGTERM wait until the file is in place (``runners.local.signals.deferred``), then act as they would.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with signals.deferred(reraise=True):
        with open(tmp, "wb") as f:
            torch.save(encode(obj), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def load(path: Path) -> Any:
    """Load a file written by ``atomic_save``; CheckpointError when missing or unreadable."""
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # A foreign pickle makes torch warn (pickle protocol) before it refuses: the refusal alone is the message.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return decode(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable arena checkpoint ({type(e).__name__})") from None


def find_checkpoint(path: Path) -> Path:
    """Accept a run directory, its checkpoints/ directory, or a checkpoint file."""
    for candidate in (path / CHECKPOINT_DIR / LATEST, path / LATEST, path / CHECKPOINT_DIR / MODEL, path):
        if candidate.is_file():
            return candidate
    raise CheckpointError(f"no checkpoint found at {path}")


def save_trainer(trainer: Any, run_dir: Path, final: bool, config: dict[str, Any],
                 env_spec: dict[str, Any] | None = None) -> Path:
    """Checkpoint everything ``trainer`` needs to resume; also ``model.pt`` on the final save.

    ``config`` is exactly ``to_dict(cfg)`` of the run's config class (so ``from_dict`` rebuilds it); the
    env's protocol as the env reported it is kept beside it under ``env_spec``.
    """
    ckpt_dir = run_dir / CHECKPOINT_DIR
    buffer = getattr(trainer, "buffer", None)  # on-policy trainers hold no replay between updates
    with_replay = buffer is not None and buffer.nbytes <= trainer.cfg.replay.checkpoint_budget_gb * 1e9
    state = trainer.state_dict(with_replay=False)
    replay_file = None
    if with_replay and buffer is not None:
        replay_file = f"replay-{trainer.step:012d}.pt"
        atomic_save(buffer.state_dict(), ckpt_dir / replay_file)
    atomic_save({"format_version": FORMAT_VERSION, "config": config, "env_spec": env_spec or {},
                 "trainer": state, "replay_file": replay_file}, ckpt_dir / LATEST)
    for old in ckpt_dir.glob("replay-*.pt"):
        if old.name != replay_file:
            old.unlink(missing_ok=True)
    if final:
        atomic_save({**model_payload(trainer, config), "env_spec": env_spec or {}}, ckpt_dir / MODEL)
    return ckpt_dir / LATEST


def model_payload(trainer: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The acting network's weights (``learner.get_params``) with what is needed to check an env fits them."""
    spec = trainer.spec
    return {"format_version": FORMAT_VERSION, "config": config, "step": trainer.step,
            "model": trainer.learner.get_params()[1], "env_id": spec.env_id,
            "obs_shape": list(spec.obs_shape), "num_actions": spec.num_actions,
            "action_shape": list(spec.action_shape)}


def load_trainer_state(run_dir: Path, check: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The trainer state of ``run_dir``'s latest checkpoint, with its replay when one was saved.

    ``check(checkpoint)`` may refuse the checkpoint (``runners.local.resume.check_fits``) before its replay,
    possibly gigabytes, loads.
    """
    ckpt = load(find_checkpoint(run_dir))
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("trainer"), dict):
        raise CheckpointError(f"{run_dir} holds no trainer state (a model-only or foreign checkpoint); "
                              "it cannot be resumed")
    if check is not None:
        check(ckpt)
    state = ckpt["trainer"]
    if ckpt.get("replay_file"):
        state["replay"] = load(run_dir / CHECKPOINT_DIR / ckpt["replay_file"])
    return state


def model_weights(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Acting-network weights from either checkpoint kind (DQN's online network, a PG actor-critic)."""
    if "model" in ckpt:
        return ckpt["model"]
    if "trainer" in ckpt:
        learner = ckpt["trainer"]["learner"]
        return learner["online"] if "online" in learner else learner["network"]
    raise CheckpointError("checkpoint holds no model weights")
