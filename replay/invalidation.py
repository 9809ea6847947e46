"""The ``ReplayBuffer``'s invalidation loops: which stored transitions lost their oldest frame to a wrapped
per-env frame ring (``sweep_loop``), and the per-env queues of transition serials they walk
(``track_loop``). Each exists as plain Python (tests, ``use_numba=False``) and jitted (the default)."""

from __future__ import annotations

import numpy as np
from numba import njit


def sweep_loop(
    env_ids: np.ndarray,
    env_tx: np.ndarray,
    tx_count: np.ndarray,
    tx_checked: np.ndarray,
    ring_ref_obs: np.ndarray,
    valid: np.ndarray,
    store_count: np.ndarray,
    stack: int,
    total_added: int,
    out: np.ndarray,
) -> int:
    """Mark invalid each transition of ``env_ids`` whose oldest frame has left its env's ring.

    Per env the transitions are in time order, so are their oldest frames: walk the env's queue of
    transition serials ``env_tx`` ``[N, S]`` from the oldest unchecked one and stop at the first live one.
    Writes the newly invalidated slots to ``out`` and returns how many (``len(out)``: call again).
    """
    num_envs, slots = env_tx.shape
    capacity = valid.shape[0]
    m = 0
    for j in range(env_ids.shape[0]):
        e = env_ids[j]
        min_live = store_count[e] - slots
        while tx_checked[e] < tx_count[e]:
            if m == out.shape[0]:
                return m  # out is full; the caller sweeps again
            serial = env_tx[e, tx_checked[e] % slots]
            if serial >= total_added - capacity:  # still in the transition ring
                slot = serial % capacity
                if ring_ref_obs[slot] // num_envs - (stack - 1) >= min_live:
                    break
                if valid[slot]:
                    valid[slot] = False
                    out[m] = slot
                    m += 1
            tx_checked[e] += 1
    return m


def track_loop(env: np.ndarray, serial: np.ndarray, env_tx: np.ndarray, tx_count: np.ndarray) -> None:
    """Append each new transition's serial to its env's queue ``env_tx`` ``[N, S]``."""
    slots = env_tx.shape[1]
    for j in range(env.shape[0]):
        e = env[j]
        env_tx[e, tx_count[e] % slots] = serial[j]
        tx_count[e] += 1


sweep_jit = njit(cache=True, nogil=True)(sweep_loop)
track_jit = njit(cache=True, nogil=True)(track_loop)
