"""Batched Gymnasium envs (any registered id, MinAtar, arena's fakes) over ``SyncVectorEnv``.

Gymnasium's vector env runs with ``autoreset_mode=DISABLED`` so it never resets on its own; the
``SeededVectorEnv`` base resets finished sub-envs with ``reset(seed=[...], options={"reset_mask": m})``
inside the same ``step`` call, keeping the final observation as ``next_obs``.

Actions: ``Discrete`` spaces give integer actions; 1-D float ``Box`` spaces (Pendulum-v1,
MountainCarContinuous-v0) give continuous ones, clipped to the box by ``SeededVectorEnv.step``.
Every other action space is refused with ``UnsupportedEnvError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from envs.base import EnvSpec
from envs.errors import UnsupportedEnvError
from envs.seeded import SeededVectorEnv

ObsFn = Callable[[np.ndarray], np.ndarray]
RenderFn = Callable[[np.ndarray], np.ndarray]


class GymnasiumVectorEnv(SeededVectorEnv):
    """A ``BatchedEnv`` over ``N`` Gymnasium envs with ``Discrete`` or 1-D ``Box`` actions."""

    def __init__(
        self,
        env_fns: list[Callable[[], gym.Env]],
        seed: int,
        *,
        env_id: str,
        kind: str | None = None,
        frame_stack: int = 1,
        protocol: dict[str, Any] | None = None,
        obs_fn: ObsFn | None = None,
        render_fn: RenderFn | None = None,
    ) -> None:
        """Build the sub-envs and describe them.

        Args:
            env_fns: one constructor per sub-env.
            seed: run seed.
            env_id: the id as the user wrote it.
            kind: ``EnvSpec.kind``; ``None`` means ``"vector"`` and only accepts flat ``Box`` or
                ``Discrete`` (one-hot) observations.
            frame_stack: frames stacked in each observation.
            protocol: extra facts for ``EnvSpec.protocol``.
            obs_fn: maps a backend observation batch to arena's (e.g. one-hot, channels-first).
            render_fn: draws one arena observation as RGB; when ``None`` the sub-env's own
                ``render()`` is used if it was made with ``render_mode="rgb_array"``.
        """
        self._vec = SyncVectorEnv(env_fns, copy=True, autoreset_mode=AutoresetMode.DISABLED)
        action_space = self._vec.single_action_space
        try:
            action_fields = _action_fields(env_id, action_space)
        except UnsupportedEnvError:
            self._vec.close()
            raise
        self._action_offset = int(action_space.start) if isinstance(action_space, gym.spaces.Discrete) else 0
        obs_space = self._vec.single_observation_space
        if obs_fn is None and isinstance(obs_space, gym.spaces.Discrete):
            obs_fn = _one_hot_fn(obs_space)
        elif (
            obs_fn is None
            and kind is None
            and not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1)
        ):
            self._vec.close()
            raise UnsupportedEnvError(
                f"{env_id!r} has observation space {obs_space}; arena batches flat Box or Discrete "
                "observations (images come through the ale: and minatar: ids)"
            )
        self._obs_fn = obs_fn
        self._render_fn = render_fn
        # One transformed dummy observation fixes the spec's shape and dtype.
        sample = self._transform(np.zeros((1, *(obs_space.shape or ())), dtype=obs_space.dtype))
        gym_spec = self._vec.envs[0].spec
        spec = EnvSpec(
            env_id=env_id,
            obs_shape=tuple(sample.shape[1:]),
            obs_dtype=str(sample.dtype),
            kind=kind or "vector",
            frame_stack=frame_stack,
            protocol={
                "backend": "gymnasium.vector.SyncVectorEnv",
                "gymnasium_version": gym.__version__,
                "max_episode_steps": gym_spec.max_episode_steps if gym_spec is not None else None,
                "autoreset": "same-step, seeded per episode by arena",
                "seeding": "SeedSequence([seed, env_index, episode])",
                "reward_clipping": False,
                "exact_resume": True,
                **(protocol or {}),
            },
            **action_fields,
        )
        super().__init__(spec, len(env_fns), seed)

    def _transform(self, obs: np.ndarray) -> np.ndarray:
        """Apply ``obs_fn`` to a ``[N, ...]`` backend batch."""
        return obs if self._obs_fn is None else self._obs_fn(obs)

    def _raw_reset(self, seeds: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Reset the masked sub-envs with their seeds (see ``SeededVectorEnv``)."""
        obs: np.ndarray
        if mask is None:
            obs, _ = self._vec.reset(seed=[int(s) for s in seeds])
        else:
            seed_list: list[int | None] = [int(s) if m else None for s, m in zip(seeds, mask, strict=True)]
            obs, _ = self._vec.reset(seed=seed_list, options={"reset_mask": np.asarray(mask, dtype=bool)})
        return self._transform(obs)

    def _raw_step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every sub-env (actions already checked and clipped); episodes end on ``terminated | truncated``."""
        obs: np.ndarray
        reward: np.ndarray
        terminated: np.ndarray
        truncated: np.ndarray
        obs, reward, terminated, truncated, _ = self._vec.step(
            action if self.spec.continuous else action + self._action_offset
        )
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        return self._transform(obs), np.asarray(reward), terminated, truncated, terminated | truncated

    def render(self, index: int = 0) -> np.ndarray | None:
        """RGB ``[H, W, 3]`` uint8 of sub-env ``index``, or ``None`` without ``make(..., render=True)``."""
        if self._render_fn is not None and self._obs is not None:
            return self._render_fn(self._obs[index])
        if self._vec.envs[index].render_mode != "rgb_array":
            return None
        frame: Any = self._vec.envs[index].render()
        return None if frame is None else np.asarray(frame, dtype=np.uint8)

    def close(self) -> None:
        """Close every sub-env."""
        self._vec.close()


def _action_fields(env_id: str, space: gym.Space[Any]) -> dict[str, Any]:
    """The ``EnvSpec`` action fields of ``space``; ``UnsupportedEnvError`` unless Discrete or 1-D float Box."""
    if isinstance(space, gym.spaces.Discrete):
        return {"num_actions": int(space.n)}
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1 and np.issubdtype(space.dtype, np.floating):
        return {
            "num_actions": 0,
            "action_shape": tuple(int(d) for d in space.shape),
            "action_low": tuple(float(x) for x in space.low),
            "action_high": tuple(float(x) for x in space.high),
        }
    # str(space) of a Dict or Tuple space can be long but is one line; keep the message one line anyway.
    shown = " ".join(str(space).split())
    raise UnsupportedEnvError(f"{env_id!r} has action space {shown}; arena needs Discrete or a 1-D float Box")


def _one_hot_fn(space: gym.spaces.Discrete) -> ObsFn:
    """Observation function one-hot encoding a ``Discrete`` observation as ``[n]`` float32."""
    eye = np.eye(int(space.n), dtype=np.float32)
    start = int(space.start)

    def one_hot(obs: np.ndarray) -> np.ndarray:
        return eye[np.asarray(obs, dtype=np.int64) - start]

    return one_hot


def make_gymnasium(
    env_id: str, num_envs: int, seed: int, render: bool = False, **options: Any
) -> GymnasiumVectorEnv:
    """Batch a registered Gymnasium id; ``options`` go to ``gymnasium.make`` (e.g. ``max_episode_steps``).

    Args:
        env_id: a Gymnasium registry id with a ``Discrete`` or 1-D ``Box`` action space.
        num_envs: number of sub-envs.
        seed: run seed.
        render: create sub-envs with ``render_mode="rgb_array"`` so ``render()`` returns frames.
        **options: keyword arguments for ``gymnasium.make``.

    Returns:
        The batched env.
    """
    kwargs = dict(options)
    if render:
        kwargs["render_mode"] = "rgb_array"

    def make_one() -> gym.Env:
        return gym.make(env_id, **kwargs)

    return GymnasiumVectorEnv(
        [make_one] * num_envs, seed, env_id=env_id, protocol={"make_kwargs": _plain(options)}
    )


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """Keep only JSON-friendly option values (for ``EnvSpec.protocol``)."""
    return {k: v for k, v in options.items() if isinstance(v, int | float | str | bool | type(None))}
