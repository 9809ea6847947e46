"""Sequence replay (R2D2): stored start states, windows inside one episode, padding, priorities, resume."""

from __future__ import annotations

import numpy as np
import pytest

from replay.sequence import SequenceReplay, sequence_priority


def _feed(replay: SequenceReplay, lengths: list[list[int]], terminal: bool = True) -> None:
    """Drive ``N`` fake sub-envs whose episodes have the given lengths.

    The observation of env ``e`` at episode ``k`` step ``t`` is ``[e, k, t]``; the recurrent state given with it
    is ``[e, k, t]`` as well (plus 0.5), so tests can tell which step any stored value came from.
    """
    n = replay.num_envs
    ep = [0] * n
    t = [0] * n
    while any(ep[e] < len(lengths[e]) for e in range(n)):
        obs = np.array([[e, ep[e], t[e]] for e in range(n)], dtype=np.float32)
        state = obs + 0.5
        ends = np.array([ep[e] < len(lengths[e]) and t[e] == lengths[e][ep[e]] - 1 for e in range(n)])
        next_obs = obs.copy()
        next_obs[:, 2] += 1
        action = (obs[:, 2] % 3).astype(np.int64)
        replay.add(obs, action, obs[:, 2].copy(), next_obs, ends & terminal, ends & (not terminal), (state,))
        for e in range(n):
            if ends[e]:
                ep[e] += 1
                t[e] = 0
            elif ep[e] < len(lengths[e]):
                t[e] += 1
            else:  # this env has finished its episodes: it keeps stepping one long unfinished episode
                t[e] += 1


def _replay(n: int = 1, burn_in: int = 2, length: int = 4, period: int = 2, capacity: int = 1000,
            prioritized: bool = False) -> SequenceReplay:
    return SequenceReplay(capacity, (3,), "float32", n, [(3,)], burn_in, length, period, prioritized=prioritized,
                          seed=0)


def _all(replay: SequenceReplay) -> list[int]:
    return list(range(len(replay)))


def test_windows_start_every_period_with_burn_in_padding_before_the_episode() -> None:
    r = _replay(burn_in=2, length=4, period=2)
    _feed(r, [[10]])
    # windows start at episode steps 0, 2, 4, 6, 8; the last two are cut by the episode's end (step 9).
    assert len(r) == 5
    starts = [int(r.obs[i, r.burn_in, 2]) for i in _all(r)]
    assert starts == [0, 2, 4, 6, 8]
    first = r
    # the first window: two padded burn-in positions, then steps 0..3 and the observation after step 3.
    assert not first.mask[0, :2].any() and first.mask[0, 2:].all()
    assert first.reset[0].tolist() == [False, False, True, False, False, False, False]
    np.testing.assert_array_equal(first.obs[0, :2], 0.0)
    np.testing.assert_array_equal(first.obs[0, 2:, 2], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(first.state[0][0], 0.0)  # zeros before the episode


def test_stored_start_state_is_the_acting_state_at_position_zero() -> None:
    r = _replay(burn_in=3, length=5, period=2)
    _feed(r, [[40, 17]])
    for i in _all(r):
        if r.mask[i, 0]:
            # position 0 is a real step: the stored state is the one the network got with that observation
            np.testing.assert_array_equal(r.state[0][i], r.obs[i, 0] + 0.5)
        else:
            np.testing.assert_array_equal(r.state[0][i], 0.0)


@pytest.mark.parametrize("terminal", [True, False])
def test_sequences_never_span_two_episodes(terminal: bool) -> None:
    rng = np.random.default_rng(0)
    lengths = [list(rng.integers(1, 30, size=12)) for _ in range(3)]
    r = _replay(n=3, burn_in=4, length=6, period=3)
    _feed(r, lengths, terminal=terminal)
    assert len(r) > 50
    for i in _all(r):
        steps = r.obs[i, :-1][r.mask[i]]  # [m, 3] the real steps
        assert len(np.unique(steps[:, :2], axis=0)) == 1  # one env, one episode
        np.testing.assert_array_equal(np.diff(steps[:, 2]), 1)  # consecutive steps
        pos = np.flatnonzero(r.mask[i])
        assert np.all(np.diff(pos) == 1)  # padding only before and after, never inside
        ended = r.terminated[i] | (~r.mask[i])
        # the episode's end: terminated (when terminal) only at the last real step, padding after it
        if r.terminated[i].any():
            assert terminal and r.terminated[i].argmax() == pos[-1]
        assert not (r.terminated[i] & ~r.mask[i]).any()
        last = pos[-1]
        np.testing.assert_array_equal(r.obs[i, last + 1, 2], r.obs[i, last, 2] + 1)  # final obs after the end
        np.testing.assert_array_equal(r.obs[i, last + 2:], 0.0)
        assert ended[last + 1:].all()
        # reset flags exactly where a step 0 sits
        np.testing.assert_array_equal(r.reset[i, :-1], r.mask[i] & (r.obs[i, :-1, 2] == 0))


def test_every_step_is_in_the_learned_part_of_some_sequence() -> None:
    r = _replay(burn_in=3, length=4, period=4)
    _feed(r, [[13, 5, 1]])
    learned = set()
    for i in _all(r):
        for j in range(r.burn_in, r.seq_steps):
            if r.mask[i, j]:
                learned.add((int(r.obs[i, j, 1]), int(r.obs[i, j, 2])))
    assert learned == {(k, t) for k, n in enumerate([13, 5, 1]) for t in range(n)}


def test_sample_gathers_whole_sequences() -> None:
    r = _replay(n=2)
    _feed(r, [[9, 7], [12]])
    b = r.sample(16)
    assert b.obs.shape == (16, 7, 3) and b.action.shape == (16, 6) and b.reset.shape == (16, 7)
    assert b.state[0].shape == (16, 3) and b.weight.shape == (16,) and b.burn_in == 2
    np.testing.assert_array_equal(b.obs, r.obs[b.index])
    np.testing.assert_array_equal(b.action, (r.obs[b.index, :-1, 2] % 3) * r.mask[b.index])


def test_sequence_priority_formula() -> None:
    td = np.array([[1.0, -3.0, 2.0, 100.0], [0.5, 0.5, 0.0, 0.0]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    p = sequence_priority(td, mask, eta=0.9)
    np.testing.assert_allclose(p, [0.9 * 3 + 0.1 * 2.0, 0.9 * 0.5 + 0.1 * 0.5], rtol=1e-6)
    assert sequence_priority(td, np.zeros_like(mask)).tolist() == [0.0, 0.0]


def test_priorities_steer_sampling() -> None:
    r = _replay(prioritized=True)
    _feed(r, [[30]])
    n = len(r)
    pri = np.full(n, 1e-3)
    pri[3] = 10.0
    r.update_priorities(np.arange(n), pri)
    b = r.sample(256, beta=1.0)
    assert (b.index == 3).mean() > 0.9
    assert b.weight[b.index == 3].max() < b.weight[b.index != 3].min()


def test_ring_overwrites_oldest_and_state_dict_round_trips() -> None:
    r = _replay(n=2, capacity=8, prioritized=True)
    _feed(r, [[15, 4], [9, 9]])
    assert len(r) == 8 and r.total_added > 8
    state = r.state_dict()
    r2 = _replay(n=2, capacity=8, prioritized=True)
    r2.load_state_dict(state)
    _feed(r, [[6]] * 2)
    _feed(r2, [[6]] * 2)
    for f in ("obs", "action", "reward", "mask", "reset", "terminated"):
        np.testing.assert_array_equal(getattr(r, f), getattr(r2, f))
    np.testing.assert_array_equal(r.sample(8).index, r2.sample(8).index)
    with pytest.raises(ValueError, match="mismatch"):
        _replay(n=1, capacity=8, prioritized=True).load_state_dict(state)


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="period"):
        _replay(length=4, period=5)
    with pytest.raises(ValueError, match="no complete sequence"):
        _replay().sample(4)
