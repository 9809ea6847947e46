"""Returns over ``[T, N]`` rollouts: Monte-Carlo rewards-to-go and GAE(lambda), with termination and
truncation kept apart.

- Rewards-to-go (the REINFORCE return, Williams 1992): ``G_t = sum_k gamma^k r_{t+k}`` to the end of the
  episode.
- GAE: Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage Estimation".

Conventions. Step ``t`` of sub-env ``n`` moved from ``obs[t, n]`` to ``next_obs[t, n]`` with reward
``reward[t, n]``. Where the episode ended at step ``t``, ``next_obs[t, n]`` is the *final* observation and
``obs[t + 1, n]`` is the first observation of a new episode.

- ``terminated``: the MDP ended; the return stops there (nothing after it is worth anything).
- ``truncated``: a time limit cut the episode; the state still had a future, so the return bootstraps
  from ``V(final observation)``: the value of ``next_obs[t]``, never of the reset observation
  ``obs[t + 1]``. Without a value function (``bootstrap=None`` in ``rewards_to_go``) the truncated tail
  counts as 0: the return actually observed, the textbook Monte-Carlo return, biased low under time limits.
- The rollout's last step ``T - 1`` is cut by the rollout boundary, not by the env: it bootstraps from
  ``V(last_obs)`` the same way, unless its episode ended there.

Both functions are plain numpy (a Python loop over ``T``, vectorised over ``N``); they are cheap next to
any network call and easy to check by hand (``tests/test_returns.py``).
"""

from __future__ import annotations

import numpy as np


def next_values(value: np.ndarray, last_value: np.ndarray, ended: np.ndarray,
                final_value: np.ndarray) -> np.ndarray:
    """``V(next_obs[t])`` for every step, built from values the caller has already computed.

    Args:
        value: ``[T, N]`` ``V(obs[t])``.
        last_value: ``[N]`` ``V(last_obs)``, the observation after the rollout's last step.
        ended: ``[T, N]`` bool, ``terminated | truncated``.
        final_value: ``[T, N]`` ``V(next_obs[t])`` where the episode ended (only read there; at least
            where truncated, since terminated steps never bootstrap).

    Returns:
        ``[T, N]``: ``value[t + 1]`` inside an episode, ``last_value`` at ``t = T - 1``, and
        ``final_value`` where the episode ended (never the value of a reset observation).
    """
    nxt = np.concatenate([value[1:], last_value[None]], axis=0)  # [T, N]
    return np.where(ended, final_value, nxt)


def rewards_to_go(reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, gamma: float,
                  bootstrap: np.ndarray | None = None) -> np.ndarray:
    """Discounted return from each step to its episode's end (or to the rollout's end).

    ``G_t = r_t + gamma * (1 - done_t) * G_{t+1} + gamma * truncated_t * b_t``, with ``done = terminated |
    truncated`` and ``G_T = b_{T-1}`` for an episode still running at the end of the rollout.

    Args:
        reward: ``[T, N]``.
        terminated: ``[T, N]`` bool.
        truncated: ``[T, N]`` bool.
        gamma: discount.
        bootstrap: ``[T, N]`` ``V(next_obs[t])`` (see ``next_values``), read only where truncated and at
            ``t = T - 1``; ``None`` bootstraps from 0 (the observed, pure Monte-Carlo return).

    Returns:
        ``[T, N]`` float32 returns.
    """
    t_len = reward.shape[0]
    done = terminated | truncated
    b = np.zeros_like(reward, dtype=np.float64) if bootstrap is None else bootstrap.astype(np.float64)
    out = np.zeros(reward.shape, dtype=np.float64)
    # After the last step: bootstrap unless the episode ended there (a truncation bootstraps below).
    running = np.where(done[-1], 0.0, b[-1])  # [N]
    for t in range(t_len - 1, -1, -1):
        if t < t_len - 1:
            running = np.where(done[t], 0.0, running)
        running = reward[t] + gamma * (running + np.where(truncated[t], b[t], 0.0))
        out[t] = running
    return out.astype(np.float32)


def gae(reward: np.ndarray, value: np.ndarray, next_value: np.ndarray, terminated: np.ndarray,
        truncated: np.ndarray, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation.

    ``delta_t = r_t + gamma * (1 - terminated_t) * V(next_obs_t) - V(obs_t)`` and
    ``A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}``, ``A_T = 0``: a truncation bootstraps in
    ``delta`` through the final observation's value, and both kinds of episode end stop the recursion.

    Args:
        reward: ``[T, N]``.
        value: ``[T, N]`` ``V(obs[t])``.
        next_value: ``[T, N]`` ``V(next_obs[t])`` (see ``next_values``): the final observation's value
            where the episode was truncated, ``V(last_obs)`` at ``t = T - 1``.
        terminated: ``[T, N]`` bool.
        truncated: ``[T, N]`` bool.
        gamma: discount.
        lam: GAE lambda (1: Monte-Carlo advantages with bootstrap, 0: one-step TD).

    Returns:
        ``(advantages [T, N], returns [T, N])`` float32, ``returns = advantages + value`` (the value
        targets, TD(lambda) returns).
    """
    t_len = reward.shape[0]
    not_term = 1.0 - terminated.astype(np.float64)
    not_done = 1.0 - (terminated | truncated).astype(np.float64)
    delta = reward + gamma * not_term * next_value - value  # [T, N]
    adv = np.zeros(reward.shape, dtype=np.float64)
    running = np.zeros(reward.shape[1:], dtype=np.float64)  # [N]
    for t in range(t_len - 1, -1, -1):
        running = delta[t] + gamma * lam * not_done[t] * running
        adv[t] = running
    return adv.astype(np.float32), (adv + value).astype(np.float32)
