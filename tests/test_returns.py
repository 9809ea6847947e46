"""Rewards-to-go and GAE(lambda) against values worked out by hand on a [T=4, N=2] rollout.

Column 0 terminates at t=1 (a new episode runs to the rollout's end); column 1 is truncated at t=2, whose
final observation is worth 10 while the reset observation that follows is worth 100: using the latter
as the bootstrap (the classic bug) changes every number below. gamma = lambda = 0.5.
"""

from __future__ import annotations

import numpy as np

from agents.returns import gae, next_values, rewards_to_go

GAMMA = 0.5
REWARD = np.array([[1, 1], [2, 1], [3, 1], [4, 1]], dtype=np.float32)  # [T, N]
TERMINATED = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=bool)
TRUNCATED = np.array([[0, 0], [0, 0], [0, 1], [0, 0]], dtype=bool)
VALUE = np.array([[1, 2], [1, 2], [1, 2], [1, 100]], dtype=np.float32)  # V(obs[t]); obs[3, 1] is a reset obs
LAST_VALUE = np.array([8, 6], dtype=np.float32)  # V(last_obs)
# V(next_obs[t]) where an episode ended: 10 for the truncation's final obs; 50 at the termination, never read.
FINAL_VALUE = np.array([[0, 0], [50, 0], [0, 10], [0, 0]], dtype=np.float32)


def _next() -> np.ndarray:
    return next_values(VALUE, LAST_VALUE, TERMINATED | TRUNCATED, FINAL_VALUE)


def test_next_values_use_the_final_observation_never_the_reset_one() -> None:
    np.testing.assert_array_equal(_next(), [[1, 2], [50, 2], [1, 10], [8, 6]])


def test_rewards_to_go_without_bootstrap() -> None:
    # col 0: G1 = 2, G0 = 1 + .5 * 2; G3 = 4 (rollout end counts 0), G2 = 3 + .5 * 4.
    # col 1: truncated tail counts 0: G2 = 1, G1 = 1.5, G0 = 1.75; G3 = 1.
    g = rewards_to_go(REWARD, TERMINATED, TRUNCATED, GAMMA)
    np.testing.assert_allclose(g, [[2, 1.75], [2, 1.5], [5, 1], [4, 1]])


def test_rewards_to_go_bootstrap_truncation_and_rollout_end() -> None:
    # col 0: G3 = 4 + .5 * 8 = 8, G2 = 3 + .5 * 8 = 7; termination: G1 = 2, G0 = 2.
    # col 1: G2 = 1 + .5 * 10 = 6, G1 = 4, G0 = 3; G3 = 1 + .5 * 6 = 4.
    g = rewards_to_go(REWARD, TERMINATED, TRUNCATED, GAMMA, bootstrap=_next())
    np.testing.assert_allclose(g, [[2, 3], [2, 4], [7, 6], [8, 4]])


def test_gae_by_hand() -> None:
    # deltas col 0: .5, 1 (terminal: no bootstrap), 2.5, 7; col 1: 0, 0, 1 + .5 * 10 - 2 = 4, 1 + 3 - 100 = -96.
    # A = delta + .25 * A_next, cut at every episode end.
    adv, ret = gae(REWARD, VALUE, _next(), TERMINATED, TRUNCATED, GAMMA, 0.5)
    np.testing.assert_allclose(adv, [[0.75, 0.25], [1, 1], [4.25, 4], [7, -96]])
    np.testing.assert_allclose(ret, adv + VALUE)
    np.testing.assert_allclose(ret, [[1.75, 2.25], [2, 3], [5.25, 6], [8, 4]])


def test_gae_lambda_one_is_the_bootstrapped_monte_carlo_return() -> None:
    _, ret = gae(REWARD, VALUE, _next(), TERMINATED, TRUNCATED, GAMMA, 1.0)
    np.testing.assert_allclose(ret, rewards_to_go(REWARD, TERMINATED, TRUNCATED, GAMMA, bootstrap=_next()), rtol=1e-6)


def test_gae_lambda_zero_is_one_step_td() -> None:
    adv, _ = gae(REWARD, VALUE, _next(), TERMINATED, TRUNCATED, GAMMA, 0.0)
    td = REWARD + GAMMA * (1 - TERMINATED) * _next() - VALUE
    np.testing.assert_allclose(adv, td)
