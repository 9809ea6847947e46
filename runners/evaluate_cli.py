"""``arena eval``: load a checkpoint, check it fits the env, evaluate and report mean ± std."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from agents.dqn import build_q_network
from envs import make
from runners.checkpoint import CheckpointError, find_checkpoint, load, model_weights
from runners.config import EnvConfig, TrainConfig, from_dict
from runners.evaluate import record_video, run_episodes
from runners.loop import env_options


def evaluate_checkpoint(path: Path, episodes: int, epsilon: float, seed: int, video: bool,
                        env_id: str | None = None) -> int:
    if episodes < 1:
        raise CheckpointError("--episodes must be at least 1")
    ckpt_path = find_checkpoint(path)
    ckpt = load(ckpt_path)
    if not isinstance(ckpt, dict) or "config" not in ckpt:
        raise CheckpointError(f"{ckpt_path} is not an arena checkpoint")
    cfg: TrainConfig = from_dict(TrainConfig, ckpt["config"])
    trained_on = cfg.env.id
    if env_id is not None:
        cfg = replace(cfg, env=replace(cfg.env, id=env_id) if isinstance(cfg.env, EnvConfig) else cfg.env)
    env = make(cfg.env.id, 1, seed, **env_options(cfg))
    spec = env.spec
    env.close()
    meta = ckpt.get("trainer", ckpt)
    if list(spec.obs_shape) != list(meta["obs_shape"]) or spec.num_actions != meta["num_actions"]:
        raise CheckpointError(f"checkpoint was trained on {trained_on} (obs {tuple(meta['obs_shape'])}, "
                              f"{meta['num_actions']} actions), not {cfg.env.id} (obs {spec.obs_shape}, "
                              f"{spec.num_actions} actions)")
    network = build_q_network(cfg.agent, cfg.torso, spec)
    try:
        network.load_state_dict(model_weights(ckpt))
    except RuntimeError:
        raise CheckpointError(f"{ckpt_path}: weights do not fit the network its config describes") from None
    network.eval()
    with torch.no_grad():
        returns = np.asarray(run_episodes(network, cfg, episodes, epsilon, seed))
    print(f"{cfg.preset} on {cfg.env.id}: return {returns.mean():.2f} ± {returns.std():.2f} "
                  f"(min {returns.min():.2f}, max {returns.max():.2f}) over {episodes} episodes, epsilon {epsilon}")
    if video:
        out = record_video(network, cfg, epsilon, seed, ckpt_path.parent / f"eval-seed{seed}.mp4")
        print(f"video: {out}" if out else "this env cannot render a video")
    return 0
