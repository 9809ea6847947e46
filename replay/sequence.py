"""Sequence replay for recurrent value learners (R2D2: Kapturowski et al. 2019).

Each replayed item is a fixed-length sequence of ``S = burn_in + length`` env steps of one sub-env, with
the acting network's recurrent state stored at its start. The learner unrolls the network from that state:
the first ``burn_in`` positions only refresh the (stale) stored state, without gradient, and the loss is
taken over the last ``length`` positions.

Where the sequences sit in an episode:

- learning windows start at episode steps ``0, period, 2 * period, ...``; the item for the window starting
  at step ``s`` covers steps ``s - burn_in .. s + length - 1`` plus the observation after the last one, so
  adjacent items overlap by ``S - period`` steps (R2D2: length 80, period 40, burn-in 40);
- positions before the episode's first step are padding: the stored state is zeros and ``reset`` marks the
  first real step, so the very first steps of an episode are learned on with their exact (zero) state;
- an episode's end closes every open window; the positions after it are padding. The observation after
  the last step is the episode's final observation, so a truncated episode bootstraps from it and a
  terminated one does not (``terminated``). No item ever spans two episodes.

Priorities (R2D2, sec. 2.3): ``p = eta * max_t |delta_t| + (1 - eta) * mean_t |delta_t|`` over the learned
positions of a sequence (``sequence_priority``); sampling and importance weights are the prioritized
sampler of ``samplers.py`` over sequences. New sequences enter at the maximal priority seen so far (in a
distributed runner the actors would compute them instead, as Ape-X does).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from replay.samplers import PrioritizedSampler, UniformSampler
from replay.types import SequenceBatch

_STATE_VERSION = 1


def sequence_priority(td_abs: np.ndarray, mask: np.ndarray, eta: float = 0.9) -> np.ndarray:
    """R2D2's sequence priority ``eta * max|delta| + (1 - eta) * mean|delta|`` over the masked steps.

    Args:
        td_abs: ``[B, T]`` per-step ``|TD error|`` (or any per-step loss used as priority).
        mask: ``[B, T]`` bool, the steps that count; a row with none gets priority 0.
        eta: weight of the max (R2D2 uses 0.9).

    Returns:
        ``[B]`` float32 priorities.
    """
    td = np.where(mask, np.abs(td_abs), 0.0)
    count = mask.sum(axis=1)
    mean = td.sum(axis=1) / np.maximum(count, 1)
    return (eta * td.max(axis=1, initial=0.0) + (1.0 - eta) * mean).astype(np.float32)


def stores_state(ep_step: np.ndarray, burn_in: int, period: int) -> np.ndarray:
    """``[N]`` bool: whether the steps at episode steps ``ep_step [N]`` are some window's position 0 with a real
    step there (``k > 0`` and ``(k + burn_in) % period == 0``): the only states ``SequenceReplay`` stores."""
    return (ep_step > 0) & ((ep_step + burn_in) % period == 0)


class SequenceReplay:
    """A ring of ``capacity`` sequences built from the steps of ``num_envs`` synchronous sub-envs.

    Args:
        capacity: sequences kept.
        obs_shape, obs_dtype: one observation.
        num_envs: ``N``, sub-envs stepped together (each keeps its own episode history).
        state_shapes: per-row shape of each recurrent-state array (batch-first tensors, batch dim left out).
        burn_in, length, period: see the module doc (``1 <= period <= length``).
        prioritized, alpha, eps, weight_form: prioritized sampling as in ``samplers.PrioritizedSampler``.
        seed: seeds the sampler's generator.
    """

    def __init__(self, capacity: int, obs_shape: Sequence[int], obs_dtype: str | np.dtype, num_envs: int,
                 state_shapes: Sequence[Sequence[int]], burn_in: int, length: int, period: int,
                 prioritized: bool = False, alpha: float = 0.9, eps: float = 1e-6, weight_form: str = "paper",
                 seed: int = 0) -> None:
        if length < 1 or burn_in < 0 or not 1 <= period <= length:
            raise ValueError(f"need length >= 1, burn_in >= 0 and 1 <= period <= length; got length={length}, "
                             f"burn_in={burn_in}, period={period}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.num_envs = int(capacity), int(num_envs)
        self.burn_in, self.length, self.period = int(burn_in), int(length), int(period)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.obs_dtype = np.dtype(obs_dtype)
        self.state_shapes = [tuple(int(d) for d in s) for s in state_shapes]
        self.config = {"capacity": self.capacity, "num_envs": self.num_envs, "burn_in": self.burn_in,
                       "length": self.length, "period": self.period, "obs_shape": list(self.obs_shape),
                       "obs_dtype": str(self.obs_dtype), "state_shapes": [list(s) for s in self.state_shapes],
                       "prioritized": prioritized}
        s, c = self.seq_steps, self.capacity
        self.obs = np.zeros((c, s + 1, *self.obs_shape), dtype=self.obs_dtype)
        self.action = np.zeros((c, s), dtype=np.int64)
        self.reward = np.zeros((c, s), dtype=np.float32)
        self.terminated = np.zeros((c, s), dtype=bool)
        self.mask = np.zeros((c, s), dtype=bool)
        self.reset = np.zeros((c, s + 1), dtype=bool)
        self.state = [np.zeros((c, *shape), dtype=np.float32) for shape in self.state_shapes]
        self.valid = np.zeros(c, dtype=bool)
        self.rng = np.random.default_rng(seed)
        self.prioritized = prioritized
        self.sampler: UniformSampler | PrioritizedSampler = (
            PrioritizedSampler(c, self.rng, alpha, eps, weight_form) if prioritized else UniformSampler(c, self.rng))
        self.total_added = 0
        # Per sub-env: the current episode's last S steps (oldest first) and where its windows stand.
        self.history: list[list[tuple[Any, ...]]] = [[] for _ in range(self.num_envs)]
        self.ep_step = np.zeros(self.num_envs, dtype=np.int64)  # steps of the current episode so far
        self.next_start = np.zeros(self.num_envs, dtype=np.int64)  # start of the next window to emit

    @property
    def seq_steps(self) -> int:
        """``S = burn_in + length``."""
        return self.burn_in + self.length

    def __len__(self) -> int:
        return min(self.total_added, self.capacity)

    @property
    def nbytes(self) -> int:
        arrays = [self.obs, self.action, self.reward, self.terminated, self.mask, self.reset, *self.state]
        return int(sum(a.nbytes for a in arrays) + self.sampler.nbytes)

    # --- writing ---------------------------------------------------------------------------------
    def add(self, obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray, state: Sequence[np.ndarray],
            env_ids: np.ndarray | None = None) -> None:
        """One synchronous step of the ``N`` sub-envs (or of the slots ``env_ids``).

        Args:
            obs: ``[N, *obs_shape]`` observations acted on. action: ``[N]``. reward: ``[N]``.
            next_obs: ``[N, *obs_shape]`` observations after the step (final ones where an episode ended).
            terminated, truncated: ``[N]`` bool.
            state: the recurrent state the network was given with ``obs``, as batch-first arrays ``[N, ...]``
                matching ``state_shapes``. Only the rows ``stores_state`` selects are read (and copied): the
                others may hold anything, e.g. the previous episode's state at an episode's first step.
            env_ids: ``[M]`` the sub-env slots the rows belong to (every argument then has ``M`` rows), for a
                replay fed by several actors that each own some slots; None: all ``N``, in order.
        """
        ids = range(self.num_envs) if env_ids is None else [int(e) for e in env_ids]
        keep = stores_state(self.ep_step[list(ids)], self.burn_in, self.period)
        for row, e in enumerate(ids):
            hist = self.history[e]
            kept = tuple(np.asarray(x[row], dtype=np.float32).copy() for x in state) if keep[row] else None
            hist.append((obs[row].copy(), int(action[row]), float(reward[row]), bool(terminated[row]), kept))
            if len(hist) > self.seq_steps:
                del hist[0]
            t = int(self.ep_step[e])  # episode step of the transition just added
            while self.next_start[e] + self.length - 1 <= t:  # windows that are now complete
                self._emit(e, int(self.next_start[e]), t, next_obs[row])
                self.next_start[e] += self.period
            if terminated[row] or truncated[row]:
                while self.next_start[e] <= t:  # windows the episode's end cuts short
                    self._emit(e, int(self.next_start[e]), t, next_obs[row])
                    self.next_start[e] += self.period
                hist.clear()
                self.ep_step[e] = 0
                self.next_start[e] = 0
            else:
                self.ep_step[e] = t + 1

    def restart_envs(self, env_ids: np.ndarray) -> None:
        """Forget the unfinished episodes of slots ``env_ids`` (their actor restarted and begins new ones).

        Their pending windows are dropped rather than closed: the steps after them will never come, and
        closing them would mark a cut-off episode as ended."""
        for e in np.asarray(env_ids, dtype=np.int64):
            self.history[e].clear()
            self.ep_step[e] = 0
            self.next_start[e] = 0

    def _emit(self, e: int, start: int, last: int, final_obs: np.ndarray) -> None:
        """Write the window starting at episode step ``start`` of env ``e``; ``last`` is the newest step and
        ``final_obs`` the observation after it."""
        slot = self.total_added % self.capacity
        hist = self.history[e]
        oldest = last - len(hist) + 1  # episode step of hist[0]
        first = start - self.burn_in  # episode step at position 0
        self.obs[slot] = 0
        self.reset[slot] = False
        for j in range(self.seq_steps + 1):
            k = first + j
            if 0 <= k <= last:
                step = hist[k - oldest]
                self.obs[slot, j] = step[0]
                if j < self.seq_steps:
                    self.action[slot, j], self.reward[slot, j], self.terminated[slot, j] = step[1:4]
                    self.mask[slot, j] = True
            elif k == last + 1:
                self.obs[slot, j] = final_obs
            if j < self.seq_steps and not 0 <= k <= last:
                self.action[slot, j], self.reward[slot, j] = 0, 0.0
                self.terminated[slot, j] = self.mask[slot, j] = False
            if k == 0:
                self.reset[slot, j] = True
        for i, arr in enumerate(self.state):
            arr[slot] = hist[first - oldest][4][i] if first > 0 else 0.0
        self.valid[slot] = True
        self.sampler.on_add(np.array([slot]))
        self.total_added += 1

    # --- reading ---------------------------------------------------------------------------------
    def sample(self, batch_size: int, beta: float = 0.4) -> SequenceBatch:
        """Draw ``batch_size`` sequences (with replacement); ``beta`` is the PER weight exponent."""
        size = len(self)
        if size == 0:
            raise ValueError("sample() from a sequence replay with no complete sequence yet")
        idx, weight = self.sampler.sample(batch_size, self.valid, size, size, beta)
        return SequenceBatch(obs=self.obs[idx], action=self.action[idx], reward=self.reward[idx],
                             terminated=self.terminated[idx], mask=self.mask[idx], reset=self.reset[idx],
                             state=tuple(a[idx] for a in self.state), weight=weight, index=idx,
                             burn_in=self.burn_in)

    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None:
        """``[B]`` sequence priorities (see ``sequence_priority``) for ``SequenceBatch.index`` (PER only)."""
        self.sampler.update(index, priorities, self.valid)

    # --- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically: arrays and plain Python values."""
        size = len(self)
        ring = {f: getattr(self, f)[:size].copy() for f in ("obs", "action", "reward", "terminated", "mask",
                                                              "reset", "valid")}
        ring["state"] = [a[:size].copy() for a in self.state]
        history = [{"obs": np.stack([h[0] for h in hist]) if hist else np.zeros((0, *self.obs_shape)),
                    "action": [h[1] for h in hist], "reward": [h[2] for h in hist],
                    "terminated": [h[3] for h in hist],
                    # steps whose state is never read hold zeros here (None in memory)
                    "state": [np.stack([h[4][i] if h[4] is not None else np.zeros(shape, np.float32) for h in hist])
                              if hist else np.zeros((0, *shape)) for i, shape in enumerate(self.state_shapes)]}
                   for hist in self.history]
        return {"version": _STATE_VERSION, "config": copy.deepcopy(self.config), "ring": ring,
                "history": history, "ep_step": self.ep_step.copy(), "next_start": self.next_start.copy(),
                "total_added": self.total_added, "sampler": self.sampler.state_dict(size),
                "rng": copy.deepcopy(self.rng.bit_generator.state)}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a ``state_dict`` into a replay built with the same configuration."""
        if d.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported sequence replay state version {d.get('version')}")
        if d["config"] != self.config:
            raise ValueError(f"sequence replay config mismatch: saved {d['config']}, this one {self.config}")
        ring = d["ring"]
        size = len(ring["valid"])
        for f in ("obs", "action", "reward", "terminated", "mask", "reset", "valid"):
            arr = getattr(self, f)
            arr[:] = 0
            arr[:size] = np.asarray(ring[f])
        for arr, saved in zip(self.state, ring["state"], strict=True):
            arr[:] = 0
            arr[:size] = np.asarray(saved)
        self.history = []
        for h in d["history"]:
            n = len(h["action"])
            self.history.append([(np.asarray(h["obs"][i], dtype=self.obs_dtype), int(h["action"][i]),
                                  float(h["reward"][i]), bool(h["terminated"][i]),
                                  tuple(np.asarray(s[i], dtype=np.float32) for s in h["state"]))
                                 for i in range(n)])
        self.ep_step[:] = np.asarray(d["ep_step"])
        self.next_start[:] = np.asarray(d["next_start"])
        self.total_added = int(d["total_added"])
        self.sampler.load_state_dict(d["sampler"])
        self.rng.bit_generator.state = copy.deepcopy(d["rng"])
