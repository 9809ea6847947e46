"""Evaluation, separate from training: fixed episodes on their own seeded envs, greedy or a stated epsilon.

Q networks act epsilon-greedily; policy-gradient networks act with their distribution's mode (greedy).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.actor_critic import ActorCritic, PolicyActor
from agents.dqn import DQNActor, QNetwork
from envs import make
from runners.config import TrainConfig
from runners.pg_config import PGTrainConfig

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


def due_evaluation(runner: Any, step: int, evals_done: int, force: bool = False) -> tuple[int, int] | None:
    """The schedule every trainer follows: an evaluation every ``runner.eval_every`` env steps (or when
    ``force``d), unless ``runner.eval_episodes`` is 0.

    Returns:
        ``(evals_done, seed)`` for the evaluation due at ``step``, or None. The seed depends only on the run's
        seed and the evaluation's index, so a resumed run evaluates on the same episodes.
    """
    every = runner.eval_every
    if runner.eval_episodes <= 0 or not (force or (every > 0 and step // every > evals_done)):
        return None
    done = step // every if every > 0 else evals_done
    return done, runner.seed + 1_000_003 * (done + 1)


def _env_options(cfg: TrainConfig | PGTrainConfig) -> dict[str, object]:
    from runners.loop import env_options  # local import: loop imports this module
    return env_options(cfg)


ActFn = Callable[[np.ndarray], np.ndarray]


def run_policy_episodes(act: ActFn, env_id: str, options: dict[str, object], episodes: int, seed: int,
                        begin: Callable[[], None] | None = None) -> list[float]:
    """Returns of ``episodes`` episodes of ``act`` (``[n, *obs_shape] -> [n]`` or ``[n, d]`` actions).

    Exactly one episode per sub-environment, in rounds of at most ``MAX_PARALLEL``. Counting only each
    sub-env's first episode avoids the bias towards short episodes that comes from taking the first
    ``episodes`` to finish. ``begin`` is called before each round's first step (a recurrent policy forgets
    its state there).
    """
    returns: list[float] = []
    round_index = 0
    while len(returns) < episodes:
        n = min(episodes - len(returns), MAX_PARALLEL)
        env = make(env_id, n, seed + 7919 * round_index, **options)
        obs = env.reset()
        if begin is not None:
            begin()
        finished = np.zeros(n, dtype=bool)
        round_returns = np.zeros(n, dtype=np.float64)
        while not finished.all():
            res = env.step(act(obs))
            # episode_length > 0 marks a real episode end (an Atari life loss may set terminated alone).
            ended = (res.episode_length > 0) & ~finished
            round_returns[ended] = res.episode_return[ended]
            finished |= ended
            obs = res.obs
        env.close()
        returns.extend(round_returns.tolist())
        round_index += 1
    return returns


def run_episodes(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int) -> list[float]:
    """``run_policy_episodes`` for a Q network acting epsilon-greedily."""
    act, begin = q_policy(network, cfg, epsilon, seed)
    return run_policy_episodes(act, cfg.env.id, _env_options(cfg), episodes, seed, begin=begin)


def q_policy(network: QNetwork, cfg: TrainConfig, epsilon: float, seed: int) -> tuple[ActFn, Callable[[], None]]:
    """``(act, begin)`` for a Q network acting epsilon-greedily; a memory torso's state is carried from call to
    call, and ``begin`` forgets it (before a round of fresh episodes)."""
    actor = DQNActor(network, cfg.agent, seed=seed, greedy=True, epsilon=epsilon)
    carried: list[Any] = [None]

    def act(obs: np.ndarray) -> np.ndarray:
        action, carried[0] = actor.act(obs, carried[0])
        return action

    def begin() -> None:
        carried[0] = None

    return act, begin


def record_policy_video(act: ActFn, env_id: str, options: dict[str, object], seed: int, path: Path,
                        begin: Callable[[], None] | None = None) -> Path | None:
    """One episode of ``act`` rendered to an mp4 at ``path``; None when the env cannot render."""
    from moviepy import ImageSequenceClip

    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame-rendered envs need no sound device
    env = make(env_id, 1, seed, render=True, **options)
    obs = env.reset()
    if begin is not None:
        begin()
    frames = []
    frame = env.render(0)
    if frame is None:
        env.close()
        return None
    frames.append(frame)
    done = False
    while not done and len(frames) < 30_000:
        res = env.step(act(obs))
        done = bool(res.episode_length[0] > 0)
        obs = res.obs
        frame = env.render(0)
        if frame is not None:
            frames.append(frame)
    env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    clip = ImageSequenceClip([np.asarray(f) for f in frames], fps=30)
    clip.write_videofile(str(path), codec="libx264", audio=False, logger=None)
    return path


def record_video(network: QNetwork, cfg: TrainConfig, epsilon: float, seed: int, path: Path) -> Path | None:
    """``record_policy_video`` for a Q network acting epsilon-greedily."""
    act, begin = q_policy(network, cfg, epsilon, seed)
    return record_policy_video(act, cfg.env.id, _env_options(cfg), seed, path, begin=begin)


def evaluate(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int,
             video_dir: Path | None = None, step: int = 0) -> EvalResult:
    """Evaluate a copy of ``network`` in eval mode (noisy layers use their mean weights)."""
    net = copy.deepcopy(network).eval()
    returns = run_episodes(net, cfg, episodes, epsilon, seed)
    video = None
    if video_dir is not None:
        path = record_video(net, cfg, epsilon, seed, video_dir / f"eval-{step:09d}.mp4")
        video = str(path) if path is not None else None
    return _result(returns, step, epsilon, video)


def _result(returns: list[float], step: int, epsilon: float, video: str | None) -> EvalResult:
    arr = np.asarray(returns)
    return EvalResult(step=step, mean=float(arr.mean()), std=float(arr.std()), min=float(arr.min()),
                      max=float(arr.max()), returns=tuple(float(x) for x in arr), epsilon=epsilon, video=video)


def greedy_policy(network: ActorCritic, seed: int = 0) -> ActFn:
    """``obs -> actions`` taking the mode of ``network``'s action distribution (one call per step).

    A recurrent network's state is carried from call to call (see ``PolicyActor``).
    """
    actor = PolicyActor(network, seed=seed, greedy=True)
    return lambda obs: actor.step(obs).action


def evaluate_policy(network: ActorCritic, cfg: PGTrainConfig, episodes: int, seed: int,
                    video_dir: Path | None = None, step: int = 0) -> EvalResult:
    """Greedy (distribution mode) evaluation of a copy of a policy-gradient network; epsilon is reported as 0.

    A recurrent policy carries its state through each episode, starting from the initial state.
    """
    net = copy.deepcopy(network).eval()
    actor = PolicyActor(net, seed=seed, greedy=True)

    def act(obs: np.ndarray) -> np.ndarray:
        return actor.step(obs).action

    options = _env_options(cfg)
    returns = run_policy_episodes(act, cfg.env.id, options, episodes, seed, begin=actor.begin_episodes)
    video = None
    if video_dir is not None:
        path = record_policy_video(act, cfg.env.id, options, seed, video_dir / f"eval-{step:09d}.mp4",
                                   begin=actor.begin_episodes)
        video = str(path) if path is not None else None
    return _result(returns, step, 0.0, video)
