"""The ``Player`` protocol shared by bots, MCTS players and trained AlphaZero networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from envs.games.base import GameState


class Player(Protocol):
    """Anything that picks moves; tournaments, ``arena play`` and Elo evaluation only use this."""

    name: str

    def act(self, states: Sequence[GameState]) -> list[int]:
        """One legal action for each (non-terminal) state, batched over games played in parallel."""
        ...
