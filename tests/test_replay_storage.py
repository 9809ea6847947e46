"""Observation stores through the buffer: exact reconstruction, wraparound, memory, checkpoints.

Synthetic episodes encode every frame's identity in its pixels: frame ``i`` of episode ``ep`` of env
``e`` holds ``[e, ep, (i + 8) // 256, (i + 8) % 256]`` (``i`` runs from ``-(stack - 1)`` for the frames
of the reset stack), so any stack that mixes episodes, envs or times, or any overwritten frame, shows.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay import Batch, ReplayBuffer, Transition
from replay.storage import ArrayObsStore, FrameStackStore

G = 0.9
ATARI_BYTES = 84 * 84


def frame(env: int, ep: int, i: int, shape: tuple[int, int] = (2, 2)) -> np.ndarray:
    f = np.zeros(shape, dtype=np.uint8).reshape(-1)
    f[:4] = [env, ep % 256, (i + 8) // 256, (i + 8) % 256]
    return f.reshape(shape)


def stack_of(env: int, ep: int, t: int, stack: int, shape: tuple[int, int] = (2, 2)) -> np.ndarray:
    """The observation at step t: frames t - stack + 1 .. t, oldest first, ``[stack, *shape]``."""
    return np.stack([frame(env, ep, i, shape) for i in range(t - stack + 1, t + 1)])


class Stream:
    """Vector env of synthetic episodes; rewards are 1, actions are unique ids decoding to (env, ep, t)."""

    def __init__(
        self, num_envs: int, stack: int, end_prob: float, seed: int, shape: tuple[int, int] = (2, 2)
    ):
        self.n, self.stack, self.end_prob, self.shape = num_envs, stack, end_prob, shape
        self.rng = np.random.default_rng(seed)
        self.ep = np.zeros(num_envs, dtype=np.int64)
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.ids: dict[int, tuple[int, int, int]] = {}  # action id -> (env, ep, t)
        self.ends: dict[tuple[int, int], tuple[int, bool]] = {}  # (env, ep) -> (length, terminated)

    def _obs(self, t: np.ndarray) -> np.ndarray:
        return np.stack(
            [stack_of(e, int(self.ep[e]), int(t[e]), self.stack, self.shape) for e in range(self.n)]
        )

    def step(self) -> Transition:
        end = self.rng.random(self.n)
        term, trunc = end < self.end_prob / 2, (end >= self.end_prob / 2) & (end < self.end_prob)
        action = np.empty(self.n, dtype=np.int64)
        for e in range(self.n):
            action[e] = len(self.ids)
            self.ids[len(self.ids)] = (e, int(self.ep[e]), int(self.t[e]))
            if term[e] or trunc[e]:
                self.ends[(e, int(self.ep[e]))] = (int(self.t[e]) + 1, bool(term[e]))
        tr = Transition(
            self._obs(self.t), action, np.ones(self.n, np.float32), self._obs(self.t + 1), term, trunc
        )
        done = term | trunc
        self.t = np.where(done, 0, self.t + 1)
        self.ep += done
        return tr

    def expected(self, action: int, n: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(obs, next_obs, reward, discount) the buffer must hold for the transition with this id."""
        e, ep, t = self.ids[action]
        length, terminated = self.ends.get((e, ep), (None, False))
        k = n if length is None else min(n, length - t)
        disc = 0.0 if (length is not None and t + k == length and terminated) else G**k
        reward = sum(G**i for i in range(k))
        return (
            stack_of(e, ep, t, self.stack, self.shape),
            stack_of(e, ep, t + k, self.stack, self.shape),
            reward,
            disc,
        )


def make(stream: Stream, capacity: int, n: int = 1, prioritized: bool = False, **kw: Any) -> ReplayBuffer:
    return ReplayBuffer(
        capacity=capacity,
        obs_shape=(stream.stack, *stream.shape),
        obs_dtype="uint8",
        num_envs=stream.n,
        frame_stack=stream.stack,
        n_step=n,
        gamma=G,
        prioritized=prioritized,
        **kw,
    )


def check_rows(batch: Batch, stream: Stream, n: int) -> None:
    """Every row equals exactly what was added, and no stack mixes envs or episodes."""
    for j in range(len(batch)):
        obs, nxt, reward, disc = stream.expected(int(batch.action[j]), n)
        np.testing.assert_array_equal(batch.obs[j], obs)
        np.testing.assert_array_equal(batch.next_obs[j], nxt)
        assert batch.reward[j] == pytest.approx(reward, rel=1e-6)
        assert batch.discount[j] == pytest.approx(disc, rel=1e-6)
        for o in (batch.obs[j], batch.next_obs[j]):
            flat = o.reshape(o.shape[0], -1)
            assert np.all(flat[:, :2] == flat[0, :2])  # one env, one episode
            i = flat[:, 2].astype(int) * 256 + flat[:, 3]
            np.testing.assert_array_equal(np.diff(i), 1)  # consecutive frames


def check_all_slots(buf: ReplayBuffer, stream: Stream, n: int) -> None:
    """White box: every valid slot is exact; validity is exactly 'all frames still in the ring'."""
    size = min(buf.total_added, buf.capacity)
    slots = np.arange(size)
    np.testing.assert_array_equal(buf.valid[:size], buf.store.is_live(buf.ref_obs[:size]))
    assert not buf.valid[size:].any()
    assert len(buf) == int(buf.valid.sum())
    if buf.config["prioritized"]:
        np.testing.assert_array_equal(buf.sampler.tree.leaves() > 0, buf.valid)
    live = slots[buf.valid[:size]]
    batch = Batch(
        buf.store.get(buf.ref_obs[live]),
        buf.action[live],
        buf.reward[live],
        buf.store.get(buf.ref_next[live]),
        buf.discount[live],
        np.ones(live.size),
        live,
    )
    check_rows(batch, stream, n)


@pytest.mark.parametrize("stack", [1, 4])
@pytest.mark.parametrize("prioritized", [False, True])
def test_reconstruction_across_episode_boundaries(stack: int, prioritized: bool) -> None:
    stream = Stream(num_envs=3, stack=stack, end_prob=0.15, seed=1)
    buf = make(stream, capacity=90, n=3, prioritized=prioritized)
    for step in range(200):
        buf.add(stream.step())
        if step % 10 == 9:
            b = buf.sample(64, beta=0.5)
            check_rows(b, stream, 3)
            buf.update_priorities(b.index, np.abs(b.reward - 1.5))
    assert len(stream.ends) > 20  # many episode boundaries crossed, and the ring wrapped
    assert buf.total_added > 2 * buf.capacity
    check_all_slots(buf, stream, 3)


def test_atari_shaped_frames_are_exact() -> None:
    stream = Stream(num_envs=2, stack=4, end_prob=0.1, seed=2, shape=(84, 84))
    buf = make(stream, capacity=60, n=3, prioritized=True)
    assert isinstance(buf.store, FrameStackStore)
    for _ in range(80):
        buf.add(stream.step())
    b = buf.sample(32)
    assert b.obs.shape == (32, 4, 84, 84) and b.obs.dtype == np.uint8
    check_rows(b, stream, 3)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    capacity=st.integers(4, 120),
    num_envs=st.integers(1, 4),
    stack=st.integers(1, 4),
    n=st.integers(1, 3),
    end_prob=st.sampled_from([0.0, 0.05, 0.3, 0.9]),
    prioritized=st.booleans(),
    use_numba=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_wraparound_never_mixes_episodes_or_returns_overwritten_frames(
    capacity: int,
    num_envs: int,
    stack: int,
    n: int,
    end_prob: float,
    prioritized: bool,
    use_numba: bool,
    seed: int,
) -> None:
    stream = Stream(num_envs, stack, end_prob, seed)
    buf = make(
        stream,
        capacity=max(capacity, num_envs * n),
        n=n,
        prioritized=prioritized,
        check_obs=True,
        use_numba=use_numba,
    )
    for step in range(3 * buf.capacity // num_envs + 10):
        buf.add(stream.step())
        if step % 7 == 0 and len(buf):
            check_rows(buf.sample(16, beta=0.5), stream, n)
    check_all_slots(buf, stream, n)


def test_short_episodes_invalidate_old_transitions() -> None:
    """Episodes of 1-2 steps push stack + 1 frames per step: the rings wrap before the transition ring."""
    for prioritized in (False, True):
        stream = Stream(num_envs=2, stack=4, end_prob=0.8, seed=5)
        buf = make(stream, capacity=200, n=2, prioritized=prioritized)
        for _ in range(400):
            buf.add(stream.step())
        assert 0 < len(buf) < buf.capacity  # some transitions were invalidated...
        check_all_slots(buf, stream, 2)  # ...exactly those whose frames are gone
        for _ in range(20):
            b = buf.sample(128)
            assert buf.valid[b.index].all()
            check_rows(b, stream, 2)


def test_env_subsets_as_from_several_actors() -> None:
    stream = Stream(num_envs=4, stack=4, end_prob=0.1, seed=6)
    buf = make(stream, capacity=100, n=2)
    for _ in range(60):
        t = stream.step()
        for ids in ([2, 0], [3, 1]):  # two actors, each owning two envs, arriving in either order
            sub = Transition(*(np.asarray(getattr(t, f))[ids] for f in Transition.__dataclass_fields__))
            buf.add(sub, env_ids=np.array(ids))
    check_all_slots(buf, stream, 2)


def test_bytes_per_atari_transition() -> None:
    budget = 1.05 * ATARI_BYTES
    for num_envs in (1, 8, 64):
        kw = dict(
            capacity=100_000,
            obs_shape=(4, 84, 84),
            obs_dtype="uint8",
            frame_stack=4,
            num_envs=num_envs,
            n_step=3,
            prioritized=True,
        )
        buf = ReplayBuffer(**kw)  # np.zeros maps pages lazily: ~0.7 GB virtual, untouched
        assert buf.nbytes == ReplayBuffer.estimate_nbytes(**kw)
        assert buf.nbytes / buf.capacity <= budget, (num_envs, buf.nbytes / buf.capacity)
        del buf
    est = ReplayBuffer.estimate_nbytes(
        1_000_000, (4, 84, 84), "uint8", frame_stack=4, num_envs=8, prioritized=True
    )
    assert est / 1_000_000 <= budget


def test_vector_obs_stored_once() -> None:
    buf = ReplayBuffer(capacity=10_000, obs_shape=(64,), obs_dtype="float32", num_envs=4)
    assert isinstance(buf.store, ArrayObsStore) and not isinstance(buf.store, FrameStackStore)
    assert buf.nbytes == ReplayBuffer.estimate_nbytes(10_000, (64,), "float32", num_envs=4)
    # One observation per transition (+2% slack), not two as with separate obs / next_obs arrays.
    assert buf.store.items.shape[0] <= 1.03 * buf.capacity


def _plain(x: Any) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    return isinstance(x, np.ndarray | int | float | bool | str)


@pytest.mark.parametrize("prioritized", [False, True])
def test_state_dict_round_trip_gives_identical_samples(prioritized: bool) -> None:
    stream = Stream(num_envs=3, stack=4, end_prob=0.2, seed=7)
    buf = make(stream, capacity=50, n=3, prioritized=prioritized)

    def run(b: ReplayBuffer, s: Stream, steps: int) -> list[Batch]:
        out = []
        for _ in range(steps):
            b.add(s.step())
            if not len(b):
                continue
            batch = b.sample(8, beta=0.6)
            b.update_priorities(batch.index, batch.reward * 0.3 + batch.index % 5)
            out.append(batch)
        return out

    run(buf, stream, 70)  # wrapped, mid-episode: pending n-step queues are non-empty
    assert buf.nstep.q_len.any()
    state = pickle.loads(pickle.dumps(buf.state_dict()))  # as if written to disk
    assert _plain(state)
    fresh = make(stream, capacity=50, n=3, prioritized=prioritized)
    fresh.load_state_dict(state)
    stream2 = copy.deepcopy(stream)
    for a, b in zip(run(buf, stream, 40), run(fresh, stream2, 40), strict=True):
        for f in Batch.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert len(buf) == len(fresh) and buf.nbytes == fresh.nbytes
    with pytest.raises(ValueError):
        make(stream, capacity=51, n=3, prioritized=prioritized).load_state_dict(state)


def test_check_obs_catches_a_runner_bug() -> None:
    stream = Stream(num_envs=2, stack=4, end_prob=0.0, seed=8)
    buf = make(stream, capacity=20, check_obs=True)
    buf.add(stream.step())
    t = stream.step()
    bad = t.obs.copy()
    bad[1, -1] += 1  # not the previous next_obs
    with pytest.raises(ValueError):
        buf.add(Transition(bad, t.action, t.reward, t.next_obs, t.terminated, t.truncated))
