"""Random-rollout evaluation: plain MCTS (uniform priors, Monte-Carlo values) through the ``Evaluator`` protocol.

The classic UCT evaluator (Kocsis & Szepesvari 2006; OpenSpiel's ``RandomRolloutEvaluator``): a leaf's value is
the mean result of uniformly random playouts from it. Used for MCTS baseline players and to test search without a
network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.games.base import GameState


def generic_rollout(state: GameState, rng: np.random.Generator) -> np.ndarray:
    """float ``[2]``: the returns of one uniformly random playout from ``state`` (which is not modified)."""
    s = state.clone()
    while not s.is_terminal():
        legal = s.legal_actions()
        s.apply(legal[int(rng.integers(len(legal)))])
    return np.asarray(s.returns(), np.float64)


class RandomRolloutEvaluator:
    """Uniform priors over legal actions; value = mean result of ``num_rollouts`` random playouts.

    Uses the state's own ``random_rollout(rng)`` when it has one (the built-in games do it in compiled code),
    else a generic clone-and-apply loop.

    Args:
        rng: the rollouts' randomness.
        num_rollouts: playouts averaged per leaf.
    """

    def __init__(self, rng: np.random.Generator, num_rollouts: int = 1) -> None:
        if num_rollouts < 1:
            raise ValueError("num_rollouts must be >= 1")
        self.rng, self.num_rollouts = rng, num_rollouts

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        masks = [s.legal_mask() for s in states]
        priors = np.array(masks, dtype=np.float32)  # [B, A]
        priors /= np.array([np.count_nonzero(m) for m in masks], np.float32)[:, None]
        values = np.empty(len(states), np.float32)
        rng, k = self.rng, self.num_rollouts
        for i, s in enumerate(states):
            player = s.current_player()
            fast = getattr(s, "random_rollout", None)
            if k == 1:  # the common case, without the averaging loop
                values[i] = (fast(rng) if fast is not None else generic_rollout(s, rng))[player]
                continue
            total = 0.0
            for _ in range(k):
                total += float((fast(rng) if fast is not None else generic_rollout(s, rng))[player])
            values[i] = total / k
        return priors, values
