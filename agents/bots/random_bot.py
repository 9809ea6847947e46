"""A uniformly random player: the Elo anchor (0) of every tournament."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.games.base import GameState


class RandomPlayer:
    """Picks a legal action uniformly at random (seeded)."""

    def __init__(self, seed: int = 0, name: str = "random") -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the random stream (tournaments reseed each match so results do not depend on match order)."""
        self.rng = np.random.default_rng(seed)

    def act(self, states: Sequence[GameState]) -> list[int]:
        """One uniformly random legal action per state."""
        return [int(self.rng.choice(s.legal_actions())) for s in states]
