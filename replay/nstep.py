"""N-step return accumulation at add time, per environment.

The n-step return of Sutton & Barto (2018), "Reinforcement Learning: An Introduction", 2nd ed., sec. 7.1
(as used by Rainbow, Hessel et al. 2018): for a step t the accumulator emits

    R = sum_{i<k} gamma^i r_{t+i},    bootstrap from s_{t+k} with discount gamma^k * (1 - terminated),

with ``k = n`` while the episode runs. When an episode ends every pending step is flushed with the
``k < n`` steps left to the end:

* terminated: ``discount = 0``, no bootstrap (the MDP ended);
* truncated (time limit): ``discount = gamma^k``, bootstrapping from the final observation ``s_T``.

``n = 1`` is ordinary one-step replay. Observations enter as integer refs into an observation store
(``storage.py``), so the accumulator moves only ints and floats. The per-env queue is a tiny ``[N, n]``
array shifted in place; a numba loop does the bookkeeping (``use_numba=False`` runs the same code as
plain Python, for tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit


@dataclass(frozen=True)
class NStepOutput:
    """Transitions completed by one ``NStepAccumulator.step`` call (``M`` of them).

    Attributes:
        env: ``[M]`` int64 environment of each transition.
        ref_obs: ``[M]`` int64 observation ref of the first step.
        action: ``[M]`` int64 action of the first step.
        reward: ``[M]`` float64 discounted reward sum over the ``k`` steps.
        ref_next_obs: ``[M]`` int64 observation ref to bootstrap from (``k`` steps later).
        discount: ``[M]`` float64 ``gamma^k * (1 - terminated)``.
    """

    env: np.ndarray
    ref_obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    ref_next_obs: np.ndarray
    discount: np.ndarray

    def __len__(self) -> int:
        return int(self.env.shape[0])


def _nstep_loop(
    env_ids: np.ndarray,
    ref_obs: np.ndarray,
    action: np.ndarray,
    reward: np.ndarray,
    ref_next: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    q_ref: np.ndarray,
    q_action: np.ndarray,
    q_reward: np.ndarray,
    q_len: np.ndarray,
    gamma: float,
    out_i: np.ndarray,
    out_f: np.ndarray,
) -> int:
    """Append one step per env and write completed transitions to ``out_i`` ``[*, 4]`` (env, ref_obs,
    action, ref_next) and ``out_f`` ``[*, 2]`` (reward, discount); returns how many were written."""
    n = q_ref.shape[1]
    m = 0
    for j in range(env_ids.shape[0]):
        e = env_ids[j]
        length = q_len[e]
        q_ref[e, length] = ref_obs[j]
        q_action[e, length] = action[j]
        q_reward[e, length] = reward[j]
        length += 1
        done = terminated[j] or truncated[j]
        # On an episode end flush every pending step; otherwise emit the oldest once n are pending.
        n_emit = length if done else (1 if length == n else 0)
        for i in range(n_emit):
            k = length - i  # steps from the emitted step to the bootstrap observation
            ret = 0.0
            for s in range(length - 1, i - 1, -1):
                ret = q_reward[e, s] + gamma * ret
            out_i[m, 0] = e
            out_i[m, 1] = q_ref[e, i]
            out_i[m, 2] = q_action[e, i]
            out_i[m, 3] = ref_next[j]
            out_f[m, 0] = ret
            out_f[m, 1] = 0.0 if terminated[j] else gamma**k
            m += 1
        if done:
            length = 0
        elif n_emit == 1:
            for s in range(length - 1):
                q_ref[e, s] = q_ref[e, s + 1]
                q_action[e, s] = q_action[e, s + 1]
                q_reward[e, s] = q_reward[e, s + 1]
            length -= 1
        q_len[e] = length
    return m


_nstep_jit = njit(cache=True, nogil=True)(_nstep_loop)


class NStepAccumulator:
    """Per-environment n-step queues.

    Args:
        num_envs: number of environments ``N``.
        n_step: ``n >= 1``.
        gamma: discount factor.
        use_numba: run the bookkeeping loop jitted (default) or as plain Python.
    """

    def __init__(self, num_envs: int, n_step: int, gamma: float, use_numba: bool = True) -> None:
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.num_envs = int(num_envs)
        self.n_step = int(n_step)
        self.gamma = float(gamma)
        self.use_numba = use_numba
        self.q_ref = np.zeros((num_envs, n_step), dtype=np.int64)  # [N, n] pending obs refs, oldest first
        self.q_action = np.zeros((num_envs, n_step), dtype=np.int64)  # [N, n]
        self.q_reward = np.zeros((num_envs, n_step), dtype=np.float64)  # [N, n]
        self.q_len = np.zeros(num_envs, dtype=np.int64)  # [N] pending steps per env

    @staticmethod
    def estimate_nbytes(num_envs: int, n_step: int) -> int:
        """Bytes the queues hold, without allocating them."""
        return 3 * num_envs * n_step * 8 + num_envs * 8

    @property
    def nbytes(self) -> int:
        """Bytes held by the queues."""
        return int(self.q_ref.nbytes + self.q_action.nbytes + self.q_reward.nbytes + self.q_len.nbytes)

    def step(
        self,
        env_ids: np.ndarray,
        ref_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        ref_next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> NStepOutput:
        """Add one step for each of the distinct envs ``env_ids`` (all arguments ``[M]``).

        Returns:
            The transitions completed by this step, per env in ``env_ids`` order and oldest first.
        """
        env_ids = np.ascontiguousarray(env_ids, dtype=np.int64).reshape(-1)
        m = env_ids.shape[0]
        out_i = np.empty((m * self.n_step, 4), dtype=np.int64)  # at most n completed per env (a flush)
        out_f = np.empty((m * self.n_step, 2), dtype=np.float64)
        loop = _nstep_jit if self.use_numba else _nstep_loop
        count = loop(
            env_ids,
            np.ascontiguousarray(ref_obs, dtype=np.int64).reshape(-1),
            np.ascontiguousarray(action, dtype=np.int64).reshape(-1),
            np.ascontiguousarray(reward, dtype=np.float64).reshape(-1),
            np.ascontiguousarray(ref_next_obs, dtype=np.int64).reshape(-1),
            np.ascontiguousarray(terminated, dtype=np.bool_).reshape(-1),
            np.ascontiguousarray(truncated, dtype=np.bool_).reshape(-1),
            self.q_ref,
            self.q_action,
            self.q_reward,
            self.q_len,
            self.gamma,
            out_i,
            out_f,
        )
        out_i, out_f = out_i[:count], out_f[:count]
        return NStepOutput(
            env=out_i[:, 0].copy(),
            ref_obs=out_i[:, 1].copy(),
            action=out_i[:, 2].copy(),
            reward=out_f[:, 0].copy(),
            ref_next_obs=out_i[:, 3].copy(),
            discount=out_f[:, 1].copy(),
        )

    def state_dict(self) -> dict[str, Any]:
        """The pending queues (copies)."""
        return {
            "q_ref": self.q_ref.copy(),
            "q_action": self.q_action.copy(),
            "q_reward": self.q_reward.copy(),
            "q_len": self.q_len.copy(),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore queues saved by ``state_dict`` from an accumulator of the same shape."""
        for name in ("q_ref", "q_action", "q_reward", "q_len"):
            target = getattr(self, name)
            value = np.asarray(d[name])
            if value.shape != target.shape:
                raise ValueError(f"{name}: saved shape {value.shape} != {target.shape}")
            target[:] = value
