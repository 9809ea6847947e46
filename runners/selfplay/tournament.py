"""Round-robin tournaments between bots and trained players, with Elo ratings (``arena tournament``).

Games are played in parallel: each turn, a player's ``act`` is called once with every game where it is to
move, so a network player evaluates one batch per turn. Every pair plays both colours (half the games each
way, the first player getting the odd game), and each match reseeds the players that support it
(``reseed(seed)``) from the tournament seed, so a pair's results do not depend on which matches ran before.
The ``arena tournament`` command (``runners.cli.tournament``) prints the results and writes them out
(``runners.selfplay.report``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agents.bots.base import Player
from envs.games.base import Game
from runners.selfplay.elo import EloResult, fit_wdl
from runners.selfplay.match import match_seeds, play_match


@dataclass(frozen=True)
class TournamentResult:
    """Results of a round robin; ``i``, ``j`` index ``names``."""

    game: str
    names: tuple[str, ...]
    games_per_pair: int
    seed: int
    wins: np.ndarray  # int [K, K]: games i won against j, both colours
    draws: np.ndarray  # int [K, K], symmetric
    as_first: np.ndarray  # int [K, K, 3]: (wins, draws, losses) of i moving first against j
    elo: EloResult
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def losses(self) -> np.ndarray:
        return self.wins.T

    def score_rate(self) -> np.ndarray:
        """float ``[K, K]``: (wins + draws / 2) / games of i against j; NaN on the diagonal."""
        games = self.wins + self.wins.T + self.draws
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = (self.wins + 0.5 * self.draws) / games
        np.fill_diagonal(rate, np.nan)
        return rate

    def to_dict(self) -> dict[str, Any]:
        names = list(self.names)
        return {
            "game": self.game,
            "players": names,
            "games_per_pair": self.games_per_pair,
            "seed": self.seed,
            "match_seeds": {f"{a} vs {b}": match_seeds(self.seed, i, j, n=1)[0]
                            for i, a in enumerate(names) for j, b in enumerate(names) if i != j},
            "seconds": round(self.seconds, 2),
            "config": self.config,
            "matrix": {"rows_vs_columns": "wins / draws / losses of the row player against the column player",
                       "wins": self.wins.tolist(), "draws": self.draws.tolist(), "losses": self.losses.tolist()},
            "as_first": {a: {b: [int(x) for x in self.as_first[i, j]] for j, b in enumerate(names) if j != i}
                         for i, a in enumerate(names)},
            "elo": self.elo.to_dict(),
        }


def round_robin(game: Game, players: dict[str, Player], games_per_pair: int, seed: int, progress: bool = True,
                anchor: str = "random", console: Console | None = None) -> TournamentResult:
    """Every pair of ``players`` plays ``games_per_pair`` games, half with each moving first.

    Args:
        game: the game.
        players: players by the name the results use.
        games_per_pair: games per pair (the first-named player of a pair moves first in the odd one).
        seed: seeds every match (see ``play_match``).
        progress: show a progress bar over games.
        anchor: the player rated 0 (the first player if absent).
        console: where the progress bar goes (default stderr).
    """
    if games_per_pair < 1:
        raise ValueError("games_per_pair must be at least 1")
    names = tuple(players)
    k = len(names)
    wins = np.zeros((k, k), np.int64)
    draws = np.zeros((k, k), np.int64)
    as_first = np.zeros((k, k, 3), np.int64)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    t0 = time.perf_counter()
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("games"),
                   TimeRemainingColumn(), console=console or Console(stderr=True), disable=not progress)
    with bar:
        task = bar.add_task("tournament", total=len(pairs) * games_per_pair)
        for i, j in pairs:
            for a, b, n in ((i, j, (games_per_pair + 1) // 2), (j, i, games_per_pair // 2)):
                if n == 0:
                    continue
                bar.update(task, description=f"{names[a]} vs {names[b]}")
                w, d, l = play_match(game, players[names[a]], players[names[b]], n, match_seeds(seed, a, b, n=1)[0],
                                     on_game_end=lambda m: bar.advance(task, m))
                as_first[a, b] += (w, d, l)
                wins[a, b] += w
                wins[b, a] += l
                draws[a, b] += d
                draws[b, a] += d
    elo = fit_wdl(wins, draws, names, anchor)
    return TournamentResult(game=game.name, names=names, games_per_pair=games_per_pair, seed=seed, wins=wins,
                            draws=draws, as_first=as_first, elo=elo, seconds=time.perf_counter() - t0)
