"""Evaluation, separate from training: fixed episodes on their own seeded envs, greedy or a stated epsilon."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.dqn import DQNActor, QNetwork
from envs import make
from runners.config import TrainConfig

MAX_PARALLEL = 16


@dataclass(frozen=True)
class EvalResult:
    step: int
    mean: float
    std: float
    min: float
    max: float
    returns: tuple[float, ...]
    epsilon: float
    video: str | None = None


def _env_options(cfg: TrainConfig) -> dict[str, object]:
    from runners.loop import env_options  # local import: loop imports this module
    return env_options(cfg)


def run_episodes(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int) -> list[float]:
    """Exactly one episode per sub-environment, in rounds of at most ``MAX_PARALLEL``.

    Counting only each sub-env's first episode avoids the bias towards short episodes that comes
    from taking the first ``episodes`` to finish.
    """
    actor = DQNActor(network, cfg.agent, seed=seed, greedy=True, epsilon=epsilon)
    returns: list[float] = []
    round_index = 0
    while len(returns) < episodes:
        n = min(episodes - len(returns), MAX_PARALLEL)
        env = make(cfg.env.id, n, seed + 7919 * round_index, **_env_options(cfg))
        obs = env.reset()
        finished = np.zeros(n, dtype=bool)
        round_returns = np.zeros(n, dtype=np.float64)
        while not finished.all():
            action, _ = actor.act(obs)
            res = env.step(action)
            ended = (res.terminated | res.truncated) & ~finished
            round_returns[ended] = res.episode_return[ended]
            finished |= ended
            obs = res.obs
        env.close()
        returns.extend(round_returns.tolist())
        round_index += 1
    return returns


def record_video(network: QNetwork, cfg: TrainConfig, epsilon: float, seed: int, path: Path) -> Path | None:
    """One episode rendered to an mp4 at ``path``; None when the env cannot render."""
    from moviepy import ImageSequenceClip

    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame-rendered envs need no sound device
    actor = DQNActor(network, cfg.agent, seed=seed, greedy=True, epsilon=epsilon)
    env = make(cfg.env.id, 1, seed, render=True, **_env_options(cfg))
    obs = env.reset()
    frames = []
    frame = env.render(0)
    if frame is None:
        env.close()
        return None
    frames.append(frame)
    done = False
    while not done and len(frames) < 30_000:
        action, _ = actor.act(obs)
        res = env.step(action)
        done = bool(res.terminated[0] or res.truncated[0])
        obs = res.obs
        frame = env.render(0)
        if frame is not None:
            frames.append(frame)
    env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = ImageSequenceClip([np.asarray(f) for f in frames], fps=30)
    clip.write_videofile(str(path), codec="libx264", audio=False, logger=None)
    return path


def evaluate(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int,
             video_dir: Path | None = None, step: int = 0) -> EvalResult:
    """Evaluate a copy of ``network`` in eval mode (noisy layers use their mean weights)."""
    net = copy.deepcopy(network).eval()
    returns = run_episodes(net, cfg, episodes, epsilon, seed)
    video = None
    if video_dir is not None:
        path = record_video(net, cfg, epsilon, seed, video_dir / f"eval-{step:09d}.mp4")
        video = str(path) if path is not None else None
    arr = np.asarray(returns)
    return EvalResult(step=step, mean=float(arr.mean()), std=float(arr.std()), min=float(arr.min()),
                      max=float(arr.max()), returns=tuple(float(x) for x in arr), epsilon=epsilon, video=video)
