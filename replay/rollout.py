"""``RolloutStorage``: fills the ``[T, N]`` arrays of a ``Rollout`` one synchronous step at a time.

Fixed-length rollouts (PPO) know ``T`` in advance; whole-episode rollouts (REINFORCE) do not, so the
arrays double when full. Each ``finish`` hands its arrays to the ``Rollout`` (no copy) and the next
``start`` allocates fresh ones, so a consumer may keep a rollout as long as it likes.
"""

from __future__ import annotations

import numpy as np

from replay.types import Rollout

_FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "log_prob", "value")


class RolloutStorage:
    """Preallocated per-rollout arrays for ``N`` sub-environments."""

    def __init__(self, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: str,
                 action_shape: tuple[int, ...] = (), capacity: int = 128) -> None:
        """
        Args:
            num_envs: ``N``.
            obs_shape: one observation's shape.
            obs_dtype: numpy dtype name of observations.
            action_shape: ``()`` for discrete actions (stored int64), ``(d,)`` for continuous (float32).
            capacity: initial ``T``; grows by doubling.
        """
        self.num_envs, self.obs_shape, self.obs_dtype = num_envs, obs_shape, np.dtype(obs_dtype)
        self.action_shape = action_shape
        self.action_dtype = np.dtype(np.float32 if action_shape else np.int64)
        self.initial_capacity = max(int(capacity), 1)
        self.t = 0
        self.arrays: dict[str, np.ndarray] = {}
        self.start()

    def _alloc(self, t: int) -> dict[str, np.ndarray]:
        n = self.num_envs
        return {
            "obs": np.empty((t, n, *self.obs_shape), self.obs_dtype),
            "action": np.empty((t, n, *self.action_shape), self.action_dtype),
            "reward": np.empty((t, n), np.float32),
            "next_obs": np.empty((t, n, *self.obs_shape), self.obs_dtype),
            "terminated": np.empty((t, n), bool),
            "truncated": np.empty((t, n), bool),
            "log_prob": np.empty((t, n), np.float32),
            "value": np.empty((t, n), np.float32),
        }

    def start(self) -> None:
        """Begin a new rollout with fresh arrays."""
        self.arrays = self._alloc(self.initial_capacity)
        self.t = 0

    @property
    def capacity(self) -> int:
        return int(self.arrays["reward"].shape[0])

    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray, log_prob: np.ndarray, value: np.ndarray) -> None:
        """Append one step of every sub-env (each argument has leading dimension ``N``)."""
        if self.t == self.capacity:
            grown = self._alloc(self.capacity)
            self.arrays = {k: np.concatenate([v, grown[k]]) for k, v in self.arrays.items()}
        t, a = self.t, self.arrays
        a["obs"][t] = obs
        a["action"][t] = action
        a["reward"][t] = reward
        a["next_obs"][t] = next_obs
        a["terminated"][t] = terminated
        a["truncated"][t] = truncated
        a["log_prob"][t] = log_prob
        a["value"][t] = value
        self.t += 1

    def finish(self, last_obs: np.ndarray, mask: np.ndarray | None = None) -> Rollout:
        """The ``Rollout`` of the steps added since ``start`` (``mask``: ``[T, N]``, default all True)."""
        a = {k: v[: self.t] for k, v in self.arrays.items()}
        if mask is None:
            mask = np.ones((self.t, self.num_envs), dtype=bool)
        rollout = Rollout(**{k: a[k] for k in _FIELDS}, last_obs=np.array(last_obs, copy=True), mask=mask)
        self.start()
        return rollout
