"""Per-episode seeding, same-step autoreset, episode statistics and exact resume for batched envs.

Subclasses wrap a backend vector env (Gymnasium's ``SyncVectorEnv``, the ALE's native
``AtariVectorEnv``). Where an episode ends, ``_raw_step`` returns its *final* observation and this
class starts the next episode in the same ``step`` call, normally with a seeded reset whose seed is
derived from ``(run seed, env index, episode index)``.

Actions are ``[N]`` integers for discrete specs, or ``[N, *action_shape]`` float32 vectors for
continuous ones (``EnvSpec.continuous``), which are clipped to the spec's bounds before the backend
sees them.

Exact resume replays instead of pickling emulators. Each sub-env's *segment* is everything since
its last seeded reset: the seed and the (clipped) actions taken since. A segment is the current episode,
except for backends that reset by themselves (the ALE), which may skip the costly seeded reset for
some episodes so that one segment spans several; those autoresets are deterministic too.
``set_state`` resets every sub-env with its segment seed and replays its actions in lockstep.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from envs.base import EnvSpec, StepResult

STATE_FORMAT = 1


def episode_seed(seed: int, env_index: int, episode: int) -> int:
    """The seed of episode ``episode`` of sub-env ``env_index`` in a run seeded with ``seed``.

    Args:
        seed: the run seed (non-negative).
        env_index: position of the sub-env in the batch.
        episode: how many episodes that sub-env has started before this one.

    Returns:
        An int in ``[1, 2**31 - 1]``: the ALE takes a C ``int`` and treats 0 as "no seed", MinAtar
        takes a ``uint32``.
    """
    state = np.random.SeedSequence([seed, env_index, episode]).generate_state(1)
    return 1 + int(state[0]) % (2**31 - 1)


class SeededVectorEnv(abc.ABC):
    """A ``BatchedEnv`` built on a backend stepped by ``_raw_step`` and reset by ``_raw_reset``.

    Subclasses implement ``_raw_reset``, ``_raw_step`` and ``close`` (and optionally ``render``,
    ``_reseed_mask``); this class owns seeding, autoreset, episode statistics and resume.
    """

    spec: EnvSpec
    num_envs: int
    # True when the backend resets finished sub-envs itself inside ``_raw_step`` and then leaves the
    # batch to act from, reset rows included, in ``self._autoreset_obs``.
    autoresets: bool = False
    # False when no action history is kept: ``set_state`` then cannot replay (see subclasses).
    keep_history: bool = True

    def __init__(self, spec: EnvSpec, num_envs: int, seed: int) -> None:
        """Set up the bookkeeping; the backend must already exist.

        Args:
            spec: static description of the env.
            num_envs: number of sub-envs ``N``.
            seed: run seed; every episode seed is derived from it.
        """
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.spec = spec
        self.num_envs = num_envs
        self.seed = int(seed)
        self._episode = np.full(num_envs, -1, dtype=np.int64)  # [N] index of the current episode
        self._return = np.zeros(num_envs, dtype=np.float64)  # [N] running unclipped return
        self._length = np.zeros(num_envs, dtype=np.int64)  # [N] steps taken in the current episode
        self._segment_seed = np.zeros(num_envs, dtype=np.int64)  # [N] seed of the last seeded reset
        self._segment_length = np.zeros(num_envs, dtype=np.int64)  # [N] actions taken since it
        # [N, capacity, *action_shape] segment actions: int32 (discrete) or float32 (continuous, clipped).
        action_dtype = np.float32 if spec.continuous else np.int32
        self._actions = np.zeros((num_envs, 1024, *spec.action_shape), dtype=action_dtype)
        self._action_low = np.asarray(spec.action_low, dtype=np.float32)  # [*action_shape] or [0]
        self._action_high = np.asarray(spec.action_high, dtype=np.float32)
        # What a sub-env waiting to start its replayed segment is stepped with (any valid action works).
        self._idle_action = (
            np.clip(np.zeros(spec.action_shape, dtype=np.float32), self._action_low, self._action_high)
            if spec.continuous
            else np.zeros((), dtype=np.int64)
        )
        self._obs: np.ndarray | None = None  # [N, *obs_shape] what to act from next
        self._autoreset_obs: np.ndarray | None = None

    # ----------------------------------------------------------------------------------- backend

    @abc.abstractmethod
    def _raw_reset(self, seeds: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Reset the sub-envs selected by ``mask`` (all when ``None``).

        Args:
            seeds: ``[N]`` int64 seeds; entries outside ``mask`` are ignored; 0 means unseeded.
            mask: ``[N]`` bool, or ``None`` for every sub-env.

        Returns:
            ``[N, *obs_shape]``: reset observations where reset, current observations elsewhere.
        """

    @abc.abstractmethod
    def _raw_step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every sub-env once.

        Args:
            action: ``[N]`` int64 actions in ``[0, num_actions)``, or ``[N, *action_shape]`` float32
                actions within ``[action_low, action_high]`` for continuous specs.

        Returns:
            ``next_obs [N, *obs_shape]`` (final obs where an episode ended), ``reward [N]`` (unclipped),
            ``terminated [N]``, ``truncated [N]``, and ``ended [N]``: the episode is over (usually
            ``terminated | truncated``). Unless ``autoresets``, ended sub-envs must be reset before
            their next step.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the backend."""

    def _reseed_mask(self, ended: np.ndarray) -> np.ndarray:
        """Which of the ``[N]`` ``ended`` sub-envs get a seeded reset; the rest were autoreset."""
        return ended

    def render(self, index: int = 0) -> np.ndarray | None:
        """An RGB frame ``[H, W, 3]`` uint8 of sub-env ``index``; ``None`` when not available."""
        return None

    # -------------------------------------------------------------------------------- public API

    def reset(self) -> np.ndarray:
        """Start a new, seeded episode in every sub-env.

        Returns:
            ``[N, *obs_shape]`` first observations.
        """
        self._episode += 1
        self._segment_seed[:] = [episode_seed(self.seed, i, int(k)) for i, k in enumerate(self._episode)]
        self._segment_length[:] = 0
        self._return[:] = 0.0
        self._length[:] = 0
        self._obs = self._raw_reset(self._segment_seed, None)
        return self._obs

    def step(self, action: np.ndarray) -> StepResult:
        """Step every sub-env; sub-envs whose episode ended are reset within this call.

        Args:
            action: ``[N]`` integer actions in ``[0, num_actions)``; for continuous specs
                ``[N, *action_shape]`` float actions, which are *clipped* to
                ``[spec.action_low, spec.action_high]`` before they reach the backend (a Gaussian
                policy's samples are unbounded; keep its log-probabilities for the unclipped sample).
                The clipped actions are what ``get_state`` records.

        Returns:
            A ``StepResult``. ``terminated`` and ``truncated`` are never both set (terminated wins).
            ``obs`` is the same array object as ``next_obs`` when no episode ended (treat both as
            read-only).
        """
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        action = self._check_action(action)
        self._record(action)
        next_obs, reward, terminated, truncated, ended = self._raw_step(action)
        # A step that both terminates and hits the time limit is a true terminal: never bootstrap it.
        truncated = truncated & ~terminated
        self._return += reward
        self._length += 1
        episode_return = np.full(self.num_envs, np.nan, dtype=np.float32)
        episode_length = np.zeros(self.num_envs, dtype=np.int64)
        obs = next_obs
        if ended.any():
            done = np.flatnonzero(ended)
            episode_return[done] = self._return[done]
            episode_length[done] = self._length[done]
            self._return[done] = 0.0
            self._length[done] = 0
            self._episode[done] += 1
            reset_obs = self._start_next_episodes(ended)
            obs = next_obs.copy()
            obs[done] = reset_obs[done]
        self._obs = obs
        return StepResult(
            next_obs=next_obs,
            reward=reward.astype(np.float32),
            terminated=terminated,
            truncated=truncated,
            obs=obs,
            episode_return=episode_return,
            episode_length=episode_length,
        )

    def get_state(self) -> dict[str, Any]:
        """Everything needed to rebuild the current state: ints, lists and numpy arrays only.

        Returns:
            ``seed``, ``num_envs``, ``episode [N]`` (episodes started before the current one),
            ``episode_return [N]`` and ``episode_length [N]`` accumulators, ``segment_seed [N]`` and
            ``actions`` (one array per sub-env: the actions since that seeded reset, ``[L]`` int32 or
            ``[L, *action_shape]`` float32 for continuous specs).
        """
        if self._obs is None:
            raise RuntimeError("call reset() before get_state()")
        return {
            "format": STATE_FORMAT,
            "seed": self.seed,
            "num_envs": self.num_envs,
            "episode": self._episode.copy(),
            "episode_return": self._return.copy(),
            "episode_length": self._length.copy(),
            "segment_seed": self._segment_seed.copy(),
            "actions": [self._actions[i, : self._segment_length[i]].copy() for i in range(self.num_envs)],
        }

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore a ``get_state`` result by re-seeding and replaying each sub-env's segment.

        Sub-envs are replayed in lockstep: the one with the longest segment starts at once, each
        shorter one is stepped with action 0 (zeros clipped to the bounds when continuous) until it is
        reset with its segment seed exactly ``len(actions)`` steps before the end, so all finish
        replaying together.

        Args:
            state: a dict from ``get_state`` (possibly after a save/load round trip).

        Returns:
            ``[N, *obs_shape]`` the observation to act from next.
        """
        self._check_state(state)
        self.seed = int(state["seed"])
        self._episode = np.asarray(state["episode"], dtype=np.int64).copy()
        self._return = np.asarray(state["episode_return"], dtype=np.float64).copy()
        self._length = np.asarray(state["episode_length"], dtype=np.int64).copy()
        self._segment_seed = np.asarray(state["segment_seed"], dtype=np.int64).copy()
        # reshape: an empty segment may come back as a flat [0] array or an empty list.
        actions = [
            np.asarray(a, dtype=self._actions.dtype).reshape(-1, *self.spec.action_shape) for a in state["actions"]
        ]
        self._segment_length = np.array([len(a) for a in actions], dtype=np.int64)
        self._ensure_capacity(int(self._segment_length.max(initial=0)))
        for i, a in enumerate(actions):
            self._actions[i, : len(a)] = a
        self._obs = self._replay(actions)
        return self._obs

    # ----------------------------------------------------------------------------------- helpers

    def _start_next_episodes(self, ended: np.ndarray) -> np.ndarray:
        """Reset the ``ended`` ``[N]`` sub-envs (seeded where ``_reseed_mask`` says); returns obs rows."""
        reseed = self._reseed_mask(ended)
        reset_obs = self._autoreset_obs
        if reseed.any():
            seeds = np.zeros(self.num_envs, dtype=np.int64)
            for i in np.flatnonzero(reseed):
                seeds[i] = episode_seed(self.seed, int(i), int(self._episode[i]))
            # Rows outside ``reseed`` come back as the backend's current (autoreset) observations.
            reset_obs = self._raw_reset(seeds, reseed)
            self._segment_seed[reseed] = seeds[reseed]
            self._segment_length[reseed] = 0
        if reset_obs is None:
            raise RuntimeError("backend neither autoreset nor was reset")
        return reset_obs

    def _replay(self, actions: list[np.ndarray]) -> np.ndarray:
        """Reset and replay each sub-env's segment so that all end at the same step."""
        lengths = self._segment_length
        longest = int(lengths.max(initial=0))
        start = longest - lengths  # [N] lockstep index at which each sub-env begins its segment
        unseeded = np.zeros(self.num_envs, dtype=np.int64)
        obs = self._raw_reset(self._segment_seed, None)
        pending = np.zeros(self.num_envs, dtype=bool)  # stand-in episodes that ended, to reset
        since_end = np.zeros(self.num_envs, dtype=np.int64)  # [N] steps since the last episode end
        for s in range(longest + 1):
            begin = (start == s) & (s > 0)
            if (begin | pending).any():
                obs = self._raw_reset(np.where(begin, self._segment_seed, unseeded), begin | pending)
            if s == longest:
                break
            active = start <= s
            step_action = np.repeat(self._idle_action[None], self.num_envs, axis=0)  # [N, *action_shape]
            for i in np.flatnonzero(active):
                step_action[i] = actions[i][s - start[i]]
            obs, _, _, _, ended = self._raw_step(step_action)
            since_end[active] += 1
            since_end[ended] = 0
            pending[:] = False
            if ended.any() and self.autoresets:
                assert self._autoreset_obs is not None
                obs = self._autoreset_obs
            elif ended.any():
                if (ended & active).any():
                    raise RuntimeError("replay diverged: a recorded episode ended during set_state")
                pending = ended.copy()
        if not np.array_equal(since_end, self._length):
            raise RuntimeError("replay diverged: episode lengths differ after set_state")
        return obs

    def _check_state(self, state: dict[str, Any]) -> None:
        """Reject states from another format or batch size."""
        if int(state.get("format", -1)) != STATE_FORMAT:
            raise ValueError(f"unknown env state format {state.get('format')!r}")
        if int(state["num_envs"]) != self.num_envs:
            raise ValueError(f"state has {state['num_envs']} sub-envs, this env has {self.num_envs}")

    def _check_action(self, action: np.ndarray) -> np.ndarray:
        """Validate ``[N]`` integer actions and return them as int64 (continuous: see ``_check_continuous``)."""
        if self.spec.continuous:
            return self._check_continuous(action)
        a = np.asarray(action)
        if a.shape != (self.num_envs,):
            raise ValueError(f"expected actions of shape ({self.num_envs},), got {a.shape}")
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions must be integers, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        if a.min() < 0 or a.max() >= self.spec.num_actions:
            raise ValueError(f"actions must lie in [0, {self.spec.num_actions}), got {a}")
        return a

    def _check_continuous(self, action: np.ndarray) -> np.ndarray:
        """Validate ``[N, *action_shape]`` float actions; return them as float32 clipped to the bounds."""
        a = np.asarray(action)
        expected = (self.num_envs, *self.spec.action_shape)
        if a.shape != expected:
            raise ValueError(f"expected continuous actions of shape {expected}, got {a.shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"continuous actions must be floats, got dtype {a.dtype}")
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError("continuous actions must be finite, got NaN or inf")
        return np.clip(a, self._action_low, self._action_high)

    def _record(self, action: np.ndarray) -> None:
        """Append ``[N]`` actions to the segments' histories."""
        if not self.keep_history:
            return
        self._ensure_capacity(int(self._segment_length.max()) + 1)
        self._actions[np.arange(self.num_envs), self._segment_length] = action
        self._segment_length += 1

    def _ensure_capacity(self, needed: int) -> None:
        """Grow the ``[N, capacity]`` action history (doubling) to hold ``needed`` steps."""
        capacity = self._actions.shape[1]
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        grown = np.zeros((self.num_envs, capacity, *self.spec.action_shape), dtype=self._actions.dtype)
        grown[:, : self._actions.shape[1]] = self._actions
        self._actions = grown
