"""A player that searches with arena's MCTS: random rollouts (``mcts:N``) or a network (AlphaZero)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from agents.alphazero.evaluator import Evaluator
from agents.alphazero.mcts import MCTS, MCTSConfig
from envs.games.base import Game, GameState


class MCTSPlayer:
    """Runs ``simulations`` MCTS simulations from every position it is asked about, then picks a move.

    All the positions of one ``act`` call are searched together in one batched ``MCTS.search``, so a
    network evaluator sees batches as large as the number of games played in parallel. No noise is
    added at the root and no tree is kept between moves.

    Args:
        game: the game (kept for the record; MCTS sees the states only).
        simulations: simulations per move.
        evaluator: priors and values of leaves (``RandomRolloutEvaluator`` or ``NetworkEvaluator``).
        seed: seed of the search and of move sampling.
        name: the name tournaments show.
        temperature: 0 plays the most visited move; above 0 samples visits ** (1 / temperature).
        config: MCTS settings (c_puct, ...); its ``num_simulations`` is replaced by ``simulations``.
    """

    def __init__(self, game: Game, simulations: int, evaluator: Evaluator, seed: int = 0, name: str | None = None,
                 temperature: float = 0.0, config: MCTSConfig | None = None) -> None:
        if simulations < 1:
            raise ValueError(f"MCTS needs at least 1 simulation, got {simulations}")
        self.game = game
        self.name = name or f"mcts:{simulations}"
        self.evaluator = evaluator
        self.temperature = temperature
        self.config = replace(config or MCTSConfig(), num_simulations=simulations)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the search's and the move sampler's random streams (and the evaluator's, if it has one)."""
        self.rng = np.random.default_rng(seed)
        if isinstance(getattr(self.evaluator, "rng", None), np.random.Generator):
            self.evaluator.rng = np.random.default_rng([seed, 1])  # type: ignore[attr-defined]
        self.mcts = MCTS(self.config, self.evaluator, self.rng)

    def act(self, states: Sequence[GameState]) -> list[int]:
        """Search all ``states`` in one batch and return each root's chosen move."""
        if not states:
            return []
        roots = [self.mcts.new_root(s) for s in states]
        self.mcts.search(roots)
        actions = []
        for root in roots:
            pi = np.asarray(self.mcts.policy(root, self.temperature), dtype=np.float64)  # [A]
            if self.temperature == 0:
                actions.append(int(np.argmax(pi)))
            else:
                actions.append(int(self.rng.choice(len(pi), p=pi / pi.sum())))
        return actions
