"""Evaluation, separate from training: fixed episodes on their own seeded envs, greedy or a stated epsilon.

Q networks act epsilon-greedily; policy-gradient networks act with their distribution's mode (greedy).
An episode longer than ``max_steps`` agent steps is cut there and counted as truncated (its return so far
counts); a SIGINT/SIGTERM inside a run (``runners.local.signals``) cuts the evaluation short the same way.
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
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.local import signals

MAX_PARALLEL = 16
# (episodes finished or cut, episodes asked for, agent steps so far): evaluation progress for a console.
ProgressFn = Callable[[int, int, int], None]


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
    truncated: int = 0
    """Episodes cut at ``max_steps`` (or by a signal); their returns so far are in ``returns``."""
    interrupted: bool = False
    """A signal stopped the evaluation before all its episodes ended."""


@dataclass(frozen=True)
class Episodes:
    """What ``play_episodes`` returns: one entry per episode, in sub-env order."""

    returns: list[float]
    lengths: list[int]
    truncated: int
    interrupted: bool


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
    from runners.local.envs import env_options  # local import: loop imports this module
    return env_options(cfg)


ActFn = Callable[[np.ndarray], np.ndarray]


def run_policy_episodes(act: ActFn, env_id: str, options: dict[str, object], episodes: int, seed: int,
                        begin: Callable[[], None] | None = None, max_steps: int | None = None) -> list[float]:
    """Returns of ``episodes`` episodes of ``act``; ``play_episodes`` with only the returns."""
    return play_episodes(act, env_id, options, episodes, seed, begin=begin, max_steps=max_steps).returns


def play_episodes(act: ActFn, env_id: str, options: dict[str, object], episodes: int, seed: int,
                  begin: Callable[[], None] | None = None, max_steps: int | None = None,
                  progress: ProgressFn | None = None) -> Episodes:
    """``episodes`` episodes of ``act`` (``[n, *obs_shape] -> [n]`` or ``[n, d]`` actions).

    Exactly one episode per sub-environment, in rounds of at most ``MAX_PARALLEL``. Counting only each
    sub-env's first episode avoids the bias towards short episodes that comes from taking the first
    ``episodes`` to finish. ``begin`` is called before each round's first step (a recurrent policy forgets
    its state there). An episode still running after ``max_steps`` agent steps is cut (truncated, its
    return so far counted); a signal recorded by ``runners.local.signals`` cuts the round in progress the same
    way and skips the rounds not started. ``progress`` hears about every step (a console throttles it).
    """
    returns: list[float] = []
    lengths: list[int] = []
    truncated, total_steps, round_index = 0, 0, 0
    interrupted = False
    while len(returns) < episodes and not interrupted:
        n = min(episodes - len(returns), MAX_PARALLEL)
        env = make(env_id, n, seed + 7919 * round_index, **options)
        try:
            obs = env.reset()
            if begin is not None:
                begin()
            finished = np.zeros(n, dtype=bool)
            round_returns = np.zeros(n, dtype=np.float64)  # [n] summed rewards (final: the env's episode_return)
            round_lengths = np.zeros(n, dtype=np.int64)
            while not finished.all():
                res = env.step(act(obs))
                total_steps += int((~finished).sum())
                round_lengths[~finished] += 1
                round_returns[~finished] += res.reward[~finished]
                # episode_length > 0 marks a real episode end (an Atari life loss may set terminated alone).
                ended = (res.episode_length > 0) & ~finished
                round_returns[ended] = res.episode_return[ended]
                finished |= ended
                obs = res.obs
                interrupted = signals.stop_requested()
                if interrupted or (max_steps is not None and round_lengths.max() >= max_steps):
                    truncated += int((~finished).sum())  # all live episodes have run round_lengths.max() steps
                    finished[:] = True
                if progress is not None:
                    progress(len(returns) + int(finished.sum()), episodes, total_steps)
        finally:
            env.close()
        returns.extend(round_returns.tolist())
        lengths.extend(round_lengths.tolist())
        round_index += 1
    return Episodes(returns, lengths, truncated, interrupted)


def run_episodes(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int,
                 progress: ProgressFn | None = None) -> Episodes:
    """``play_episodes`` for a Q network acting epsilon-greedily, capped at ``cfg.runner.eval_max_steps``."""
    act, begin = q_policy(network, cfg, epsilon, seed)
    return play_episodes(act, cfg.env.id, _env_options(cfg), episodes, seed, begin=begin,
                         max_steps=cfg.runner.eval_max_steps, progress=progress)


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
                        begin: Callable[[], None] | None = None, max_steps: int | None = None) -> Path | None:
    """One episode of ``act`` (at most ``max_steps`` steps, and 30,000 frames) rendered to an mp4 at ``path``.

    Frames stream to ffmpeg as they are rendered, so a long Atari episode does not sit in memory. Returns
    None when the env cannot render, or when a signal (``runners.local.signals``) stops the recording, in which
    case the partial file is removed.
    """
    from moviepy.video.io.ffmpeg_writer import FFMPEG_VideoWriter

    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame-rendered envs need no sound device
    env = make(env_id, 1, seed, render=True, **options)
    try:
        obs = env.reset()
        if begin is not None:
            begin()
        frame = env.render(0)
        if frame is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        first = np.ascontiguousarray(np.asarray(frame)[..., :3], dtype=np.uint8)  # [H, W, 3]
        stopped = False
        with FFMPEG_VideoWriter(str(path), (first.shape[1], first.shape[0]), 30, codec="libx264") as writer:
            writer.write_frame(first)
            frames, done = 1, False
            while not done and frames < 30_000 and (max_steps is None or frames <= max_steps):
                stopped = signals.stop_requested()
                if stopped:
                    break
                res = env.step(act(obs))
                done = bool(res.episode_length[0] > 0)
                obs = res.obs
                frame = env.render(0)
                if frame is not None:
                    writer.write_frame(np.ascontiguousarray(np.asarray(frame)[..., :3], dtype=np.uint8))
                    frames += 1
    finally:
        env.close()
    if stopped:
        path.unlink(missing_ok=True)
        return None
    return path


def record_video(network: QNetwork, cfg: TrainConfig, epsilon: float, seed: int, path: Path) -> Path | None:
    """``record_policy_video`` for a Q network acting epsilon-greedily."""
    act, begin = q_policy(network, cfg, epsilon, seed)
    return record_policy_video(act, cfg.env.id, _env_options(cfg), seed, path, begin=begin,
                               max_steps=cfg.runner.eval_max_steps)


def evaluate(network: QNetwork, cfg: TrainConfig, episodes: int, epsilon: float, seed: int,
             video_dir: Path | None = None, step: int = 0, progress: ProgressFn | None = None) -> EvalResult:
    """Evaluate a copy of ``network`` in eval mode (noisy layers use their mean weights).

    ``progress`` hears ``(episodes done, episodes, steps)`` as the evaluation goes (``RunLogger.eval_progress``).
    """
    net = copy.deepcopy(network).eval()
    played = run_episodes(net, cfg, episodes, epsilon, seed, progress=progress)
    video = None
    if video_dir is not None and not played.interrupted:
        path = record_video(net, cfg, epsilon, seed, video_dir / f"eval-{step:09d}.mp4")
        video = str(path) if path is not None else None
    return _result(played, step, epsilon, video)


def _result(played: Episodes, step: int, epsilon: float, video: str | None) -> EvalResult:
    arr = np.asarray(played.returns)
    return EvalResult(step=step, mean=float(arr.mean()), std=float(arr.std()), min=float(arr.min()),
                      max=float(arr.max()), returns=tuple(float(x) for x in arr), epsilon=epsilon, video=video,
                      truncated=played.truncated, interrupted=played.interrupted)


def greedy_policy(network: ActorCritic, seed: int = 0) -> ActFn:
    """``obs -> actions`` taking the mode of ``network``'s action distribution (one call per step).

    A recurrent network's state is carried from call to call (see ``PolicyActor``).
    """
    actor = PolicyActor(network, seed=seed, greedy=True)
    return lambda obs: actor.step(obs).action


def evaluate_policy(network: ActorCritic, cfg: PGTrainConfig, episodes: int, seed: int,
                    video_dir: Path | None = None, step: int = 0, progress: ProgressFn | None = None) -> EvalResult:
    """Greedy (distribution mode) evaluation of a copy of a policy-gradient network; epsilon is reported as 0.

    A recurrent policy carries its state through each episode, starting from the initial state.
    """
    net = copy.deepcopy(network).eval()
    actor = PolicyActor(net, seed=seed, greedy=True)

    def act(obs: np.ndarray) -> np.ndarray:
        return actor.step(obs).action

    options = _env_options(cfg)
    cap = cfg.runner.eval_max_steps
    played = play_episodes(act, cfg.env.id, options, episodes, seed, begin=actor.begin_episodes, max_steps=cap,
                           progress=progress)
    video = None
    if video_dir is not None and not played.interrupted:
        path = record_policy_video(act, cfg.env.id, options, seed, video_dir / f"eval-{step:09d}.mp4",
                                   begin=actor.begin_episodes, max_steps=cap)
        video = str(path) if path is not None else None
    return _result(played, step, 0.0, video)
