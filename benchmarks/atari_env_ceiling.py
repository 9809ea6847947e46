"""How fast can Atari frames be produced here? The env-side ceiling for any Atari training run.

Measures agent steps per second (summed over sub-envs; one agent step = 4 emulator frames) with
uniform random actions and the DQN preprocessing (noop starts, frame skip 4 with max-pool, 84x84
grayscale, stack 4, no reward clipping) for:
1. ``measure_ale_ceiling``: the ALE's native C++ vector env (``ale_py.vector_env.AtariVectorEnv``)
   alone, ``num_threads`` worker threads;
2. ``measure_arena_atari``: arena's ``envs.make("ale:<game>")`` on top of it (seeding, episode
   statistics, action history for resume): the wrapper's overhead is the gap to 1;
3. ``measure_gym_wrappers``: Gymnasium's ``AtariPreprocessing`` + ``FrameStackObservation`` over
   ``ALE/<Game>-v5`` (frameskip 1, sticky actions off) in a ``SyncVectorEnv``: the pure-Python path.

Run: ``python benchmarks/atari_env_ceiling.py [game] [num_envs] [seconds]``; prints the three rates.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _camel(game: str) -> str:
    """``"ms_pacman"`` -> ``"MsPacman"`` (Gymnasium's ALE ids)."""
    return "".join(part.capitalize() for part in game.split("_"))


def _rate(step: Callable[[np.ndarray], object], num_envs: int, num_actions: int, seconds: float) -> float:
    """Agent steps per second (summed over sub-envs) of ``step`` with random actions for ``seconds``."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, num_actions, size=(1024, num_envs))  # drawn up front: not timed
    for t in range(20):  # warm up caches and threads
        step(actions[t])
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for t in range(64):
            step(actions[(steps + t) % 1024])
        steps += 64
    return steps * num_envs / (time.perf_counter() - start)


def measure_ale_ceiling(
    game: str = "pong", num_envs: int = 16, num_threads: int = 2, seconds: float = 20
) -> float:
    """Raw ``AtariVectorEnv`` agent steps/s (summed over ``num_envs``) with random actions.

    Args:
        game: snake-case ROM name.
        num_envs: sub-envs stepped together.
        num_threads: ALE worker threads.
        seconds: how long to time (after a short warm-up).

    Returns:
        Agent steps per second, each 4 emulator frames.
    """
    from ale_py.vector_env import AtariVectorEnv

    env = AtariVectorEnv(
        game, num_envs, num_threads=num_threads, reward_clipping=False, autoreset_mode="SameStep"
    )
    env.reset(seed=0)
    try:
        return _rate(env.step, num_envs, int(env.single_action_space.n), seconds)  # type: ignore[attr-defined]
    finally:
        env.close()


def measure_arena_atari(
    game: str = "pong", num_envs: int = 16, num_threads: int = 2, seconds: float = 20
) -> float:
    """``envs.make(f"ale:{game}")`` agent steps/s: the ALE plus arena's bookkeeping.

    Args:
        game: snake-case ROM name.
        num_envs: sub-envs stepped together.
        num_threads: ALE worker threads.
        seconds: how long to time.

    Returns:
        Agent steps per second, summed over sub-envs.
    """
    from envs import make

    env = make(f"ale:{game}", num_envs=num_envs, seed=0, num_threads=num_threads)
    env.reset()
    try:
        return _rate(env.step, num_envs, env.spec.num_actions, seconds)
    finally:
        env.close()


def measure_gym_wrappers(game: str = "pong", num_envs: int = 16, seconds: float = 20) -> float:
    """Gymnasium ``AtariPreprocessing`` + ``FrameStackObservation(4)`` in a ``SyncVectorEnv``.

    Same protocol as the native env: noop max 30, frame skip 4 (max-pooled), 84x84 grayscale,
    4 stacked frames, sticky actions off, minimal action set, 108,000-frame limit. Single-threaded.

    Args:
        game: snake-case ROM name.
        num_envs: sub-envs stepped together.
        seconds: how long to time.

    Returns:
        Agent steps per second, summed over sub-envs.
    """
    import ale_py
    import gymnasium as gym
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    gym.register_envs(ale_py)

    def make_one() -> gym.Env:
        env = gym.make(
            f"ALE/{_camel(game)}-v5",
            frameskip=1,
            repeat_action_probability=0.0,
            full_action_space=False,
            max_num_frames_per_episode=108_000,
        )
        env = AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
        return FrameStackObservation(env, 4)

    vec = gym.vector.SyncVectorEnv([make_one] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    vec.reset(seed=0)
    try:
        return _rate(vec.step, num_envs, int(vec.single_action_space.n), seconds)  # type: ignore[attr-defined]
    finally:
        vec.close()


def main() -> None:
    """Print the three rates for ``[game] [num_envs] [seconds]`` (default pong 16 20)."""
    game = sys.argv[1] if len(sys.argv) > 1 else "pong"
    num_envs = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
    print(f"{game}, {num_envs} envs, {seconds:g} s each; agent steps/s summed over envs (x4 = frames/s)")
    for threads in (1, 2):
        rate = measure_ale_ceiling(game, num_envs, threads, seconds)
        print(f"  ALE AtariVectorEnv, {threads} thread(s):      {rate:9.0f}")
    rate = measure_arena_atari(game, num_envs, 2, seconds)
    print(f"  arena make('ale:{game}'), 2 threads:   {rate:9.0f}")
    rate = measure_gym_wrappers(game, num_envs, seconds)
    print(f"  Gymnasium wrappers + SyncVectorEnv:   {rate:9.0f}")


if __name__ == "__main__":
    main()
