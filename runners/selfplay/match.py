"""Matches between two players: many games in parallel, one batched ``act`` per player turn.

Every match reseeds the players that support it (``reseed(seed)``) from its own seed, so a pair's results do
not depend on which matches ran before.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.bots.base import Player
from envs.games.base import Game


def match_seeds(seed: int, *keys: int, n: int = 2) -> list[int]:
    """``n`` independent 32-bit seeds derived from ``seed`` and ``keys``."""
    return [int(s) for s in np.random.SeedSequence([seed, *keys]).generate_state(n)]


class MatchStopped(Exception):
    """``play_match``'s ``stop()`` turned true before the games ended (a signal: the results are dropped)."""


def play_match(game: Game, first: Player, second: Player, num_games: int, seed: int,
               on_game_end: Callable[[int], None] | None = None,
               stop: Callable[[], bool] | None = None) -> tuple[int, int, int]:
    """Play ``num_games`` games in parallel, ``first`` as player 0 and ``second`` as player 1.

    Args:
        game: the game.
        first: moves first in every game.
        second: moves second.
        num_games: games to play.
        seed: players with a ``reseed`` method are reseeded from it before the first move.
        on_game_end: called with the number of games that just finished (progress bars).
        stop: asked before every turn; once true the match ends with ``MatchStopped`` (a signal arrived: a
            search-based player's turn can take seconds, a match minutes).

    Returns:
        ``(wins, draws, losses)`` of ``first``.
    """
    players = (first, second)
    for k, (player, s) in enumerate(zip(players, match_seeds(seed), strict=True)):
        reseed = getattr(player, "reseed", None)
        if callable(reseed) and (k == 0 or player is not first):
            reseed(s)
    states = [game.new_initial_state() for _ in range(num_games)]
    live = [i for i, s in enumerate(states) if not s.is_terminal()]
    while live:
        if stop is not None and stop():
            raise MatchStopped
        for p in (0, 1):
            idx = [i for i in live if states[i].current_player() == p]
            if not idx:
                continue
            actions = players[p].act([states[i] for i in idx])
            if len(actions) != len(idx):
                raise RuntimeError(f"{players[p].name} returned {len(actions)} actions for {len(idx)} states")
            for i, a in zip(idx, actions, strict=True):
                states[i].apply(int(a))
        still = [i for i in live if not states[i].is_terminal()]
        if on_game_end is not None and len(still) < len(live):
            on_game_end(len(live) - len(still))
        live = still
    r0 = np.array([s.returns()[0] for s in states])  # [num_games]
    return int((r0 > 0).sum()), int((r0 == 0).sum()), int((r0 < 0).sum())
