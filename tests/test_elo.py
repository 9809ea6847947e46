"""Elo from W/D/L matrices: recovery of known ratings, anchoring, symmetry, unbeaten players."""

from __future__ import annotations

import numpy as np
import pytest

from runners.selfplay.elo import expected_score, fit_elo, fit_ratings, fit_wdl

NAMES = ["random", "a", "b", "c"]
TRUE = np.array([0.0, 150.0, 400.0, 700.0])


def sample_results(true: np.ndarray, games: int, rng: np.random.Generator, draw_rate: float = 0.0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """W/D matrices of ``games`` games per pair drawn from the Bradley-Terry model (draws take mass evenly)."""
    k = len(true)
    wins, draws = np.zeros((k, k)), np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            p = float(expected_score(true[i], true[j]))
            # With draw rate d: P(win) = p - d/2, P(draw) = d, so the expected score stays p.
            d = min(draw_rate, 2 * p, 2 * (1 - p))
            w, dr, _ = rng.multinomial(games, [p - d / 2, d, 1 - p - d / 2])
            wins[i, j], wins[j, i] = w, games - w - dr
            draws[i, j] = draws[j, i] = dr
    return wins, draws


def test_recovers_known_ratings_within_intervals() -> None:
    rng = np.random.default_rng(0)
    covered, errors = 0, []
    trials = 40
    for _ in range(trials):
        wins, draws = sample_results(TRUE, 100, rng)
        r = fit_wdl(wins, draws, NAMES)
        covered += int(np.sum(np.abs(r.ratings[1:] - TRUE[1:]) <= r.ci95[1:]))
        errors.append(r.ratings - TRUE)
    coverage = covered / (trials * 3)
    assert coverage >= 0.85, coverage  # nominal 95%
    assert np.all(np.abs(np.mean(errors, axis=0)) < 40)  # no large bias


def test_draws_count_as_half_a_win() -> None:
    rng = np.random.default_rng(1)
    wins, draws = sample_results(TRUE, 400, rng, draw_rate=0.3)
    r = fit_wdl(wins, draws, NAMES)
    assert np.all(np.abs(r.ratings - TRUE) <= np.maximum(r.ci95, 1e-9) * 1.5)
    even = fit_wdl(np.zeros((2, 2)), np.array([[0, 10], [10, 0]]), ["random", "x"])
    assert even.ratings[1] == pytest.approx(0.0, abs=1e-9)
    split = fit_wdl(np.array([[0, 5], [5, 0]]), np.zeros((2, 2)), ["random", "x"])
    assert split.ratings[1] == pytest.approx(0.0, abs=1e-9)


def test_anchor_is_zero_and_only_shifts_ratings() -> None:
    wins, draws = sample_results(TRUE, 50, np.random.default_rng(2))
    r = fit_wdl(wins, draws, NAMES)
    assert r.anchor == "random" and r.ratings[0] == 0.0 and r.ci95[0] == 0.0
    r_b = fit_wdl(wins, draws, NAMES, anchor="b")
    assert r_b.ratings[2] == 0.0
    np.testing.assert_allclose(r_b.ratings - r_b.ratings[0], r.ratings, atol=1e-6)
    missing = fit_wdl(wins, draws, NAMES, anchor="nobody")  # falls back to the first player
    assert missing.anchor == "random"


def test_symmetry() -> None:
    wins, draws = sample_results(TRUE, 50, np.random.default_rng(3))
    r = fit_wdl(wins, draws, NAMES)
    # Every result reversed: ratings mirror around the anchor.
    flipped = fit_wdl(wins.T, draws, NAMES)
    np.testing.assert_allclose(flipped.ratings, -r.ratings, atol=1e-6)
    np.testing.assert_allclose(flipped.ci95, r.ci95, rtol=1e-6)
    # Players listed in another order: the same ratings, permuted.
    perm = [2, 0, 3, 1]
    p = fit_wdl(wins[np.ix_(perm, perm)], draws[np.ix_(perm, perm)], [NAMES[i] for i in perm])
    np.testing.assert_allclose(p.ratings, r.ratings[perm], atol=1e-6)
    # Equal results: equal ratings.
    tie = fit_wdl(np.full((3, 3), 5.0), np.zeros((3, 3)), ["random", "x", "y"])
    np.testing.assert_allclose(tie.ratings, 0.0, atol=1e-9)


def test_unbeaten_and_winless_players_get_finite_extreme_ratings() -> None:
    wins = np.array([[0, 0, 3], [20, 0, 20], [17, 0, 0]], dtype=float)  # "best" wins every game
    r = fit_wdl(wins, np.zeros((3, 3)), ["random", "best", "other"])
    assert np.all(np.isfinite(r.ratings)) and np.all(np.isfinite(r.ci95))
    assert r.ratings[1] > r.ratings[2] + 300 and r.ratings[1] > 500
    assert r.order()[0] == 1
    lose = fit_wdl(wins.T, np.zeros((3, 3)), ["random", "best", "other"])
    assert np.isfinite(lose.ratings[1]) and lose.ratings[1] < -500


def test_validation_and_trivial_cases() -> None:
    with pytest.raises(ValueError, match="shape"):
        fit_wdl(np.zeros((2, 3)), np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(ValueError, match=r"must be \[3, 3\]"):
        fit_ratings(np.zeros((2, 2)), np.zeros((2, 2)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="points"):
        fit_ratings(np.array([[0, 3], [1, 0]]), np.array([[0, 5], [5, 0]]), ["a", "b"])
    with pytest.raises(ValueError, match="symmetric"):
        fit_wdl(np.zeros((2, 2)), np.array([[0, 1], [0, 0]]), ["a", "b"])
    solo = fit_wdl(np.zeros((1, 1)), np.zeros((1, 1)), ["random"])
    assert solo.ratings.tolist() == [0.0] and solo.ci95.tolist() == [0.0]
    d = fit_wdl(np.array([[0, 3], [1, 0]]), np.zeros((2, 2)), ["random", "x"]).to_dict()
    assert d["anchor"] == "random" and set(d["ratings"]) == {"random", "x"}


def test_points_and_games_form_matches_wdl() -> None:
    wins, draws = sample_results(TRUE, 30, np.random.default_rng(5), draw_rate=0.2)
    r = fit_wdl(wins, draws, NAMES)
    ratings, ci = fit_elo(NAMES, wins + 0.5 * draws, wins + wins.T + draws, anchor="random")
    assert list(ratings) == NAMES and ratings["random"] == 0.0
    np.testing.assert_allclose([ratings[n] for n in NAMES], r.ratings)
    np.testing.assert_allclose([ci[n] for n in NAMES], r.ci95)
