"""Exact best responses on tic-tac-toe: against uniform random, minimax (perfect) and a naive player.

The expected values come from ``brute``, an independent enumeration over plain lists (its own board, win check
and position key, exact ``Fraction`` arithmetic). Its memo is checked against a plain recursion without one on
subtrees; the whole tree without a memo (about 550k nodes a seat) gives the same values but takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import pytest

from agents.bots.best_response import (
    best_response_value,
    deterministic,
    exploitability,
    minimax_ties,
    outcome_probabilities,
    uniform_random,
)
from agents.bots.minimax import MinimaxPlayer
from envs.games.base import GameState
from envs.games.connect4 import Connect4
from envs.games.tictactoe import TicTacToe

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
# Best-response values against the uniformly random player (win 1, draw 0, loss -1), found by the search
# and confirmed exactly by `brute`.
UNIFORM_SEAT0 = Fraction(191, 192)
UNIFORM_SEAT1 = Fraction(874, 945)

Opponent = Callable[[list[int]], list[tuple[int, Fraction]]]  # board -> [(cell, probability)]


def brute(board: list[int], mover: int, seat: int, opponent: Opponent,
          memo: dict[tuple[int, ...], Fraction] | None = None) -> Fraction:
    """Best-response value for ``seat``; ``board`` cells are 0 (empty), 1 (X, seat 0) or 2 (O, seat 1).

    ``memo``: a dict keyed by the board as a tuple (the mover follows from it), or None for no memo."""
    key = tuple(board)
    if memo is not None and key in memo:
        return memo[key]
    value = _brute(board, mover, seat, opponent, memo)
    if memo is not None:
        memo[key] = value
    return value


def _brute(board: list[int], mover: int, seat: int, opponent: Opponent,
           memo: dict[tuple[int, ...], Fraction] | None) -> Fraction:
    for i, j, k in LINES:
        if board[i] and board[i] == board[j] == board[k]:
            return Fraction(1 if board[i] - 1 == seat else -1)
    empty = [c for c in range(9) if board[c] == 0]
    if not empty:
        return Fraction(0)
    moves = [(c, Fraction(1)) for c in empty] if mover == seat else opponent(board)
    vals = []
    for c, prob in moves:
        board[c] = mover + 1
        vals.append(prob * brute(board, 1 - mover, seat, opponent, memo))
        board[c] = 0
    return max(vals) if mover == seat else sum(vals, Fraction(0))


def brute_uniform(board: list[int]) -> list[tuple[int, Fraction]]:
    empty = [c for c in range(9) if board[c] == 0]
    return [(c, Fraction(1, len(empty))) for c in empty]


def brute_lowest(board: list[int]) -> list[tuple[int, Fraction]]:
    return [(board.index(0), Fraction(1))]


class LowestCell:
    """Always plays the lowest-numbered free cell: deterministic and easy to beat."""

    name = "lowest"

    def act(self, states: Sequence[GameState]) -> list[int]:
        return [s.legal_actions()[0] for s in states]


GAME = TicTacToe()


def test_against_uniform_random_exact_values() -> None:
    v0 = best_response_value(GAME, uniform_random, 0)
    v1 = best_response_value(GAME, uniform_random, 1)
    assert v0 == pytest.approx(float(UNIFORM_SEAT0), abs=1e-12)
    assert v1 == pytest.approx(float(UNIFORM_SEAT1), abs=1e-12)
    assert v0 > v1 > 0.5  # moving first helps; either seat wins nearly always against random moves
    assert exploitability(GAME, uniform_random) == pytest.approx(float((UNIFORM_SEAT0 + UNIFORM_SEAT1) / 2))


@pytest.mark.parametrize("seat, expected", [(0, UNIFORM_SEAT0), (1, UNIFORM_SEAT1)])
def test_uniform_values_match_independent_enumeration(seat: int, expected: Fraction) -> None:
    assert brute([0] * 9, 0, seat, brute_uniform, {}) == expected
    # The memo changes nothing: plain recursion agrees on the subtrees after two plies (7! lines each).
    for x, o in ((4, 0), (0, 4), (0, 8), (1, 3)):
        board = [0] * 9
        board[x], board[o] = 1, 2
        assert brute(board.copy(), 0, seat, brute_uniform) == brute(board.copy(), 0, seat, brute_uniform, {})


def test_minimax_is_unexploitable() -> None:
    # MinimaxPlayer breaks ties between equally good root moves at random: the exact opponent is the
    # uniform mixture over its best moves (minimax_ties); one seeded realisation must be unexploitable too.
    assert best_response_value(GAME, minimax_ties(MinimaxPlayer(GAME)), 0) == 0.0
    assert best_response_value(GAME, minimax_ties(MinimaxPlayer(GAME)), 1) == 0.0
    for seed in (0, 1):
        assert exploitability(GAME, deterministic(MinimaxPlayer(GAME, seed=seed))) == 0.0


def test_lowest_cell_player_is_fully_exploitable() -> None:
    policy = deterministic(LowestCell())
    for seat in (0, 1):
        assert best_response_value(GAME, policy, seat) == 1.0
        assert brute([0] * 9, 0, seat, brute_lowest, {}) == 1
    assert exploitability(GAME, policy) == 1.0


def test_refuses_games_over_the_node_budget() -> None:
    with pytest.raises(ValueError, match="max_nodes"):
        best_response_value(Connect4(), uniform_random, 0, max_nodes=1000)


def test_rejects_bad_policies() -> None:
    def illegal(state: GameState) -> np.ndarray:
        probs = np.zeros(9)
        probs[0] = 1.0  # cell 0 is taken after the first move of a game that starts there
        return probs

    with pytest.raises(ValueError, match="legal moves"):
        best_response_value(GAME, illegal, 0)
    with pytest.raises(ValueError, match="seat"):
        best_response_value(GAME, uniform_random, 2)


def test_outcome_probabilities_are_exact() -> None:
    # Random against random: the first player wins 58.49%, draws 12.70%, loses 28.81% (weighted over every line).
    wdl = outcome_probabilities(GAME, uniform_random, uniform_random, 0)
    assert wdl == pytest.approx([0.584920634920635, 0.126984126984127, 0.288095238095238], abs=1e-12)
    assert outcome_probabilities(GAME, uniform_random, uniform_random, 1) == pytest.approx(wdl[::-1], abs=1e-12)
    perfect = minimax_ties(MinimaxPlayer(GAME))
    assert outcome_probabilities(GAME, perfect, perfect, 0) == pytest.approx([0.0, 1.0, 0.0])
    # A perfect player never loses to random, and wins less than the best response to random does.
    for seat in (0, 1):
        w, d, lo = outcome_probabilities(GAME, perfect, uniform_random, seat)
        assert lo == 0.0 and w + d == pytest.approx(1.0)
        assert w - lo <= best_response_value(GAME, uniform_random, seat) + 1e-12  # expected return
    with pytest.raises(ValueError, match="seat"):
        outcome_probabilities(GAME, perfect, perfect, 2)
