"""``ReplayBuffer`` = observation store + n-step accumulator + sampler.

The split follows Dopamine's replay (Castro et al. 2018): storage (``storage.py``), sampling
(``samplers.py``: uniform, or proportional prioritized replay of Schaul et al. 2016 over the sum tree in
``sum_tree.py``) and accumulation (``nstep.py``: n-step returns, Sutton & Barto 2018, sec. 7.1) combine
freely.

Data flow of one ``add`` (one synchronous step of ``N`` envs):

1. envs at an episode's first observation push ``t.obs`` into the store (all ``stack`` frames for
   Atari); every env pushes ``t.next_obs`` (only its newest frame for Atari). Each observation, and for
   Atari each frame, is therefore stored once.
2. the n-step accumulator turns the step into zero or more finished transitions
   ``(ref_obs, action, R, ref_next_obs, discount)`` that refer to observations by integer ref.
3. those are written to a ring of ``capacity`` slots; new slots enter the sampler (max priority in PER).

Frame rings are per env and hold ``ceil(capacity / N)`` plus ~2% frames, so in steady state they outlive
the transitions that use them. Short episodes cost ``stack - 1`` extra frames each and can make a ring
wrap over frames an old transition still needs; such transitions are found right after each push (a
per-env queue of transition serials, swept oldest first) and marked invalid: priority 0 for PER,
rejected by the uniform sampler, not counted by ``len``. They are never sampled.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from replay.invalidation import sweep_jit, sweep_loop, track_jit, track_loop
from replay.nstep import NStepAccumulator, NStepOutput
from replay.samplers import PrioritizedSampler, UniformSampler
from replay.storage import ArrayObsStore, FrameStackStore
from replay.types import Batch, Transition

_STATE_VERSION = 1
_RING_FIELDS = ("ref_obs", "ref_next", "action", "reward", "discount", "valid")


class ReplayBuffer:
    """Transition replay with frames stored once, n-step returns and optional prioritized sampling.

    Args:
        capacity: transitions kept (the ring's slots).
        obs_shape: shape of one observation, ``(stack, H, W)`` when ``frame_stack > 1``.
        obs_dtype: stored (and returned) observation dtype, e.g. ``"uint8"``.
        num_envs: ``N``, environments per ``Transition``.
        frame_stack: ``> 1`` stores single frames and rebuilds stacks along axis 1 of ``[B, stack, H, W]``;
            must then equal ``obs_shape[0]``.
        n_step: n of the n-step return (1: ordinary one-step).
        gamma: discount factor.
        prioritized: proportional PER (Schaul et al. 2016) instead of uniform sampling.
        alpha: PER priority exponent (``zeta`` in the seed notes).
        eps: PER constant added to ``|delta|``.
        weight_form: PER weights ``"paper"`` (max-normalised, default) or ``"seed"`` (unnormalised).
        seed: seed of the sampling generator.
        check_obs: verify on every ``add`` that ``t.obs`` equals the previous ``t.next_obs`` of continuing
            envs (a debugging aid for runners; costs one gather per add).
        use_numba: jitted hot loops (default) or plain Python/numpy (tests).
    """

    def __init__(
        self,
        *,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: str,
        num_envs: int,
        frame_stack: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        prioritized: bool = False,
        alpha: float = 0.5,
        eps: float = 1e-6,
        weight_form: str = "paper",
        seed: int = 0,
        check_obs: bool = False,
        use_numba: bool = True,
    ) -> None:
        obs_shape = tuple(int(s) for s in obs_shape)
        self._validate(capacity, obs_shape, num_envs, frame_stack, n_step)
        self.config: dict[str, Any] = {
            "capacity": int(capacity),
            "obs_shape": list(obs_shape),
            "obs_dtype": np.dtype(obs_dtype).name,
            "num_envs": int(num_envs),
            "frame_stack": int(frame_stack),
            "n_step": int(n_step),
            "gamma": float(gamma),
            "prioritized": bool(prioritized),
            "alpha": float(alpha),
            "eps": float(eps),
            "weight_form": str(weight_form),
        }
        self.capacity = int(capacity)
        self.obs_shape = obs_shape
        self.num_envs = int(num_envs)
        self.check_obs = check_obs
        self.slots_per_env = self.frames_per_env(capacity, num_envs, frame_stack, n_step)
        store_cls = FrameStackStore if frame_stack > 1 else ArrayObsStore
        self.store = store_cls(num_envs, self.slots_per_env, obs_shape, obs_dtype)
        self.nstep = NStepAccumulator(num_envs, n_step, gamma, use_numba=use_numba)
        self.rng = np.random.default_rng(seed)
        self.sampler: UniformSampler | PrioritizedSampler
        if prioritized:
            self.sampler = PrioritizedSampler(
                capacity, self.rng, alpha, eps, weight_form, use_numba=use_numba
            )
        else:
            self.sampler = UniformSampler(capacity, self.rng)
        self._sweep = sweep_jit if use_numba else sweep_loop
        self._track = track_jit if use_numba else track_loop
        # The transition ring, [capacity] each; slot = serial % capacity.
        self.ref_obs = np.zeros(capacity, dtype=np.int64)
        self.ref_next = np.zeros(capacity, dtype=np.int64)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.discount = np.zeros(capacity, dtype=np.float32)
        self.valid = np.zeros(capacity, dtype=np.bool_)
        # Per env: serials of its transitions [N, S] (oldest unchecked at tx_checked), for invalidation.
        self.env_tx = np.zeros((num_envs, self.slots_per_env), dtype=np.int64)
        self.tx_count = np.zeros(num_envs, dtype=np.int64)
        self.tx_checked = np.zeros(num_envs, dtype=np.int64)
        self.first = np.ones(num_envs, dtype=np.bool_)  # [N] next add starts an episode
        self.cur_ref = np.zeros(num_envs, dtype=np.int64)  # [N] ref of each env's current obs
        self.total_added = 0
        self.num_valid = 0

    @staticmethod
    def _validate(
        capacity: int, obs_shape: tuple[int, ...], num_envs: int, frame_stack: int, n_step: int
    ) -> None:
        if num_envs < 1 or n_step < 1 or frame_stack < 1:
            raise ValueError("num_envs, n_step and frame_stack must be >= 1")
        if capacity < num_envs * n_step:
            raise ValueError(f"capacity ({capacity}) must be >= num_envs * n_step ({num_envs * n_step})")
        if frame_stack > 1 and (len(obs_shape) < 2 or obs_shape[0] != frame_stack):
            raise ValueError(
                f"frame_stack={frame_stack} needs obs_shape ({frame_stack}, H, W), got {obs_shape}"
            )

    @staticmethod
    def frames_per_env(capacity: int, num_envs: int, frame_stack: int = 1, n_step: int = 1) -> int:
        """Ring length per env: its share of the capacity plus ~2% slack (episode starts, n-step delay)."""
        share = math.ceil(capacity / num_envs)
        return share + max(math.ceil(0.02 * share), 2 * (n_step + frame_stack))

    @classmethod
    def estimate_nbytes(
        cls,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: str,
        frame_stack: int = 1,
        num_envs: int = 1,
        n_step: int = 1,
        prioritized: bool = False,
        **_: Any,
    ) -> int:
        """Bytes a buffer of this configuration holds (equal to its ``nbytes``), without allocating it."""
        obs_shape = tuple(int(s) for s in obs_shape)
        cls._validate(capacity, obs_shape, num_envs, frame_stack, n_step)
        slots = cls.frames_per_env(capacity, num_envs, frame_stack, n_step)
        store_cls = FrameStackStore if frame_stack > 1 else ArrayObsStore
        sampler_cls = PrioritizedSampler if prioritized else UniformSampler
        ring = capacity * (8 + 8 + 8 + 4 + 4 + 1)  # ref_obs, ref_next, action, reward, discount, valid
        per_env = num_envs * (slots * 8 + 8 * 3 + 1)  # env_tx, tx_count, tx_checked, cur_ref, first
        return (
            store_cls.estimate_nbytes(num_envs, slots, obs_shape, obs_dtype)
            + NStepAccumulator.estimate_nbytes(num_envs, n_step)
            + sampler_cls.estimate_nbytes(capacity)
            + ring
            + per_env
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by every array of the buffer: store, ring, queues, sum tree."""
        arrays = [getattr(self, f) for f in _RING_FIELDS]
        arrays += [self.env_tx, self.tx_count, self.tx_checked, self.first, self.cur_ref]
        return (
            self.store.nbytes + self.nstep.nbytes + self.sampler.nbytes + sum(int(a.nbytes) for a in arrays)
        )

    def __len__(self) -> int:
        """Number of sampleable transitions."""
        return self.num_valid

    def add(self, t: Transition, env_ids: np.ndarray | None = None) -> None:
        """Store one synchronous step of the envs.

        An env is at its episode's first observation after construction and after any step with
        ``terminated | truncated``; only then is ``t.obs`` stored. Otherwise ``t.obs`` must equal the
        previous ``t.next_obs`` of that env (checked only with ``check_obs=True``).

        Args:
            t: arrays with leading dimension ``M`` (``N`` by default).
            env_ids: ``[M]`` distinct env indices the rows of ``t`` belong to; all ``N`` envs in order by
                default (a replay server fed by several actors passes each actor's ids).
        """
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=np.int64).reshape(-1)
        self._check_transition(t, ids)
        first = self.first[ids]  # [M]
        if first.any():
            self.cur_ref[ids[first]] = self.store.push_first(ids[first], t.obs[first])
        if self.check_obs and not first.all():
            cont = ~first
            if not np.array_equal(
                self.store.get(self.cur_ref[ids[cont]]), t.obs[cont].astype(self.store.dtype)
            ):
                raise ValueError("t.obs differs from the previous t.next_obs of a continuing env")
        ref_obs = self.cur_ref[ids]
        ref_next = self.store.push_next(ids, t.next_obs)
        terminated = np.asarray(t.terminated, dtype=np.bool_).reshape(-1)
        truncated = np.asarray(t.truncated, dtype=np.bool_).reshape(-1)
        out = self.nstep.step(ids, ref_obs, t.action, t.reward, ref_next, terminated, truncated)
        self._invalidate(ids)  # before writing: the pushes may have overwritten frames of old transitions
        if len(out):
            self._write(out)
            self._invalidate(ids)  # only matters for tiny rings, where a fresh transition can be stale
        self.cur_ref[ids] = ref_next
        self.first[ids] = terminated | truncated

    def _check_transition(self, t: Transition, ids: np.ndarray) -> None:
        m = ids.shape[0]
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_envs or np.unique(ids).size != m):
            raise ValueError(f"env_ids must be distinct and in [0, {self.num_envs}), got {ids}")
        for name in ("obs", "next_obs"):
            shape = np.shape(getattr(t, name))
            if shape != (m, *self.obs_shape):
                raise ValueError(f"t.{name} has shape {shape}, expected {(m, *self.obs_shape)}")
        for name in ("action", "reward", "terminated", "truncated"):
            if np.size(getattr(t, name)) != m:
                raise ValueError(f"t.{name} has {np.size(getattr(t, name))} entries, expected {m}")

    def _write(self, out: NStepOutput) -> None:
        m = len(out)
        serial = self.total_added + np.arange(m, dtype=np.int64)  # [m]
        slots = serial % self.capacity  # distinct, as m <= N * n <= capacity
        self.num_valid -= int(self.valid[slots].sum())  # the transitions being overwritten
        self.ref_obs[slots] = out.ref_obs
        self.ref_next[slots] = out.ref_next_obs
        self.action[slots] = out.action
        self.reward[slots] = out.reward
        self.discount[slots] = out.discount
        live = self.store.is_live(out.ref_obs)  # [m]; next_obs is newer, so live too
        self.valid[slots] = live
        self.num_valid += int(live.sum())
        self.sampler.on_add(slots[live])
        if not live.all():
            self.sampler.on_invalidate(slots[~live])
        self._track(out.env, serial, self.env_tx, self.tx_count)
        self.total_added += m

    def _invalidate(self, ids: np.ndarray) -> None:
        # One push of `stack + 1` frames per env can kill at most that many transitions, so this
        # buffer is nearly always big enough; the loop covers the rest.
        out = np.empty((self.store.stack + 1) * max(ids.shape[0], 1), dtype=np.int64)
        m = out.shape[0]
        while m == out.shape[0]:
            arrays = (self.env_tx, self.tx_count, self.tx_checked, self.ref_obs, self.valid, self.store.count)
            m = self._sweep(ids, *arrays, self.store.stack, self.total_added, out)
            if m:
                self.num_valid -= m
                self.sampler.on_invalidate(out[:m])

    def sample(self, batch_size: int, beta: float = 0.4) -> Batch:
        """Draw ``batch_size`` transitions (with replacement).

        Args:
            batch_size: ``B``.
            beta: PER importance-sampling exponent (ignored by uniform replay).

        Returns:
            A ``Batch``; ``obs``/``next_obs`` are ``[B, *obs_shape]`` in the stored dtype.
        """
        if self.num_valid == 0:
            raise ValueError("sample() from a replay buffer with no sampleable transitions")
        size = min(self.total_added, self.capacity)
        idx, weight = self.sampler.sample(batch_size, self.valid, size, self.num_valid, beta)
        if not self.valid[idx].all():
            raise RuntimeError("sampler returned an invalid slot")  # cheap guard on a core invariant
        return Batch(
            obs=self.store.get(self.ref_obs[idx]),
            action=self.action[idx],
            reward=self.reward[idx],
            next_obs=self.store.get(self.ref_next[idx]),
            discount=self.discount[idx],
            weight=weight,
            index=idx,
        )

    def restart_envs(self, ids: np.ndarray) -> None:
        """Sub-envs ``ids`` start over (e.g. a restarted remote worker): their pending n-step steps are dropped
        and the next ``add`` stores their observation as an episode's first."""
        self.first[ids] = True
        self.nstep.q_len[ids] = 0

    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None:
        """Give sampled transitions new priorities (PER only; a no-op for uniform replay).

        Args:
            index: ``[B]`` ``Batch.index`` values.
            priorities: ``[B]`` raw TD errors; the buffer applies ``(|delta| + eps)^alpha``. Slots that have
                become invalid since sampling are skipped; duplicates: the last one wins.
        """
        self.sampler.update(index, priorities, self.valid)

    def state_dict(self, copy_frames: bool = True) -> dict[str, Any]:
        """Everything needed to continue bit-identically: numpy arrays and plain Python values.

        Args:
            copy_frames: copy the observation rings (nearly all the memory). ``False`` returns views, which
                avoids doubling peak memory when the dict is written out at once, before the next ``add``.
        """
        size = min(self.total_added, self.capacity)
        return {
            "version": _STATE_VERSION,
            "config": copy.deepcopy(self.config),
            "ring": {f: getattr(self, f)[:size].copy() for f in _RING_FIELDS},
            "env_tx": self.env_tx.copy(),
            "tx_count": self.tx_count.copy(),
            "tx_checked": self.tx_checked.copy(),
            "first": self.first.copy(),
            "cur_ref": self.cur_ref.copy(),
            "total_added": int(self.total_added),
            "num_valid": int(self.num_valid),
            "store": self.store.state_dict(copy=copy_frames),
            "nstep": self.nstep.state_dict(),
            "sampler": self.sampler.state_dict(size),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a ``state_dict`` into a buffer built with the same configuration."""
        if d.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported replay state version {d.get('version')}")
        if d["config"] != self.config:
            raise ValueError(f"replay config mismatch: saved {d['config']}, this buffer {self.config}")
        for f in _RING_FIELDS:
            ring = getattr(self, f)
            ring[:] = 0
            saved = np.asarray(d["ring"][f])
            ring[: saved.shape[0]] = saved
        for f in ("env_tx", "tx_count", "tx_checked", "first", "cur_ref"):
            getattr(self, f)[:] = np.asarray(d[f])
        self.total_added = int(d["total_added"])
        self.num_valid = int(d["num_valid"])
        self.store.load_state_dict(d["store"])
        self.nstep.load_state_dict(d["nstep"])
        self.sampler.load_state_dict(d["sampler"])
        self.rng.bit_generator.state = copy.deepcopy(d["rng"])
