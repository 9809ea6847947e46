"""Exact best responses and exploitability of a fixed policy in a small two-player zero-sum game.

A best response to a fixed opponent policy ``pi`` is a strategy that maximises the expected return against
it. With ``pi`` known, its value is found by full game-tree search (expectimax):

    V(s) = returns(s)[seat]                                  s terminal
    V(s) = max_{a legal} V(s . a)                            our seat to move
    V(s) = sum_a pi(a | s) V(s . a)                          the opponent to move

memoised on ``state.key()`` (so ``pi`` must depend on the position only, not on how it was reached).

``exploitability(game, pi) = (V_0 + V_1) / 2``, the mean over the two seats of the best-response value
(cf. NashConv, Lanctot et al. 2017, which sums what each player gains by deviating). In [-1, 1]: 1.0 means a
best response always wins whichever seat it takes. For a Nash-equilibrium policy it is 0 in any zero-sum game
with game value ``v``, since the best responses then earn ``v`` as seat 0 and ``-v`` as seat 1 (the first-move
advantage cancels); for tic-tac-toe, where optimal play draws, a perfect player has both values 0.

``outcome_probabilities(game, mine, theirs, seat)`` gives the exact win / draw / loss probabilities of two fixed
policies against each other (a win rate against random without sampling error).

Opponent policies are functions ``state -> float [num_actions]`` (probabilities, zero on illegal moves).
Adapters: ``deterministic(player)`` (any ``Player``, one-hot on its move), ``uniform_random`` and
``minimax_ties(player)`` (the distribution a ``MinimaxPlayer`` samples from: uniform over its best moves).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

from agents.bots.base import Player
from agents.bots.minimax import MinimaxPlayer
from envs.games.base import Game, GameState

Policy = Callable[[GameState], np.ndarray]
"""``state -> float [num_actions]``: the opponent's move probabilities (zero on illegal moves)."""

DEFAULT_MAX_NODES = 3_000_000
PROB_TOL = 1e-6


def _check(probs: np.ndarray, state: GameState) -> np.ndarray:
    """``probs`` as float64 ``[num_actions]``, or ``ValueError`` if it is not a distribution over legal moves."""
    mask = state.legal_mask()  # bool [A]
    p = np.asarray(probs, np.float64).reshape(-1)  # [A]
    if p.shape != mask.shape:
        raise ValueError(f"best response: policy gave {p.shape[0]} probabilities for {mask.shape[0]} actions")
    if (p < -PROB_TOL).any() or abs(float(p.sum()) - 1.0) > PROB_TOL or (p[~mask] > PROB_TOL).any():
        raise ValueError(f"best response: policy output is not a distribution over legal moves: {p.tolist()}")
    return p


T = TypeVar("T")


def _from_root(game: Game, value: Callable[[GameState], T]) -> T:
    """``value`` of the initial position, a depth-first recursion with room for one frame per ply."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * game.max_game_length + 200))
    try:
        return value(game.new_initial_state())
    finally:
        sys.setrecursionlimit(limit)


def best_response_value(game: Game, policy: Policy, seat: int, max_nodes: int = DEFAULT_MAX_NODES) -> float:
    """Expected return, in [-1, 1], of a best response playing ``seat`` against ``policy`` in the other seat.

    Args:
        game: a two-player zero-sum ``Game`` (returns in [-1, 1]).
        policy: the fixed opponent (see ``Policy``); called once per position it moves in.
        seat: 0 (the best response moves first) or 1.
        max_nodes: most distinct positions to evaluate; ``ValueError`` beyond it (the game is too big).
    """
    if seat not in (0, 1):
        raise ValueError(f"best response: seat must be 0 or 1, got {seat}")
    values: dict[Hashable, float] = {}  # position key -> V(position) for `seat`

    def value(state: GameState) -> float:
        if state.is_terminal():
            return float(state.returns()[seat])
        key = state.key()
        v = values.get(key)
        if v is not None:
            return v
        if len(values) >= max_nodes:
            raise ValueError(f"best response: {game.name} has more than max_nodes={max_nodes} positions; "
                             "exact search is for small games")
        if state.current_player() == seat:
            v = -np.inf
            for a in state.legal_actions():
                child = state.clone()
                child.apply(a)
                v = max(v, value(child))
        else:
            p = _check(policy(state), state)
            v = 0.0
            for b in np.flatnonzero(p > 0.0):
                child = state.clone()
                child.apply(int(b))
                v += float(p[b]) * value(child)
        values[key] = float(v)
        return float(v)

    return _from_root(game, value)


def exploitability(game: Game, policy: Policy, max_nodes: int = DEFAULT_MAX_NODES) -> float:
    """Mean over the two seats of ``best_response_value`` (module docstring): 0 for a perfect player of a
    game whose optimal play draws, 1.0 when a best response always wins."""
    return 0.5 * (best_response_value(game, policy, 0, max_nodes) + best_response_value(game, policy, 1, max_nodes))


def outcome_probabilities(game: Game, mine: Policy, theirs: Policy, seat: int,
                          max_nodes: int = DEFAULT_MAX_NODES) -> np.ndarray:
    """Exact float64 ``[3]`` probabilities of (win, draw, loss) for ``mine`` playing ``seat`` against ``theirs``.

    Both policies are fixed; every line of play is weighed by its probability (no sampling), so a win rate
    against ``uniform_random`` is the true one, not an estimate with a margin. A terminal position counts as a
    win when ``returns()[seat] > 0``. ``ValueError`` past ``max_nodes`` positions or for a bad distribution.
    """
    if seat not in (0, 1):
        raise ValueError(f"outcome probabilities: seat must be 0 or 1, got {seat}")
    values: dict[Hashable, np.ndarray] = {}  # position key -> [3] outcome probabilities from it

    def value(state: GameState) -> np.ndarray:
        if state.is_terminal():
            r = float(state.returns()[seat])
            return np.array([r > 0, r == 0, r < 0], np.float64)
        key = state.key()
        v = values.get(key)
        if v is not None:
            return v
        if len(values) >= max_nodes:
            raise ValueError(f"outcome probabilities: {game.name} has more than max_nodes={max_nodes} positions")
        p = _check((mine if state.current_player() == seat else theirs)(state), state)  # [A]
        v = np.zeros(3)
        for b in np.flatnonzero(p > 0.0):
            child = state.clone()
            child.apply(int(b))
            v += float(p[b]) * value(child)
        values[key] = v
        return v

    return _from_root(game, value)


def uniform_random(state: GameState) -> np.ndarray:
    """float64 ``[num_actions]``: uniform over the legal moves of ``state``."""
    mask = state.legal_mask().astype(np.float64)  # [A]
    return mask / mask.sum()


def deterministic(player: Player) -> Policy:
    """A one-hot policy on ``player``'s move.

    ``player.act`` must be deterministic (the same move every time it sees a position): the search asks once
    per position and assumes the answer is the player's fixed strategy. A seeded player that randomises
    (``RandomPlayer``, ``MinimaxPlayer`` breaking ties) yields one sampled pure strategy, not its mixed one;
    use ``uniform_random`` or ``minimax_ties`` for those.
    """
    def policy(state: GameState) -> np.ndarray:
        probs = np.zeros(state.legal_mask().shape[0])
        probs[int(player.act([state.clone()])[0])] = 1.0
        return probs

    return policy


def minimax_ties(player: MinimaxPlayer) -> Policy:
    """The mixed strategy of ``player``: uniform over the moves tied for its best score (what ``best_move``
    samples from; ``root_scores`` gives those moves exact scores and the others upper bounds below them)."""
    def policy(state: GameState) -> np.ndarray:
        scores = player.root_scores(state)
        best = max(scores.values())
        probs = np.zeros(state.legal_mask().shape[0])
        ties = [a for a, v in scores.items() if v == best]
        probs[ties] = 1.0 / len(ties)
        return probs

    return policy
