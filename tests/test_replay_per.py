"""Prioritized replay (Schaul et al. 2016): sampling frequencies, weight forms, max-priority insertion."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay import ReplayBuffer, Transition
from replay.samplers import PrioritizedSampler, UniformSampler, importance_weights


def _sampler(td: np.ndarray, alpha: float, weight_form: str = "paper", seed: int = 0) -> PrioritizedSampler:
    s = PrioritizedSampler(
        len(td), np.random.default_rng(seed), alpha=alpha, eps=1e-6, weight_form=weight_form
    )
    s.on_add(np.arange(len(td)))
    s.update(np.arange(len(td)), td, np.ones(len(td), dtype=bool))
    return s


@settings(derandomize=True, max_examples=25, deadline=None)
@given(
    td=st.lists(st.floats(0.0, 10.0), min_size=2, max_size=40),
    alpha=st.sampled_from([0.0, 0.5, 0.7, 1.0]),
)
def test_sampling_frequencies_match_priorities(td: list[float], alpha: float) -> None:
    td_arr = np.asarray(td)
    s = _sampler(td_arr, alpha)
    expected = (np.abs(td_arr) + 1e-6) ** alpha
    expected /= expected.sum()
    draws, batch = 40_000, 250
    counts = np.zeros(len(td))
    valid = np.ones(len(td), dtype=bool)
    for _ in range(draws // batch):
        idx, _ = s.sample(batch, valid, len(td), len(td), beta=0.4)
        counts += np.bincount(idx, minlength=len(td))
    freq = counts / draws
    # Binomial standard error bound (stratification only lowers the variance), 5 sigma.
    tol = 5 * np.sqrt(expected * (1 - expected) / draws) + 1e-4
    assert np.all(np.abs(freq - expected) <= tol), (freq, expected)


def test_weight_forms_on_hand_values() -> None:
    prob = np.array([0.5, 0.25, 0.25])
    # N P = [1.5, 0.75, 0.75]; beta = 1: seed w = 1 / (N P) = [2/3, 4/3, 4/3]; paper divides by max 4/3.
    np.testing.assert_allclose(importance_weights(prob, 3, 1.0, "seed"), [2 / 3, 4 / 3, 4 / 3], rtol=1e-6)
    np.testing.assert_allclose(importance_weights(prob, 3, 1.0, "paper"), [0.5, 1.0, 1.0], rtol=1e-6)
    # beta = 0.5: seed [1.5^-.5, .75^-.5, .75^-.5] = [0.81650, 1.15470, 1.15470]; paper: / 1.15470.
    np.testing.assert_allclose(
        importance_weights(prob, 3, 0.5, "seed"), [0.8164966, 1.1547005, 1.1547005], rtol=1e-6
    )
    np.testing.assert_allclose(importance_weights(prob, 3, 0.5, "paper"), [0.7071068, 1.0, 1.0], rtol=1e-6)
    # beta = 0: no correction in either form.
    np.testing.assert_array_equal(importance_weights(prob, 3, 0.0, "seed"), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        importance_weights(prob, 3, 1.0, "other")


@pytest.mark.parametrize("weight_form", ["paper", "seed"])
def test_sampled_weights_follow_the_formula(weight_form: str) -> None:
    td = np.array([0.0, 1.0, 3.0, 8.0])
    s = _sampler(td, alpha=0.6, weight_form=weight_form)
    idx, w = s.sample(64, np.ones(4, dtype=bool), 4, 4, beta=0.7)
    p = (td + 1e-6) ** 0.6
    want = (4 * p[idx] / p.sum()) ** -0.7
    if weight_form == "paper":
        want /= want.max()
        assert w.max() == 1.0
    np.testing.assert_allclose(w, want, rtol=1e-5)


def test_beta_one_is_an_exact_correction() -> None:
    """With beta = 1 the seed-form weights undo the sampling: sum_i P(i) w_i f_i = mean_i f_i."""
    rng = np.random.default_rng(3)
    td = rng.exponential(size=50)
    f = rng.normal(size=50)
    s = _sampler(td, alpha=0.8, weight_form="seed")
    prob = s.tree.get(np.arange(50)) / s.tree.total()
    w = importance_weights(prob, 50, 1.0, "seed").astype(np.float64)
    np.testing.assert_allclose(np.sum(prob * w * f), f.mean(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(50 * prob * w, 1.0, rtol=1e-6)
    # Monte Carlo: the weighted sample mean converges to the uniform mean.
    total = 0.0
    for _ in range(200):
        idx, wb = s.sample(256, np.ones(50, dtype=bool), 50, 50, beta=1.0)
        total += np.sum(wb * f[idx])
    assert total / (200 * 256) == pytest.approx(f.mean(), abs=0.02)


def test_new_items_enter_at_max_priority() -> None:
    s = PrioritizedSampler(8, np.random.default_rng(0), alpha=0.5, eps=0.0)
    valid = np.ones(8, dtype=bool)
    s.on_add(np.arange(3))
    np.testing.assert_array_equal(s.tree.get(np.arange(3)), [1.0, 1.0, 1.0])  # initial max is 1
    s.update(np.array([0, 1]), np.array([16.0, -0.25]), valid)  # p = 16^.5 = 4, 0.25^.5 = 0.5
    np.testing.assert_array_equal(s.tree.get(np.arange(3)), [4.0, 0.5, 1.0])
    s.on_add(np.array([3]))
    assert s.tree.get(np.array([3]))[0] == 4.0
    s.update(np.array([0]), np.array([1.0]), valid)  # lowering a priority keeps the running max
    s.on_add(np.array([4]))
    assert s.tree.get(np.array([4]))[0] == 4.0 and s.max_priority == 4.0


def test_zero_priority_and_invalid_slots_are_never_sampled() -> None:
    s = _sampler(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), alpha=1.0)
    valid = np.ones(5, dtype=bool)
    s.on_invalidate(np.array([1, 3]))
    valid[[1, 3]] = False
    s.update(np.array([1, 2]), np.array([100.0, 100.0]), valid)  # slot 1 is invalid: stays 0
    assert s.tree.get(np.array([1]))[0] == 0.0
    for _ in range(50):
        idx, _ = s.sample(256, valid, 5, 3, beta=0.4)
        assert not np.isin(idx, [1, 3]).any()
    u = UniformSampler(5, np.random.default_rng(0))
    for _ in range(50):
        idx, w = u.sample(256, valid, 5, 3, beta=0.4)
        assert not np.isin(idx, [1, 3]).any() and np.all(w == 1.0)


def test_buffer_per_round_trip() -> None:
    """Through the buffer: new transitions at max priority, updates take raw |TD|, duplicates last-wins."""
    buf = ReplayBuffer(
        capacity=64,
        obs_shape=(3,),
        obs_dtype="float32",
        num_envs=2,
        prioritized=True,
        alpha=1.0,
        eps=0.0,
        weight_form="seed",
    )
    z = np.zeros((2, 3), dtype=np.float32)
    f = np.zeros(2, dtype=bool)
    for _ in range(4):
        buf.add(Transition(z, np.zeros(2, dtype=np.int64), np.zeros(2, np.float32), z, f, f))
    assert len(buf) == 8
    leaves = buf.sampler.tree.leaves
    np.testing.assert_array_equal(leaves()[:8], 1.0)
    buf.update_priorities(np.array([0, 5, 0]), np.array([-3.0, 2.0, 7.0]))
    np.testing.assert_array_equal(leaves()[:8], [7, 1, 1, 1, 1, 2, 1, 1])
    buf.add(Transition(z, np.zeros(2, dtype=np.int64), np.zeros(2, np.float32), z, f, f))
    np.testing.assert_array_equal(leaves()[8:10], 7.0)
    b = buf.sample(1000, beta=1.0)
    np.testing.assert_allclose(b.weight, 1.0 / (10 * leaves()[b.index] / leaves().sum()), rtol=1e-6)
    # alpha = 0 is uniform sampling whatever the TD errors.
    flat = ReplayBuffer(
        capacity=64, obs_shape=(3,), obs_dtype="float32", num_envs=2, prioritized=True, alpha=0.0
    )
    for _ in range(4):
        flat.add(Transition(z, np.zeros(2, dtype=np.int64), np.zeros(2, np.float32), z, f, f))
    flat.update_priorities(np.arange(8), np.arange(8) * 10.0)
    np.testing.assert_array_equal(flat.sample(16, beta=1.0).weight, 1.0)
