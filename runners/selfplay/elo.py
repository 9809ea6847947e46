"""Elo ratings with confidence intervals from a tournament's win / draw / loss matrix.

Model: Bradley-Terry (Bradley & Terry 1952), P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / 400)), which is
the Elo expected score. A draw counts as half a win and half a loss (the usual Elo convention; it is not a
separate outcome of the likelihood). Ratings are the maximum a posteriori estimate under a weak Gaussian
prior on every pairwise difference, R_i - R_j ~ N(0, prior_sd ** 2) with prior_sd = 1000 Elo by default:
with 20 games a pair it moves ratings by well under 1%, and it keeps the rating of a player who won (or
lost) every game finite (large, with a wide interval) instead of infinite. It also makes the ratings of
players who never met each other well defined.

The fit is Newton's method on the concave log posterior with the anchor's rating fixed at 0 (step halving
keeps every step uphill). The 95% intervals are Wald intervals, +-1.96 standard deviations from the inverse
of the observed information (the negative Hessian of the log posterior at the optimum) with the anchor fixed:
they measure each player's rating relative to the anchor, whose own interval is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ELO = 400.0 / math.log(10.0)  # Elo points per natural-log unit of odds
Z95 = 1.959963984540054


@dataclass(frozen=True)
class EloResult:
    """Fitted ratings: ``ratings[i]`` and the half-width ``ci95[i]`` of player ``names[i]``'s 95% interval."""

    names: tuple[str, ...]
    ratings: np.ndarray  # float64 [K], Elo, anchor = 0
    ci95: np.ndarray  # float64 [K], half-widths in Elo, 0 for the anchor
    anchor: str
    prior_sd: float
    iterations: int

    def order(self) -> list[int]:
        """Player indices from the highest rating to the lowest."""
        return [int(i) for i in np.argsort(-self.ratings, kind="stable")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "anchor": self.anchor,
            "prior_sd": self.prior_sd,
            "method": "Bradley-Terry MAP (draw = half a win), Wald 95% CI from the observed information",
            "ratings": {n: round(float(r), 2) for n, r in zip(self.names, self.ratings, strict=True)},
            "ci95": {n: round(float(c), 2) for n, c in zip(self.names, self.ci95, strict=True)},
        }


def _derivatives(theta: np.ndarray, score: np.ndarray, games: np.ndarray, lam: float
                 ) -> tuple[float, np.ndarray, np.ndarray]:
    """Log posterior, gradient ``[K]`` and Hessian ``[K, K]`` at natural-scale ratings ``theta [K]``."""
    diff = theta[:, None] - theta[None, :]  # [K, K]
    p = 1.0 / (1.0 + np.exp(-diff))  # P(i beats j)
    # score[i, j] + score[j, i] = games[i, j]; logaddexp keeps log p finite for huge differences.
    log_lik = -float(np.sum(score * np.logaddexp(0.0, -diff)))
    log_prior = -0.25 * lam * float(np.sum(diff**2))  # each pair appears twice in diff
    grad = (score - games * p).sum(axis=1) - lam * diff.sum(axis=1)
    w = games * p * (1.0 - p) + lam  # [K, K]
    np.fill_diagonal(w, 0.0)
    hess = w - np.diag(w.sum(axis=1))
    return log_lik + log_prior, grad, hess


def fit_ratings(points: np.ndarray, games: np.ndarray, names: Sequence[str], anchor: str | None = "random",
                prior_sd: float = 1000.0, max_iter: int = 100, tol: float = 1e-10) -> EloResult:
    """Fit Elo ratings to results between ``K`` players.

    Args:
        points: ``[K, K]``, ``points[i, j]`` = points ``i`` scored against ``j`` (win 1, draw 1/2, both colours).
        games: ``[K, K]`` symmetric, games between ``i`` and ``j`` (``points + points.T == games``).
        names: the ``K`` player names.
        anchor: the player rated 0; ``None`` or a name not in ``names`` anchors the first player.
        prior_sd: standard deviation, in Elo, of the Gaussian prior on rating differences.
        max_iter: Newton iterations at most.
        tol: stop when the largest step is below this (natural units).

    Returns:
        The ratings and 95% interval half-widths, in Elo.
    """
    score = np.array(points, np.float64)
    games = np.array(games, np.float64)
    k = len(names)
    if score.shape != (k, k) or games.shape != (k, k):
        raise ValueError(f"points and games must be [{k}, {k}], got {score.shape} and {games.shape}")
    np.fill_diagonal(score, 0.0)
    np.fill_diagonal(games, 0.0)
    if (score < 0).any() or not np.allclose(games, games.T) or not np.allclose(score + score.T, games):
        raise ValueError("need points >= 0, games symmetric and points[i, j] + points[j, i] == games[i, j]")
    lam = (ELO / prior_sd) ** 2  # prior precision in natural units
    a = list(names).index(anchor) if anchor is not None and anchor in names else 0
    free = np.array([i for i in range(k) if i != a], dtype=np.int64)

    theta = np.zeros(k)
    value, grad, hess = _derivatives(theta, score, games, lam)
    it = 0
    while len(free) and it < max_iter:
        it += 1
        step = np.linalg.solve(hess[np.ix_(free, free)], -grad[free])
        t = 1.0
        while True:  # step halving: the log posterior is concave, so a short enough step goes uphill
            trial = theta.copy()
            trial[free] += t * step
            new = _derivatives(trial, score, games, lam)
            if new[0] >= value - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        theta = trial
        value, grad, hess = new
        if np.max(np.abs(t * step)) < tol:
            break

    ci = np.zeros(k)
    if len(free):
        cov = np.linalg.inv(-hess[np.ix_(free, free)])
        ci[free] = Z95 * np.sqrt(np.maximum(np.diag(cov), 0.0)) * ELO
    return EloResult(names=tuple(names), ratings=theta * ELO, ci95=ci, anchor=names[a] if k else "",
                     prior_sd=prior_sd, iterations=it)


def fit_wdl(wins: np.ndarray, draws: np.ndarray, names: Sequence[str], anchor: str | None = "random",
            prior_sd: float = 1000.0) -> EloResult:
    """``fit_ratings`` from a W/D/L matrix.

    Args:
        wins: ``[K, K]``, ``wins[i, j]`` = games ``i`` won against ``j`` (both colours together);
            ``i``'s losses against ``j`` are ``wins[j, i]``.
        draws: ``[K, K]`` symmetric, draws between ``i`` and ``j``.
        names, anchor, prior_sd: as in ``fit_ratings``.
    """
    wins = np.asarray(wins, np.float64)
    draws = np.asarray(draws, np.float64)
    if wins.shape != draws.shape:
        raise ValueError(f"wins and draws must have one shape, got {wins.shape} and {draws.shape}")
    if (wins < 0).any() or (draws < 0).any() or not np.allclose(draws, draws.T):
        raise ValueError("wins must be non-negative and draws non-negative and symmetric")
    return fit_ratings(wins + 0.5 * draws, wins + wins.T + draws, names, anchor, prior_sd)


def fit_elo(names: Sequence[str], points: np.ndarray, games: np.ndarray, anchor: str | None = "random",
            prior_sd: float = 1000.0) -> tuple[dict[str, float], dict[str, float]]:
    """``fit_ratings`` as two dicts by name: ``(ratings, ci95 half-widths)``, in Elo."""
    r = fit_ratings(points, games, names, anchor, prior_sd)
    return ({n: float(x) for n, x in zip(r.names, r.ratings, strict=True)},
            {n: float(x) for n, x in zip(r.names, r.ci95, strict=True)})


def expected_score(r_i: float | np.ndarray, r_j: float | np.ndarray) -> np.ndarray:
    """Elo expected score of a player rated ``r_i`` against one rated ``r_j``."""
    return 1.0 / (1.0 + 10.0 ** ((np.asarray(r_j) - np.asarray(r_i)) / 400.0))
