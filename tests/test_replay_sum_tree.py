"""Sum tree: hand-drawn trees, boundaries of the inverse CDF, a numpy oracle, duplicate indices.

Every test runs on both code paths: numba loops and the vectorised numpy reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.sum_tree import SumTree

PATHS = pytest.mark.parametrize("use_numba", [True, False], ids=["numba", "numpy"])


def _internal_consistent(t: SumTree) -> bool:
    nodes = np.arange(1, t.size)
    return bool(np.array_equal(t.tree[nodes], t.tree[2 * nodes] + t.tree[2 * nodes + 1]))


@PATHS
def test_hand_drawn_tree(use_numba: bool) -> None:
    #               10            node 1
    #           /        \
    #          3          7       nodes 2, 3
    #        /   \      /   \
    #       1     2    3     4    leaves: nodes 4..7 = priorities of items 0..3
    t = SumTree(4, use_numba=use_numba)
    t.set(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert t.size == 4
    np.testing.assert_array_equal(t.tree[1:], [10, 3, 7, 1, 2, 3, 4])
    assert t.total() == 10.0
    np.testing.assert_array_equal(t.get(np.array([3, 0])), [4.0, 1.0])

    # Item i owns the half-open interval [cumsum[i-1], cumsum[i]): [0,1) [1,3) [3,6) [6,10).
    u = np.array([0.0, 0.999, 1.0, 2.999, 3.0, 5.999, 6.0, 9.999])
    np.testing.assert_array_equal(t.find(u), [0, 0, 1, 1, 2, 2, 3, 3])
    # At or past the total (float rounding in a caller) clamps to the last item.
    np.testing.assert_array_equal(t.find(np.array([10.0, 11.0])), [3, 3])


@PATHS
def test_hand_drawn_update_recomputes_path(use_numba: bool) -> None:
    # Start from the tree above and set item 1 from 2 to 5:
    #               13
    #          6          7
    #        1   5      3   4
    t = SumTree(4, use_numba=use_numba)
    t.set(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    t.set(np.array([1]), np.array([5.0]))
    np.testing.assert_array_equal(t.tree[1:], [13, 6, 7, 1, 5, 3, 4])
    np.testing.assert_array_equal(t.find(np.array([0.5, 1.0, 5.999, 6.0, 9.0, 12.9])), [0, 1, 1, 2, 3, 3])


@PATHS
def test_zero_leaves_never_found(use_numba: bool) -> None:
    # capacity 5 pads to 8 leaves; items 0, 2, 4 have priority 0:
    #                    6
    #            2               4
    #        2       0       4       0
    #      0   2   0   0   4   0   0   0     (items 5..7 are padding)
    t = SumTree(5, use_numba=use_numba)
    assert t.size == 8
    t.set(np.arange(5), np.array([0.0, 2.0, 0.0, 0.0, 4.0]))
    np.testing.assert_array_equal(t.tree[1:4], [6, 2, 4])
    u = np.array([0.0, 1.999, 2.0, 5.999, 6.0, 1e9])
    np.testing.assert_array_equal(t.find(u), [1, 1, 4, 4, 4, 4])
    # A right subtree with zero mass is never entered, even when u rounds past the total.
    t2 = SumTree(4, use_numba=use_numba)
    t2.set(np.arange(4), np.array([1.0, 2.0, 3.0, 0.0]))
    np.testing.assert_array_equal(t2.find(np.array([6.0, 6.0 + 1e-12])), [2, 2])


@PATHS
def test_duplicate_indices_last_wins(use_numba: bool) -> None:
    t = SumTree(8, use_numba=use_numba)
    t.set(np.array([1, 3, 1, 5, 3, 1]), np.array([5.0, 1.0, 7.0, 2.0, 0.5, 9.0]))
    expected = np.zeros(8)
    expected[[1, 3, 5]] = [9.0, 0.5, 2.0]
    np.testing.assert_array_equal(t.leaves(), expected)
    assert t.total() == expected.sum()
    assert _internal_consistent(t)


@PATHS
def test_against_cumsum_oracle(use_numba: bool) -> None:
    rng = np.random.default_rng(0)
    capacity = 1000
    t = SumTree(capacity, use_numba=use_numba)
    p = rng.exponential(size=capacity)
    p[rng.random(capacity) < 0.2] = 0.0
    t.set(np.arange(capacity), p)
    for _ in range(20):  # random partial updates, with duplicates
        idx = rng.integers(0, capacity, 64)
        val = rng.exponential(size=64) * (rng.random(64) < 0.9)
        t.set(idx, val)
        for i, v in zip(idx, val, strict=True):
            p[i] = v
    np.testing.assert_array_equal(t.leaves(), p)
    assert _internal_consistent(t)
    cdf = np.cumsum(p)
    np.testing.assert_allclose(t.total(), cdf[-1], rtol=1e-12)
    u = rng.random(5000) * cdf[-1]
    # The tree adds in a different order than cumsum: skip draws within rounding of a boundary.
    near = np.min(np.abs(u[:, None] - cdf[None, :]), axis=1) < 1e-9 * cdf[-1]
    u = u[~near]
    np.testing.assert_array_equal(t.find(u), np.searchsorted(cdf, u, side="right"))
    assert np.all(p[t.find(rng.random(5000) * t.total())] > 0)


def test_rebuild_is_bit_identical() -> None:
    rng = np.random.default_rng(1)
    t = SumTree(300)
    for _ in range(50):
        t.set(rng.integers(0, 300, 32), rng.random(32) ** 3)
    for use_numba in (True, False):
        r = SumTree(300, use_numba=use_numba)
        r.leaves()[:] = t.leaves()
        r.rebuild()
        np.testing.assert_array_equal(r.tree, t.tree)


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    capacity=st.integers(1, 70),
    ops=st.lists(
        st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 100)), min_size=1, max_size=10), max_size=8
    ),
)
def test_numba_and_numpy_paths_agree(capacity: int, ops: list[list[tuple[int, float]]]) -> None:
    a, b = SumTree(capacity, use_numba=True), SumTree(capacity, use_numba=False)
    for op in ops:
        idx = np.array([i % capacity for i, _ in op])
        val = np.array([v for _, v in op])
        a.set(idx, val)
        b.set(idx, val)
    np.testing.assert_array_equal(a.tree, b.tree)
    if a.total() > 0:
        u = np.linspace(0, a.total(), 57)
        np.testing.assert_array_equal(a.find(u), b.find(u))


def test_rejects_bad_input() -> None:
    t = SumTree(4)
    with pytest.raises(ValueError):
        t.set(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError):
        t.set(np.array([0]), np.array([np.nan]))
    with pytest.raises(IndexError):
        t.set(np.array([4]), np.array([1.0]))
    with pytest.raises(ValueError):
        t.find(np.array([0.0]))  # total is 0
