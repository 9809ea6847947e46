"""Observation stores that hand out integer references, so replay never holds an observation twice.

Following Dopamine's split of replay into storage, sampler and accumulator (Castro et al. 2018,
"Dopamine: A Research Framework for Deep Reinforcement Learning"), observations live here and the
transition ring (``buffer.py``) holds only integer refs into them.

* ``ArrayObsStore``: any observation (feature vectors, MinAtar planes). Consecutive transitions share an
  observation (``next_obs`` of step t is ``obs`` of step t + 1), so each observation is pushed once.
* ``FrameStackStore``: stacked frames ``[stack, H, W]`` (Atari, Mnih et al. 2015). Each frame is stored
  once: an episode's first observation pushes all ``stack`` frames, every later step pushes only the
  newest frame, and stacks are rebuilt at sample time by gathering ``stack`` consecutive frames. A stack
  never mixes two episodes, because each episode's first stack is pushed whole.

Both keep one ring per environment with absolute (never wrapping) counters. A ref encodes
``counter * num_envs + env`` for the newest frame of an observation; it stays valid while its oldest
frame is newer than ``count[env] - slots``, which ``is_live`` checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ArrayObsStore:
    """Per-environment rings of whole observations.

    Args:
        num_envs: number of environments ``N``; each has its own ring.
        slots: ring length per environment.
        obs_shape: shape of one observation.
        dtype: observation dtype (e.g. ``"float32"``, ``"uint8"``).
    """

    #: frames per observation rebuilt by ``get``; 1 here, ``stack`` in ``FrameStackStore``.
    stack: int = 1

    def __init__(self, num_envs: int, slots: int, obs_shape: tuple[int, ...], dtype: str | np.dtype) -> None:
        if num_envs < 1 or slots < 1:
            raise ValueError(f"num_envs and slots must be >= 1, got {num_envs}, {slots}")
        self.num_envs = int(num_envs)
        self.slots = int(slots)
        self.obs_shape = tuple(int(s) for s in obs_shape)
        self.dtype = np.dtype(dtype)
        item_shape = self._item_shape(self.obs_shape)
        self.items = np.zeros((self.num_envs * self.slots, *item_shape), dtype=self.dtype)  # [N*S, *item]
        self.count = np.zeros(self.num_envs, dtype=np.int64)  # [N] items ever pushed per env

    @staticmethod
    def _item_shape(obs_shape: tuple[int, ...]) -> tuple[int, ...]:
        return obs_shape

    @classmethod
    def estimate_nbytes(
        cls, num_envs: int, slots: int, obs_shape: tuple[int, ...], dtype: str | np.dtype
    ) -> int:
        """Bytes a store of this configuration holds, without allocating it."""
        item = int(np.prod(cls._item_shape(tuple(obs_shape)), dtype=np.int64)) * np.dtype(dtype).itemsize
        return num_envs * slots * item + num_envs * 8

    @property
    def nbytes(self) -> int:
        """Bytes held by all arrays of the store."""
        return int(self.items.nbytes + self.count.nbytes)

    def push(self, env_ids: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Append one item per env: ``obs`` is ``[M, *item_shape]`` for distinct ``env_ids`` ``[M]``.

        Returns:
            ``[M]`` int64 refs to the pushed items.
        """
        env_ids = np.asarray(env_ids, dtype=np.int64)
        counter = self.count[env_ids]  # [M]
        self.items[env_ids * self.slots + counter % self.slots] = obs
        self.count[env_ids] = counter + 1
        return counter * self.num_envs + env_ids

    def push_first(self, env_ids: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Store the first observation of an episode, ``[M, *obs_shape]``; returns ``[M]`` refs."""
        return self.push(env_ids, obs)

    def push_next(self, env_ids: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """Store the observation following the previous one of the same episode; returns ``[M]`` refs."""
        return self.push(env_ids, next_obs)

    def _locate(self, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        refs = np.asarray(refs, dtype=np.int64)
        return refs % self.num_envs, refs // self.num_envs  # env [B], counter [B]

    def get(self, refs: np.ndarray) -> np.ndarray:
        """Observations for ``[B]`` refs as ``[B, *obs_shape]`` in the stored dtype."""
        env, counter = self._locate(refs)
        return self.items[env * self.slots + counter % self.slots]

    def oldest_counter(self, refs: np.ndarray) -> np.ndarray:
        """Counter of the oldest item each ref's observation needs, ``[B]`` int64."""
        return self._locate(refs)[1] - (self.stack - 1)

    def is_live(self, refs: np.ndarray) -> np.ndarray:
        """``[B]`` bool: every item the observation needs is still in its env's ring."""
        env, _ = self._locate(refs)
        return self.oldest_counter(refs) >= self.count[env] - self.slots

    def state_dict(self, copy: bool = True) -> dict[str, Any]:
        """Counters and the filled part of the rings ``[N, used, *item]``; ``copy=False`` gives views."""
        used = int(min(self.count.max(), self.slots))
        rings = self.items.reshape(self.num_envs, self.slots, *self.items.shape[1:])[:, :used]
        return {"count": self.count.copy(), "items": rings.copy() if copy else rings}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore from ``state_dict`` output of a store with the same configuration."""
        items = np.asarray(d["items"])
        rings = self.items.reshape(self.num_envs, self.slots, *self.items.shape[1:])
        if (
            items.shape[0] != self.num_envs
            or items.shape[2:] != rings.shape[2:]
            or items.shape[1] > self.slots
        ):
            raise ValueError(f"stored rings {items.shape} do not fit {rings.shape}")
        rings[:] = 0
        rings[:, : items.shape[1]] = items
        self.count[:] = np.asarray(d["count"], dtype=np.int64)


class FrameStackStore(ArrayObsStore):
    """Per-environment rings of single frames; observations ``[stack, *frame_shape]`` are rebuilt on ``get``.

    Args:
        num_envs: number of environments ``N``.
        slots: frames per environment ring.
        obs_shape: ``(stack, *frame_shape)``, e.g. ``(4, 84, 84)``; the stack is the first axis, the newest
            frame last.
        dtype: frame dtype, e.g. ``"uint8"``.
    """

    def __init__(self, num_envs: int, slots: int, obs_shape: tuple[int, ...], dtype: str | np.dtype) -> None:
        if len(obs_shape) < 2 or obs_shape[0] < 1:
            raise ValueError(f"FrameStackStore needs obs_shape (stack, *frame_shape), got {obs_shape}")
        if slots < obs_shape[0]:
            raise ValueError(f"slots ({slots}) must hold at least one stack ({obs_shape[0]})")
        super().__init__(num_envs, slots, obs_shape, dtype)
        self.stack = int(obs_shape[0])

    @staticmethod
    def _item_shape(obs_shape: tuple[int, ...]) -> tuple[int, ...]:
        return obs_shape[1:]

    def push_first(self, env_ids: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Push all ``stack`` frames of each episode's first observation ``[M, stack, *frame]``."""
        refs = np.empty(0, dtype=np.int64)
        for j in range(self.stack):
            refs = self.push(env_ids, obs[:, j])
        return refs

    def push_next(self, env_ids: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        """Push only the newest frame ``next_obs[:, -1]`` of each ``[M, stack, *frame]`` observation."""
        return self.push(env_ids, next_obs[:, -1])

    def get(self, refs: np.ndarray) -> np.ndarray:
        """Rebuild ``[B, stack, *frame_shape]`` stacks from the frame rings."""
        env, counter = self._locate(refs)
        offsets = np.arange(-(self.stack - 1), 1, dtype=np.int64)  # [stack], oldest frame first
        rows = env[:, None] * self.slots + (counter[:, None] + offsets) % self.slots  # [B, stack]
        return self.items[rows]
