"""N-step accumulation: targets by hand at episode ends, and the online accumulator against an offline oracle.

Observation refs here are plain step ids: step s of an env has ``ref_obs = s`` and ``ref_next = s + 1``
(so a bootstrap ref tells how many steps ahead it is).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay import ReplayBuffer, Transition
from replay.nstep import NStepAccumulator, NStepOutput

PATHS = pytest.mark.parametrize("use_numba", [True, False], ids=["numba", "numpy"])
G = 0.9


def _step(acc: NStepAccumulator, s: int, r: float, term: bool = False, trunc: bool = False) -> NStepOutput:
    """One env, step s: obs ref s, action 100 + s, next ref s + 1."""
    one = np.array
    return acc.step(one([0]), one([s]), one([100 + s]), one([r]), one([s + 1]), one([term]), one([trunc]))


def _check(out: NStepOutput, expected: list[tuple[float, ...]]) -> None:
    """Rows (env, ref_obs, R, ref_next, discount): refs exactly, floats to 1e-12."""
    got = np.stack([out.env, out.ref_obs, out.reward, out.ref_next_obs, out.discount], 1).reshape(-1, 5)
    want = np.asarray(expected, dtype=np.float64).reshape(-1, 5)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got[:, [0, 1, 3]], want[:, [0, 1, 3]])
    np.testing.assert_allclose(got[:, [2, 4]], want[:, [2, 4]], rtol=1e-12, atol=1e-12)


@PATHS
def test_n3_termination_flushes_without_bootstrap(use_numba: bool) -> None:
    acc = NStepAccumulator(1, 3, G, use_numba=use_numba)
    assert len(_step(acc, 0, 1.0)) == 0
    assert len(_step(acc, 1, 2.0)) == 0
    # Window full: R = 1 + .9*2 + .81*3 = 5.23, bootstrap from obs 3 with .9^3 = .729.
    _check(_step(acc, 2, 3.0), [(0, 0, 5.23, 3, 0.729)])
    _check(_step(acc, 3, 4.0), [(0, 1, 2 + 0.9 * 3 + 0.81 * 4, 4, 0.729)])
    # Step 4 terminates: steps 2, 3, 4 flush with k = 3, 2, 1 and discount 0 (no bootstrap).
    out = _step(acc, 4, 5.0, term=True)
    _check(out, [(0, 2, 3 + 0.9 * 4 + 0.81 * 5, 5, 0.0), (0, 3, 4 + 0.9 * 5, 5, 0.0), (0, 4, 5.0, 5, 0.0)])
    np.testing.assert_array_equal(out.action, [102, 103, 104])
    assert acc.q_len[0] == 0


@PATHS
def test_termination_inside_first_window(use_numba: bool) -> None:
    # n = 5 but the episode lasts 2 steps: both flush at termination, k = 2 and 1.
    acc = NStepAccumulator(1, 5, G, use_numba=use_numba)
    assert len(_step(acc, 0, 1.0)) == 0
    _check(_step(acc, 1, 2.0, term=True), [(0, 0, 1 + 0.9 * 2, 2, 0.0), (0, 1, 2.0, 2, 0.0)])


@PATHS
def test_truncation_bootstraps_from_final_obs(use_numba: bool) -> None:
    acc = NStepAccumulator(1, 3, G, use_numba=use_numba)
    _step(acc, 0, 1.0)
    # Truncated at step 1: bootstrap both from the final obs (ref 2) with gamma^k, k = 2 and 1.
    out = _step(acc, 1, 2.0, trunc=True)
    _check(out, [(0, 0, 1 + 0.9 * 2, 2, 0.81), (0, 1, 2.0, 2, 0.9)])
    # terminated wins when both flags are set.
    _step(acc, 10, 1.0)
    _check(_step(acc, 11, 1.0, term=True, trunc=True), [(0, 10, 1.9, 12, 0.0), (0, 11, 1.0, 12, 0.0)])


@PATHS
def test_n1_is_one_step(use_numba: bool) -> None:
    acc = NStepAccumulator(1, 1, G, use_numba=use_numba)
    _check(_step(acc, 0, 1.5), [(0, 0, 1.5, 1, 0.9)])
    _check(_step(acc, 1, -2.0, trunc=True), [(0, 1, -2.0, 2, 0.9)])
    _check(_step(acc, 2, 3.0, term=True), [(0, 2, 3.0, 3, 0.0)])


@PATHS
def test_multiple_envs_with_different_episode_ends(use_numba: bool) -> None:
    # 3 envs, n = 2. Env 0 terminates at step 1, env 1 truncates at step 1, env 2 runs on.
    acc = NStepAccumulator(3, 2, G, use_numba=use_numba)
    ids = np.arange(3)
    f = np.zeros(3, dtype=bool)
    # Refs: env e, step s -> 10 * e + s.
    out = acc.step(ids, ids * 10, ids, np.array([1.0, 2.0, 3.0]), ids * 10 + 1, f, f)
    assert len(out) == 0
    out = acc.step(
        ids,
        ids * 10 + 1,
        ids,
        np.array([4.0, 5.0, 6.0]),
        ids * 10 + 2,
        np.array([True, False, False]),
        np.array([False, True, False]),
    )
    _check(
        out,
        [
            (0, 0, 1 + 0.9 * 4, 2, 0.0),
            (0, 1, 4.0, 2, 0.0),  # env 0: terminated, flushed, no bootstrap
            (1, 10, 2 + 0.9 * 5, 12, 0.81),
            (1, 11, 5.0, 12, 0.9),  # env 1: truncated, bootstraps from 12
            (2, 20, 3 + 0.9 * 6, 22, 0.81),  # env 2: an ordinary full window
        ],
    )
    np.testing.assert_array_equal(acc.q_len, [0, 0, 1])


def _offline(episodes: list[list[tuple[float, bool, bool]]], first_id: int, n: int, complete: bool) -> dict:
    """Expected {obs id: (R, discount, next id)} for consecutive episodes of (reward, term, trunc) steps.

    The last episode is unfinished unless ``complete``: only its full n-step windows have been emitted.
    """
    expected = {}
    sid = first_id
    for j, ep in enumerate(episodes):
        T = len(ep)
        finished = complete or j < len(episodes) - 1
        for t in range(T):
            k = min(n, T - t)
            if k < n and not finished:
                continue
            ret = sum(G**i * ep[t + i][0] for i in range(k))
            disc = 0.0 if (finished and t + k == T and ep[-1][1]) else G**k
            expected[sid + t] = (ret, disc, sid + t + k)
        sid += T + 1  # each episode's final obs has an id of its own, then the reset obs
    return expected


@settings(derandomize=True, max_examples=40, deadline=None)
@given(n=st.integers(1, 4), num_envs=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_buffer_nstep_matches_offline_oracle(n: int, num_envs: int, seed: int) -> None:
    """Through a whole ReplayBuffer: vector obs carry (env, obs id), so every stored transition is checked."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(
        capacity=10_000, obs_shape=(2,), obs_dtype="float64", num_envs=num_envs, n_step=n, gamma=G
    )
    episodes: list[list[list[tuple[float, bool, bool]]]] = [[[]] for _ in range(num_envs)]
    sid = np.zeros(num_envs, dtype=np.int64)  # obs id per env
    for _ in range(60):
        r = rng.normal(size=num_envs).astype(np.float32)
        end = rng.random(num_envs)
        term, trunc = end < 0.1, (end >= 0.1) & (end < 0.2)
        obs = np.stack([np.arange(num_envs), sid], 1).astype(np.float64)
        buf.add(Transition(obs, sid.copy(), r, obs + [0, 1], term, trunc))
        for e in range(num_envs):
            episodes[e][-1].append((float(r[e]), bool(term[e]), bool(trunc[e])))
            if term[e] or trunc[e]:
                episodes[e].append([])
        sid += 1 + (term | trunc)  # the reset obs gets a fresh id
    size = min(buf.total_added, buf.capacity)
    obs, nxt = buf.store.get(buf.ref_obs[:size]), buf.store.get(buf.ref_next[:size])  # [size, 2]
    np.testing.assert_array_equal(obs[:, 0], nxt[:, 0])  # never bootstraps from another env
    for e in range(num_envs):
        expected = _offline(episodes[e], 0, n, complete=not episodes[e][-1])
        mine = np.flatnonzero(obs[:, 0] == e)
        assert sorted(int(i) for i in obs[mine, 1]) == sorted(expected)
        for slot in mine:
            ret, disc, next_id = expected[int(obs[slot, 1])]
            assert nxt[slot, 1] == next_id
            assert buf.reward[slot] == pytest.approx(ret, rel=1e-5, abs=1e-5)
            assert buf.discount[slot] == pytest.approx(disc, rel=1e-6)
            assert buf.action[slot] == obs[slot, 1]
