"""MinAtar (Young and Tian, 2019, arXiv:1903.03176) as a batched env with channels-first uint8 planes.

Deviation from MinAtar's own Gymnasium env: the sticky-action memory (``last_action``) is cleared
at every reset, so an episode's first action cannot repeat the previous episode's last one; this
makes each episode a function of its seed and actions alone (needed for exact resume).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from envs.gymnasium_env import GymnasiumVectorEnv

GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")

# One colour per channel (channel c drawn with _PALETTE[c % len]); background black.
_PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [210, 245, 60],
        [250, 190, 212],
    ],
    dtype=np.uint8,
)
_UPSCALE = 16  # 10x10 cells -> 160x160 pixels


class _ClearStickyAction(gym.Wrapper):
    """Resets MinAtar's sticky-action memory with the episode (see the module docstring)."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the game with ``last_action = 0``."""
        self.env.unwrapped.game.last_action = 0  # type: ignore[attr-defined]
        return self.env.reset(seed=seed, options=options)


def _channels_first(obs: np.ndarray) -> np.ndarray:
    """``[N, 10, 10, C]`` bool -> ``[N, C, 10, 10]`` uint8 in {0, 1}."""
    return np.ascontiguousarray(obs.transpose(0, 3, 1, 2), dtype=np.uint8)


def _stacked_channels_first(obs: np.ndarray) -> np.ndarray:
    """``[N, k, 10, 10, C]`` stacked frames -> ``[N, k * C, 10, 10]`` uint8 (frame-major channels)."""
    n, k, h, w, c = obs.shape
    return np.ascontiguousarray(obs.transpose(0, 1, 4, 2, 3).reshape(n, k * c, h, w), dtype=np.uint8)


def _render_newest(k: int) -> Callable[[np.ndarray], np.ndarray]:
    """Draw a stacked observation ``[k * C, 10, 10]`` by its newest frame (the last C channels)."""
    def draw(obs: np.ndarray) -> np.ndarray:
        return render_planes(obs[-(len(obs) // k):])
    return draw


def render_planes(obs: np.ndarray) -> np.ndarray:
    """Draw one ``[C, 10, 10]`` observation as a ``[160, 160, 3]`` uint8 RGB picture."""
    channels = obs.shape[0]
    colours = _PALETTE[np.arange(channels) % len(_PALETTE)]  # [C, 3]
    # Later channels paint over earlier ones, like MinAtar's own display (argmax of c * plane).
    top = np.where(obs.any(axis=0), (obs * np.arange(1, channels + 1)[:, None, None]).argmax(axis=0), -1)
    image = np.where(top[..., None] >= 0, colours[np.maximum(top, 0)], 0).astype(np.uint8)  # [10, 10, 3]
    return np.repeat(np.repeat(image, _UPSCALE, axis=0), _UPSCALE, axis=1)


def make_minatar(
    env_id: str,
    game: str,
    num_envs: int,
    seed: int,
    *,
    sticky_action_prob: float = 0.1,
    difficulty_ramping: bool = True,
    full_action_space: bool = False,
    max_episode_steps: int | None = None,
    frame_stack: int = 1,
    render: bool = False,
) -> GymnasiumVectorEnv:
    """Batch one MinAtar game.

    Args:
        env_id: the id as the user wrote it.
        game: snake-case game name, one of ``GAMES``.
        num_envs: number of sub-envs.
        seed: run seed.
        sticky_action_prob: MinAtar's sticky-action probability (its default, 0.1).
        difficulty_ramping: MinAtar's difficulty ramping (its default, on).
        full_action_space: all 6 actions instead of the game's minimal set (the ``-v0`` ids).
        max_episode_steps: truncate episodes at this many steps (MinAtar has no limit).
        frame_stack: stack the last k observations along the channels, oldest first (the first observation of
            an episode repeated before it): ``[k * C, 10, 10]``.
        render: unused; MinAtar frames are always drawn from the observation.

    Returns:
        The batched env; observations ``[C, 10, 10]`` uint8 in {0, 1}.
    """
    from minatar.gym import BaseEnv  # imported here: MinAtar pulls in matplotlib (~2 s)

    def make_one() -> gym.Env:
        env: gym.Env = BaseEnv(
            game,
            use_minimal_action_set=not full_action_space,
            sticky_action_prob=sticky_action_prob,
            difficulty_ramping=difficulty_ramping,
        )
        if max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        env = _ClearStickyAction(env)
        if frame_stack > 1:
            env = gym.wrappers.FrameStackObservation(env, frame_stack, padding_type="reset")
        return env

    protocol = {
        "game": game,
        "gymnasium_id": f"MinAtar/{game.title().replace('_', '')}-v{0 if full_action_space else 1}",
        "sticky_action_prob": sticky_action_prob,
        "difficulty_ramping": difficulty_ramping,
        "full_action_space": full_action_space,
        "max_episode_steps": max_episode_steps,
        "observation": "channels-first uint8 planes in {0, 1}",
        "sticky_memory_cleared_on_reset": True,
        "frame_stack": frame_stack,
    }
    return GymnasiumVectorEnv(
        [make_one] * num_envs,
        seed,
        env_id=env_id,
        kind="image",
        protocol=protocol,
        obs_fn=_channels_first if frame_stack == 1 else _stacked_channels_first,
        render_fn=render_planes if frame_stack == 1 else _render_newest(frame_stack),
    )
