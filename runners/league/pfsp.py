"""Prioritized fictitious self-play (PFSP; AlphaStar, Vinyals et al. 2019, Methods "Prioritized fictitious
self-play" and the ``pfsp`` function of the paper's pseudocode).

A learner picks opponent ``B`` from candidates ``C`` with probability

    P(B) = f(x_B) / sum_{C in C} f(x_C),    x_B = P[learner beats B] (the payoff matrix's win rate)

for a weighting ``f``:

    hard(x, p) = (1 - x) ** p   focus on the opponents the learner loses to (AlphaStar's main agents use
                                ``squared``, p = 2; p = 1 is its ``linear``; larger p is harder)
    variance(x) = x (1 - x)     focus on opponents near the learner's level (a curriculum: AlphaStar uses it
                                when an opponent is too strong, with its earlier snapshots as candidates)
    uniform(x) = 1              plain fictitious self-play: every candidate alike

When every weight is 0 (``hard`` and the learner beats every candidate with certainty; ``variance`` and every
win rate is 0 or 1) the formula is 0 / 0. The learner still has to play someone, and no candidate is more
informative than another by the weighting's own measure, so the probabilities fall back to uniform (the most
even choice, as in AlphaStar's pseudocode). With the payoff matrix's default prior a win rate never reaches
exactly 0 or 1, so the fallback matters mostly for ``prior_games=0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from runners.league.payoff import PayoffMatrix

WEIGHTINGS = ("hard", "variance", "uniform")
ZERO_TOTAL = 1e-12  # total weight at or below which the probabilities fall back to uniform


def hard(x: np.ndarray, p: float = 2.0) -> np.ndarray:
    """``(1 - x) ** p``, elementwise over win rates ``x`` in [0, 1]."""
    return np.power(1.0 - np.asarray(x, np.float64), p)


def variance(x: np.ndarray) -> np.ndarray:
    """``x (1 - x)``, elementwise: largest (1/4) at x = 1/2."""
    x = np.asarray(x, np.float64)
    return x * (1.0 - x)


def uniform(x: np.ndarray) -> np.ndarray:
    """All ones, the shape of ``x``."""
    return np.ones_like(np.asarray(x, np.float64))


def weighting_fn(name: str, p: float = 2.0) -> Callable[[np.ndarray], np.ndarray]:
    """The weighting called ``name`` (one of ``WEIGHTINGS``) as a function of win rates; ``p`` is for ``hard``."""
    if name == "hard":
        if p < 0:
            raise ValueError(f"pfsp: the exponent p of 'hard' must be >= 0, got {p}")
        return lambda x: hard(x, p)
    if name == "variance":
        return variance
    if name == "uniform":
        return uniform
    raise ValueError(f"pfsp: unknown weighting {name!r}; choose one of {', '.join(WEIGHTINGS)}")


def pfsp_probabilities(win_rates: Sequence[float] | np.ndarray, weighting: str = "hard", p: float = 2.0
                       ) -> np.ndarray:
    """float64 ``[N]`` opponent probabilities from the learner's win rates ``[N]`` against them.

    Proportional to ``weighting(win_rates)``; uniform when every weight is 0 (module docstring).
    ``ValueError`` for no candidates or a win rate outside [0, 1].
    """
    x = np.asarray(win_rates, np.float64).reshape(-1)  # [N]
    if x.size == 0:
        raise ValueError("pfsp: no candidates to choose from")
    if not np.all((x >= 0.0) & (x <= 1.0)):
        raise ValueError(f"pfsp: win rates must lie in [0, 1], got {x.tolist()}")
    w = weighting_fn(weighting, p)(x)  # [N]
    total = float(w.sum())
    if total <= ZERO_TOTAL:
        return np.full(x.size, 1.0 / x.size)
    return w / total


def sample_opponent(rng: np.random.Generator, learner: str, candidates: Sequence[str], payoff: PayoffMatrix,
                    weighting: str = "hard", p: float = 2.0) -> str:
    """One opponent for ``learner`` drawn from ``candidates`` by PFSP on ``payoff``'s win rates."""
    probs = pfsp_probabilities(payoff.win_rates(learner, candidates), weighting, p)
    return candidates[int(rng.choice(len(candidates), p=probs))]
