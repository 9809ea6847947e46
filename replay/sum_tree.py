"""Vectorised sum tree for proportional prioritized replay.

The sum tree of Schaul et al. (2016), "Prioritized Experience Replay" (ICLR), appendix B.2.1: a
complete binary tree whose leaves hold priorities and whose internal nodes hold the sum of their
children, so the total is read at the root and an inverse-CDF query ("which leaf holds prefix mass
u?") costs one root-to-leaf walk.

Layout: a flat ``float64`` array ``tree`` of length ``2 * size`` where ``size`` is the capacity
rounded up to a power of two. Node 1 is the root, node ``i`` has children ``2i`` and ``2i + 1``,
leaf ``j`` lives at ``tree[size + j]`` and ``tree[0]`` is unused. Leaves past ``capacity`` stay 0.

Every internal node is always recomputed as exactly ``left + right`` (never updated by adding a
delta), so float error cannot accumulate over millions of updates, and rebuilding a tree from its
leaves (``from_leaves``) reproduces it bit for bit: checkpoints store only the leaves.

Two code paths compute the same thing: numba ``@njit`` loops (the default, fast for batches of a few
hundred) and level-by-level vectorised numpy (``use_numba=False``), which tests use as a second,
independent implementation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _set_loop(tree: np.ndarray, size: int, indices: np.ndarray, values: np.ndarray) -> None:
    """Write leaves one at a time and recompute their ancestors; in order, so the last duplicate wins."""
    for j in range(indices.shape[0]):
        node = indices[j] + size
        tree[node] = values[j]
        node //= 2
        while node >= 1:
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node //= 2


def _find_loop(tree: np.ndarray, size: int, prefix_sums: np.ndarray) -> np.ndarray:
    """Walk root to leaf for each query; never ends on a zero-mass leaf while the total is positive."""
    out = np.empty(prefix_sums.shape[0], dtype=np.int64)
    for j in range(prefix_sums.shape[0]):
        u = prefix_sums[j]
        node = 1
        while node < size:
            left = tree[2 * node]
            # Go right when u lies past the left mass, unless rounding pushed u past a zero-mass right
            # subtree (then the left one, which has mass, is the answer); go left only if it has mass.
            if left > 0.0 and (u < left or tree[2 * node + 1] <= 0.0):
                node = 2 * node
            else:
                u -= left
                node = 2 * node + 1
        out[j] = node - size
    return out


def _rebuild_loop(tree: np.ndarray, size: int) -> None:
    """Recompute every internal node from its children, bottom up."""
    for node in range(size - 1, 0, -1):
        tree[node] = tree[2 * node] + tree[2 * node + 1]


_set_jit = njit(cache=True, nogil=True)(_set_loop)
_find_jit = njit(cache=True, nogil=True)(_find_loop)
_rebuild_jit = njit(cache=True, nogil=True)(_rebuild_loop)


class SumTree:
    """Sum tree over ``capacity`` non-negative priorities (leaf indices ``0 .. capacity - 1``).

    Args:
        capacity: number of leaves used; storage is rounded up to the next power of two.
        use_numba: run set/find as numba loops (default) or as vectorised numpy (reference path).
    """

    def __init__(self, capacity: int, use_numba: bool = True) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.size = self.padded_size(capacity)
        self.use_numba = use_numba
        self.tree = np.zeros(2 * self.size, dtype=np.float64)  # [2 * size], node 1 is the root

    @staticmethod
    def padded_size(capacity: int) -> int:
        """Number of leaves actually allocated: ``capacity`` rounded up to a power of two (>= 2)."""
        return max(2, 1 << (int(capacity) - 1).bit_length())

    @classmethod
    def estimate_nbytes(cls, capacity: int) -> int:
        """Bytes a tree of this capacity holds, without allocating it."""
        return 2 * cls.padded_size(capacity) * np.dtype(np.float64).itemsize

    @property
    def nbytes(self) -> int:
        """Bytes held by the tree array."""
        return int(self.tree.nbytes)

    def total(self) -> float:
        """Sum of all priorities (the root)."""
        return float(self.tree[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """Priorities of leaves ``indices`` (``[B]`` int) as ``[B]`` float64."""
        return self.tree[np.asarray(indices, dtype=np.int64) + self.size]

    def leaves(self) -> np.ndarray:
        """A view of the ``capacity`` leaf priorities, ``[capacity]`` float64."""
        return self.tree[self.size : self.size + self.capacity]

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``indices`` (``[B]`` int) to ``values`` (``[B]``, >= 0); duplicates: the last wins."""
        idx = np.ascontiguousarray(indices, dtype=np.int64).reshape(-1)
        val = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if idx.shape != val.shape:
            raise ValueError(f"indices {idx.shape} and values {val.shape} differ in shape")
        if idx.size == 0:
            return
        if idx.min() < 0 or idx.max() >= self.capacity:
            raise IndexError(f"leaf index out of range [0, {self.capacity})")
        if not np.all(val >= 0.0) or not np.all(np.isfinite(val)):
            raise ValueError("priorities must be finite and >= 0")
        if self.use_numba:
            _set_jit(self.tree, self.size, idx, val)
        else:
            self._set_numpy(idx, val)

    def find(self, prefix_sums: np.ndarray) -> np.ndarray:
        """Inverse CDF: for each ``u`` in ``prefix_sums`` (``[B]``, in ``[0, total)``) the leaf ``i`` with
        ``sum(p[:i]) <= u < sum(p[:i + 1])``, as ``[B]`` int64.

        Values at or past the total (float rounding) clamp to the last leaf with positive priority, and a
        leaf with priority 0 is never returned while the total is positive.
        """
        u = np.ascontiguousarray(prefix_sums, dtype=np.float64).reshape(-1)
        if self.tree[1] <= 0.0:
            raise ValueError("find() on a sum tree whose total is 0")
        if self.use_numba:
            return _find_jit(self.tree, self.size, u)
        return self._find_numpy(u)

    def rebuild(self) -> None:
        """Recompute all internal nodes from the leaves (after writing ``leaves()`` directly)."""
        if self.use_numba:
            _rebuild_jit(self.tree, self.size)
        else:
            level = self.size
            while level > 1:
                # Nodes level/2 .. level-1 are the parents of nodes level .. 2*level-1.
                self.tree[level // 2 : level] = (
                    self.tree[level : 2 * level : 2] + self.tree[level + 1 : 2 * level : 2]
                )
                level //= 2

    def _set_numpy(self, idx: np.ndarray, val: np.ndarray) -> None:
        # Last write wins: keep, for each distinct index, its last occurrence.
        rev_unique, rev_pos = np.unique(idx[::-1], return_index=True)
        self.tree[rev_unique + self.size] = val[::-1][rev_pos]
        nodes = np.unique((rev_unique + self.size) // 2)
        while nodes.size and nodes[-1] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            nodes = np.unique(nodes // 2)
            nodes = nodes[nodes >= 1]

    def _find_numpy(self, u: np.ndarray) -> np.ndarray:
        u = u.copy()
        node = np.ones(u.shape[0], dtype=np.int64)  # [B], all queries descend one level per iteration
        while node[0] < self.size:
            left = self.tree[2 * node]
            right = self.tree[2 * node + 1]
            go_left = (left > 0.0) & ((u < left) | (right <= 0.0))
            u = np.where(go_left, u, u - left)
            node = np.where(go_left, 2 * node, 2 * node + 1)
        return node - self.size
