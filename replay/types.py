"""Data types that cross module boundaries: actor -> replay -> learner.

All arrays are batched over a leading dimension. A ``Transition`` holds one step of every
sub-environment of a vector env (leading dimension ``N = num_envs``); a ``Batch`` holds ``B``
sampled (possibly n-step) transitions ready for a learner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Transition:
    """One synchronous step of ``N`` environments.

    Attributes:
        obs: ``[N, *obs_shape]`` observation the action was chosen from.
        action: ``[N]`` int64 discrete actions.
        reward: ``[N]`` float32 rewards.
        next_obs: ``[N, *obs_shape]`` observation after the step. On an episode end this is the
            *final* observation of the episode (never the reset observation), so truncated episodes
            can bootstrap from it.
        terminated: ``[N]`` bool, the MDP reached a terminal state (no bootstrap).
        truncated: ``[N]`` bool, the episode was cut by a time limit (bootstrap from ``next_obs``).
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray


@dataclass(frozen=True)
class Batch:
    """``B`` sampled transitions for a learner.

    Attributes:
        obs: ``[B, *obs_shape]``.
        action: ``[B]`` int64.
        reward: ``[B]`` float32, the discounted n-step return ``sum_k gamma^k r_{t+k}``.
        next_obs: ``[B, *obs_shape]`` observation ``k <= n`` steps later to bootstrap from.
        discount: ``[B]`` float32, ``gamma**k * (1 - terminated)``: the bootstrap factor, already
            zero where the episode terminated inside the n steps.
        weight: ``[B]`` float32 importance-sampling weights (ones for uniform replay).
        index: ``[B]`` int64 storage indices, handed back with new priorities.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    discount: np.ndarray
    weight: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return int(self.action.shape[0])


@dataclass(frozen=True)
class GameRecord:
    """``P`` self-play positions with their search targets (AlphaZero).

    Attributes:
        obs: ``[P, C, H, W]`` float32 canonical observations (from the player to move).
        legal_mask: ``[P, A]`` bool legal actions.
        policy: ``[P, A]`` float32 MCTS visit distribution at the root (the target pi, not the move played).
        value: ``[P]`` float32 final result z from the point of view of the player to move.
        player: ``[P]`` int8 player to move (0 or 1), for diagnostics.
    """

    obs: np.ndarray
    legal_mask: np.ndarray
    policy: np.ndarray
    value: np.ndarray
    player: np.ndarray

    def __len__(self) -> int:
        return int(self.value.shape[0])


@dataclass(frozen=True)
class Rollout:
    """``T`` synchronous steps of ``N`` environments collected by one policy, for on-policy learners.

    Step ``t`` of sub-env ``n`` went from ``obs[t, n]`` to ``next_obs[t, n]``. Where an episode ended at
    step ``t``, ``next_obs[t, n]`` is its *final* observation and ``obs[t + 1, n]`` the first observation of
    the next episode, so truncated episodes bootstrap from the right state (``agents.returns``).

    Attributes:
        obs: ``[T, N, *obs_shape]`` observations actions were chosen from.
        action: ``[T, N]`` int64 or ``[T, N, d]`` float32: the sampled actions whose ``log_prob`` is
            stored (continuous ones unclipped; the env clipped them to its bounds).
        reward: ``[T, N]`` float32 env rewards, unclipped (a reward model's rewards replace them for
            learning only).
        next_obs: ``[T, N, *obs_shape]`` observation after each step (final observation at episode ends).
        terminated: ``[T, N]`` bool, the MDP ended (no bootstrap).
        truncated: ``[T, N]`` bool, a time limit ended the episode (bootstrap from ``next_obs``).
        log_prob: ``[T, N]`` float32 log-probability of ``action`` under the acting policy.
        value: ``[T, N]`` float32 ``V(obs)`` at acting time (zeros without a critic).
        last_obs: ``[N, *obs_shape]`` the observation to act from after the last step.
        mask: ``[T, N]`` bool, steps the learner uses (all True for fixed-length rollouts; whole-episode
            REINFORCE rollouts mask the steps of episodes still running at the end).
        initial_state: recurrent policies only: the acting network's state (detached, batch-first tensors
            with ``N`` rows, possibly nested in tuples) before step 0; None for feed-forward policies.
        reset: recurrent policies only: ``[T, N]`` bool, ``obs[t, n]`` is the first of an episode (the state
            row is zeroed before step t).
        last_value: recurrent policies only: ``[N]`` float32 ``V(last_obs)`` with the state after the last step.
        final_value: recurrent policies only: ``[T, N]`` float32 ``V(next_obs[t])`` with the state after step
            t, set where the episode was truncated at step t (zero elsewhere).
        legal_mask: ``[T, N, A]`` bool, the legal actions at each step (board games), or None: every action.
            The learner recomputes log-probabilities under the same mask the actor sampled with.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    log_prob: np.ndarray
    value: np.ndarray
    last_obs: np.ndarray
    mask: np.ndarray
    initial_state: Any = None
    reset: np.ndarray | None = None
    last_value: np.ndarray | None = None
    final_value: np.ndarray | None = None
    legal_mask: np.ndarray | None = None

    @property
    def num_steps(self) -> int:
        """``T``."""
        return int(self.reward.shape[0])

    @property
    def num_envs(self) -> int:
        """``N``."""
        return int(self.reward.shape[1])


@dataclass(frozen=True)
class SequenceBatch:
    """``B`` replayed sequences of ``S = burn_in + length`` steps for a recurrent learner (R2D2).

    Position ``j`` of a sequence is one env step; positions hold padding (``mask`` False) before an
    episode's first step and after its last one, so a sequence never spans two episodes.

    Attributes:
        obs: ``[B, S + 1, *obs_shape]`` observations; ``obs[:, j + 1]`` follows step ``j`` (the episode's
            final observation after its last step, zeros over padding).
        action: ``[B, S]`` int64. reward: ``[B, S]`` float32.
        terminated: ``[B, S]`` bool, step ``j`` ended its episode in a terminal state (no bootstrap).
        mask: ``[B, S]`` bool, step ``j`` is a real env step.
        reset: ``[B, S + 1]`` bool, ``obs[:, j]`` is the first observation of an episode (the learner zeroes
            the recurrent state before it).
        state: the acting network's recurrent state before ``obs[:, 0]``: batch-first arrays ``[B, ...]``
            (zeros where position 0 is padding).
        weight: ``[B]`` float32 importance-sampling weights. index: ``[B]`` int64 slots for new priorities.
        burn_in: leading positions that only refresh the state (no loss).
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    mask: np.ndarray
    reset: np.ndarray
    state: tuple[np.ndarray, ...]
    weight: np.ndarray
    index: np.ndarray
    burn_in: int

    def __len__(self) -> int:
        return int(self.action.shape[0])
