"""The league's payoff matrix: win / draw / loss counts between every pair of players that has met.

Players (learners and frozen snapshots) are added by name over time. For each unordered pair the matrix keeps
one triple of counts, stored for the pair in the order the players were added; reading it the other way round
swaps wins and losses, so the mirrored counts are consistent by construction.

Win rate (AlphaStar, Vinyals et al. 2019, the ``Payoff`` class of the paper's pseudocode, keeps
``(wins + draws / 2) / games`` and answers 0.5 for a pair with no games). Here the estimate is the posterior
mean under a Beta prior: ``prior_games`` pseudo-games scored ``prior_win_rate`` (default 1 pseudo-game at 0.5)::

    win_rate(a, b) = (wins + draws / 2 + prior_games * prior_win_rate) / (games + prior_games)

so a pair with no games reads ``prior_win_rate`` and one lucky game reads 0.75, not 1.0, which matters since
PFSP and the roles' thresholds act on these numbers from the first games on. ``prior_games=0`` gives
AlphaStar's estimate exactly (the prior then only answers for pairs with no games).

Decay (off by default, ``decay=1``): AlphaStar multiplies a pair's statistics by 0.99 before adding each new
game, so the win rate tracks learners that change. With ``decay < 1`` recording ``n`` games of a pair first
multiplies that pair's counts by ``decay ** n``, then adds the new ones (the ``n`` games count as simultaneous).

Elo: ``elo()`` fits Bradley-Terry ratings with 95% intervals to the (possibly decayed, so fractional) counts
through ``runners.selfplay.elo.fit_wdl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from runners.selfplay.elo import EloResult, fit_wdl

STATE_VERSION = 1


class PayoffMatrix:
    """Win / draw / loss counts between named players, win rates with a prior, Elo.

    Args:
        prior_games: pseudo-games added to every pair's win rate (>= 0; 0 is AlphaStar's plain ratio).
        prior_win_rate: the score of those pseudo-games, and the win rate of a pair with no games.
        decay: factor applied to a pair's counts per newly recorded game, in (0, 1]; 1 (default) is off.
    """

    def __init__(self, prior_games: float = 1.0, prior_win_rate: float = 0.5, decay: float = 1.0) -> None:
        self._reset(prior_games, prior_win_rate, decay)

    def _reset(self, prior_games: float, prior_win_rate: float, decay: float) -> None:
        """Set the prior and decay (validated) and forget every player and result."""
        if prior_games < 0 or not 0.0 <= prior_win_rate <= 1.0 or not 0.0 < decay <= 1.0:
            raise ValueError(f"need prior_games >= 0, 0 <= prior_win_rate <= 1 and 0 < decay <= 1, got "
                             f"{prior_games}, {prior_win_rate}, {decay}")
        self.prior_games = float(prior_games)
        self.prior_win_rate = float(prior_win_rate)
        self.decay = float(decay)
        self._index: dict[str, int] = {}  # name -> order of addition
        self._wdl: dict[tuple[str, str], list[float]] = {}  # (earlier, later) -> [wins, draws, losses] of earlier

    @property
    def players(self) -> list[str]:
        """Every player's name, in the order added."""
        return list(self._index)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self._index)

    def add_player(self, name: str) -> None:
        """Add a player with no games; ``ValueError`` if the name is taken."""
        if name in self._index:
            raise ValueError(f"payoff: player {name!r} is already in the league")
        self._index[name] = len(self._index)

    def _key(self, a: str, b: str) -> tuple[tuple[str, str], bool]:
        """The stored key of pair ``(a, b)`` and whether ``a`` comes first in it."""
        for n in (a, b):
            if n not in self._index:
                raise KeyError(f"payoff: unknown player {n!r}; add_player it first")
        return ((a, b), True) if self._index[a] < self._index[b] else ((b, a), False)

    def record(self, a: str, b: str, wins: float, draws: float = 0.0, losses: float = 0.0) -> None:
        """Record games of ``a`` against ``b``: ``wins`` won by ``a``, ``draws``, ``losses`` lost by ``a``.

        Games of a player against itself are ignored: they say nothing about its payoff (0.5 by symmetry).
        """
        if min(wins, draws, losses) < 0:
            raise ValueError(f"payoff: counts must be non-negative, got {wins}, {draws}, {losses}")
        key, forward = self._key(a, b)
        if a == b:
            return
        counts = self._wdl.setdefault(key, [0.0, 0.0, 0.0])
        if self.decay < 1.0:
            f = self.decay ** (wins + draws + losses)
            counts[:] = [c * f for c in counts]
        new = (wins, draws, losses) if forward else (losses, draws, wins)
        for i in range(3):
            counts[i] += float(new[i])

    def counts(self, a: str, b: str) -> tuple[float, float, float]:
        """``(wins, draws, losses)`` of ``a`` against ``b`` (decayed if ``decay < 1``)."""
        key, forward = self._key(a, b)
        w, d, l = self._wdl.get(key, (0.0, 0.0, 0.0))
        return (w, d, l) if forward else (l, d, w)

    def games(self, a: str, b: str) -> float:
        """Games between ``a`` and ``b`` (decayed if ``decay < 1``)."""
        return sum(self.counts(a, b))

    def win_rate(self, a: str, b: str) -> float:
        """Posterior-mean probability that ``a`` beats ``b``, a draw half a win (module docstring)."""
        if a == b:
            self._key(a, b)
            return 0.5
        w, d, l = self.counts(a, b)
        n = w + d + l + self.prior_games
        if n <= 0.0:
            return self.prior_win_rate
        return (w + 0.5 * d + self.prior_games * self.prior_win_rate) / n

    def win_rates(self, a: str, opponents: Sequence[str]) -> np.ndarray:
        """float64 ``[len(opponents)]``: ``win_rate(a, o)`` for each opponent."""
        return np.array([self.win_rate(a, o) for o in opponents], dtype=np.float64)

    def matrices(self, names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(wins [K, K], draws [K, K])`` over ``names`` (default: every player): ``wins[i, j]`` = games
        ``i`` won against ``j``; ``draws`` symmetric. The layout ``runners.selfplay.elo.fit_wdl`` takes."""
        names = self.players if names is None else list(names)
        pos = {n: i for i, n in enumerate(names)}
        k = len(names)
        wins, draws = np.zeros((k, k)), np.zeros((k, k))
        for (a, b), (w, d, l) in self._wdl.items():
            if a in pos and b in pos:
                i, j = pos[a], pos[b]
                wins[i, j], wins[j, i] = w, l
                draws[i, j] = draws[j, i] = d
        return wins, draws

    def elo(self, anchor: str | None = None, prior_sd: float = 1000.0) -> EloResult:
        """Bradley-Terry Elo ratings and 95% interval half-widths of every player (``fit_wdl``).

        Args:
            anchor: the player rated 0 (default: the first player added).
            prior_sd: standard deviation of the Gaussian prior on rating differences, in Elo (see elo.py);
                it keeps ratings of unbeaten players and of players who never met finite.
        """
        wins, draws = self.matrices()
        return fit_wdl(wins, draws, self.players, anchor, prior_sd)

    def state_dict(self) -> dict[str, Any]:
        """Plain Python types only (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "version": STATE_VERSION,
            "prior_games": self.prior_games,
            "prior_win_rate": self.prior_win_rate,
            "decay": self.decay,
            "players": self.players,
            "results": [[a, b, *(float(c) for c in wdl)] for (a, b), wdl in self._wdl.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this matrix's settings, players and counts with those of ``state``."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"payoff: state version {state.get('version')!r}, expected {STATE_VERSION}")
        self._reset(state["prior_games"], state["prior_win_rate"], state["decay"])
        for name in state["players"]:
            self.add_player(str(name))
        for a, b, w, d, l in state["results"]:
            key, forward = self._key(str(a), str(b))
            self._wdl[key] = [float(w), float(d), float(l)] if forward else [float(l), float(d), float(w)]

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> PayoffMatrix:
        """A new matrix from ``state_dict()`` output."""
        m = cls()
        m.load_state_dict(state)
        return m
