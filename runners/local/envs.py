"""The run's env and device: what every single-process trainer (and the Ray workers) open the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from agents.errors import ConfigError
from envs import make
from envs.base import BatchedEnv, EnvSpec
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def env_options(cfg: TrainConfig | PGTrainConfig) -> dict[str, Any]:
    """Options forwarded to ``envs.make`` (only the Atari fast path reads them)."""
    e = cfg.env
    if e.id.lower().startswith("minatar") and e.frame_stack > 1:
        return {"frame_stack": e.frame_stack}
    if not _is_atari_id(e.id):
        return {}
    return {"repeat_action_probability": e.repeat_action_probability,
            "terminal_on_life_loss": e.terminal_on_life_loss, "full_action_space": e.full_action_space}


def _is_atari_id(env_id: str) -> bool:
    return env_id.startswith(("ale:", "ALE/")) or env_id.endswith(("NoFrameskip-v4", "Deterministic-v4"))


def open_env(cfg: Any, check: Callable[[Any, EnvSpec], None]) -> BatchedEnv:
    """Set torch's threads, make the run's env and validate the config against its spec with ``check``
    (the env is closed again when the config is rejected). Shared by every runner family."""
    if cfg.runner.torch_threads > 0:
        torch.set_num_threads(cfg.runner.torch_threads)
    env = make(cfg.env.id, cfg.env.num_envs, cfg.runner.seed, **env_options(cfg))
    try:
        check(cfg, env.spec)
    except ConfigError:
        env.close()
        raise
    return env
