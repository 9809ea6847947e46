"""OpenSpiel's own MCTS bot as an independent reference opponent (``openspiel-mcts:N``).

It uses ``open_spiel.python.algorithms.mcts.MCTSBot`` with UCT constant 2, one random rollout per leaf
and OpenSpiel's default solver (proven wins and losses are propagated). Arena's built-in games are
mapped to the OpenSpiel games with the same action numbering (tic-tac-toe cells ``row * 3 + col``,
Connect Four columns 0..6) and every position is rebuilt by replaying ``state.history()``; an
``openspiel:NAME`` game is played through the OpenSpiel game of that name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from envs.games.base import Game, GameError, GameState

OPENSPIEL_NAMES = {"tictactoe": "tic_tac_toe", "connect4": "connect_four"}


def openspiel_game(game: Game) -> Any:
    """The ``pyspiel.Game`` that ``game`` corresponds to (same actions); ``GameError`` if there is none."""
    import pyspiel

    for attr in ("pyspiel_game", "spiel_game", "os_game"):  # an OpenSpiel adapter may expose its game
        inner = getattr(game, attr, None)
        if isinstance(inner, pyspiel.Game):
            return inner
    if game.name in OPENSPIEL_NAMES:
        name = OPENSPIEL_NAMES[game.name]
    elif game.name.startswith("openspiel:"):
        name = game.name.split(":", 1)[1]
    else:
        raise GameError(f"openspiel-mcts cannot play {game.name}: no matching OpenSpiel game")
    try:
        return pyspiel.load_game(name)
    except pyspiel.SpielError as e:
        raise GameError(f"openspiel-mcts cannot load OpenSpiel game '{name}': {e}") from None


class OpenSpielMCTSPlayer:
    """OpenSpiel's ``MCTSBot`` (UCT c = 2, random rollouts) playing arena states.

    Args:
        game: the arena game.
        simulations: MCTS simulations per move.
        seed: seed of the bot's ``numpy.random.RandomState`` (search and rollouts).
        name: the name tournaments show; default ``openspiel-mcts:N``.
    """

    def __init__(self, game: Game, simulations: int, seed: int = 0, name: str | None = None) -> None:
        if simulations < 1:
            raise ValueError(f"MCTS needs at least 1 simulation, got {simulations}")
        self.name = name or f"openspiel-mcts:{simulations}"
        self.simulations = simulations
        self.spiel_game = openspiel_game(game)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Rebuild the bot with a fresh random state."""
        from open_spiel.python.algorithms import mcts

        rs = np.random.RandomState(seed % 2**32)
        evaluator = mcts.RandomRolloutEvaluator(n_rollouts=1, random_state=rs)
        self.bot = mcts.MCTSBot(self.spiel_game, uct_c=2.0, max_simulations=self.simulations, evaluator=evaluator,
                                random_state=rs)

    def to_spiel(self, state: GameState) -> Any:
        """A copy of the wrapped OpenSpiel state, or the one reached by replaying ``state``'s history."""
        wrapped = getattr(state, "spiel_state", None)
        if wrapped is not None:
            return wrapped.clone()
        spiel_state = self.spiel_game.new_initial_state()
        for a in state.history():
            spiel_state.apply_action(int(a))
        return spiel_state

    def act(self, states: Sequence[GameState]) -> list[int]:
        """One search per state (OpenSpiel's bot is not batched)."""
        return [int(self.bot.step(self.to_spiel(s))) for s in states]
