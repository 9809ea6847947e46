"""Tic-tac-toe on 9-bit bitboards, as a ``Game``, plus a numpy batch of many games for self-play.

Cells and actions are numbered ``row * 3 + col`` with row 0 at the top, as in OpenSpiel's
``tic_tac_toe``. A person names a cell by column letter and row number, ``"a1"`` (top left) to
``"c3"`` (bottom right); the bare index ``"0"``..``"8"`` is accepted too. Player 0 is X and moves first.

A single state keeps two Python ints, the stones of the player to move (``me``) and of the other
player (``opp``); bit ``i`` is cell ``i``. A 512-entry table answers "does this board hold a line?".

The bookkeeping shared with Connect Four (turn, result, history, the batch's stepping) is in ``bitboard.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.games.base import IllegalMoveError
from envs.games.bitboard import BitboardBatch, BitboardState
from envs.games.bitboard import rollout_seed as rollout_seed  # re-exported: a public name of this module

NUM_CELLS = 9
FULL = (1 << NUM_CELLS) - 1
LINES = (0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100, 0b100010001, 0b001010100)
_COLS = "abc"
_BIT = tuple(1 << i for i in range(NUM_CELLS))  # indexing a tuple keeps numpy ints out of the bitboards

# Tables indexed by a 9-bit board.
_WIN = tuple(any(b & line == line for line in LINES) for b in range(FULL + 1))
_WIN_NP = np.array(_WIN, dtype=bool)  # [512]
_BITS = (np.arange(FULL + 1)[:, None] >> np.arange(NUM_CELLS)) & 1  # [512, 9]
_PLANE = _BITS.astype(np.float32).reshape(-1, 3, 3)  # [512, 3, 3]
_EMPTY = _BITS == 0  # [512, 9] bool: which cells of an occupancy are free
_FREE = tuple(tuple(a for a in range(NUM_CELLS) if not (b >> a) & 1) for b in range(FULL + 1))


def _cell_name(action: int) -> str:
    return f"{_COLS[action % 3]}{action // 3 + 1}"


def _rollout_loop(me: int, opp: int, moves: int, seed: int) -> int:
    """Play uniformly random moves to the end from a non-terminal position; the result for player 0.

    ``me`` / ``opp``: bitboards of the player to move and the other; ``moves``: plies played so far
    (the mover is ``moves % 2``); ``seed``: a nonzero 32-bit xorshift seed. Runs jitted or plain.
    """
    x = seed
    while moves < NUM_CELLS:
        occupied = me | opp
        while True:  # rejection sampling: uniform over the free cells
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            cell = (x * NUM_CELLS) >> 32
            if not (occupied >> cell) & 1:
                break
        me |= 1 << cell
        for line in LINES:
            if me & line == line:
                return 1 if moves % 2 == 0 else -1
        me, opp = opp, me
        moves += 1
    return 0


_rollout_jit = njit(cache=True, nogil=True)(_rollout_loop)


class TicTacToeState(BitboardState):
    """One tic-tac-toe position (mutable: ``apply`` plays in place; search clones first)."""

    __slots__ = ("_me", "_opp")

    def __init__(self) -> None:
        """The empty board, X (player 0) to move."""
        super().__init__()
        self._me = 0  # stones of the player to move
        self._opp = 0

    def legal_mask(self) -> np.ndarray:
        """bool ``[9]``."""
        if self._winner != -1:
            return np.zeros(NUM_CELLS, dtype=bool)
        return _EMPTY[self._me | self._opp].copy()

    def legal_actions(self) -> list[int]:
        """Free cells, ascending (none once the game is over)."""
        if self._winner != -1:
            return []
        return list(_FREE[self._me | self._opp])

    def apply(self, action: int) -> None:
        """Put the mover's stone on cell ``action``."""
        if self._winner != -1:
            raise IllegalMoveError(f"tic-tac-toe: the game is over, no move ({action}) can be played")
        if not 0 <= action < NUM_CELLS:
            raise IllegalMoveError(f"tic-tac-toe: action {action} is not a cell (0..8)")
        bit = _BIT[action]
        if (self._me | self._opp) & bit:
            raise IllegalMoveError(f"tic-tac-toe: cell {_cell_name(action)} ({action}) is taken")
        me = self._me | bit
        self._hist.append(int(action))
        if _WIN[me]:
            self._winner = (len(self._hist) - 1) & 1
        elif len(self._hist) == NUM_CELLS:
            self._winner = 2
        self._me, self._opp = self._opp, me

    def observation(self) -> np.ndarray:
        """float32 ``[2, 3, 3]``: the mover's stones, then the opponent's."""
        return _PLANE.take((self._me, self._opp), axis=0)

    def clone(self) -> TicTacToeState:
        s = object.__new__(TicTacToeState)
        s._me, s._opp, s._hist, s._winner = self._me, self._opp, self._hist.copy(), self._winner
        return s

    def key(self) -> int:
        """``me | opp << 9``: unique, since whose turn it is follows from the stone counts."""
        return self._me | self._opp << NUM_CELLS

    def stones(self) -> tuple[int, int]:
        """Bitboards ``(X, O)`` (players 0 and 1), bit ``i`` = cell ``i``."""
        return (self._me, self._opp) if len(self._hist) % 2 == 0 else (self._opp, self._me)

    def render(self) -> str:
        """The board with X (player 0), O (player 1) and ``.``, columns a-c, rows 1-3 from the top."""
        x, o = self.stones()
        rows = ["   a b c"]
        for r in range(3):
            cells = ["X" if (x >> (3 * r + c)) & 1 else "O" if (o >> (3 * r + c)) & 1 else "." for c in range(3)]
            rows.append(f"{r + 1}  " + " ".join(cells))
        return "\n".join(rows)

    def action_to_string(self, action: int) -> str:
        """``"a1"`` (top left) .. ``"c3"`` (bottom right)."""
        return _cell_name(action)

    def string_to_action(self, text: str) -> int:
        """Parse ``"b2"`` (column letter, row number; case-insensitive) or a bare index ``"4"``."""
        t = text.strip().lower()
        if len(t) == 1 and t.isdigit() and int(t) < NUM_CELLS:
            action = int(t)
        elif len(t) == 2 and t[0] in _COLS and t[1] in "123":
            action = 3 * (int(t[1]) - 1) + _COLS.index(t[0])
        else:
            raise IllegalMoveError(f"tic-tac-toe: {text!r} names no cell; type a column and row like 'b2', or 0..8")
        if action not in self.legal_actions():
            raise IllegalMoveError(f"tic-tac-toe: {text!r} is not a legal move here")
        return action

    def _rollout(self, seed: int) -> int:
        return _rollout_jit(self._me, self._opp, len(self._hist), seed)


def symmetries(obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 8 rotations / reflections of ``obs`` ``[C, 3, 3]`` and ``policy`` ``[9]``, the identity first."""
    grid = policy.reshape(3, 3)
    out = []
    for k in range(4):
        o, p = np.rot90(obs, k, axes=(1, 2)), np.rot90(grid, k)
        out.append((np.ascontiguousarray(o), p.reshape(NUM_CELLS).copy()))
        out.append((np.ascontiguousarray(o[:, :, ::-1]), p[:, ::-1].reshape(NUM_CELLS).copy()))
    return out


class TicTacToe:
    """The rules of tic-tac-toe (a ``Game``)."""

    name = "tictactoe"
    num_actions = NUM_CELLS
    obs_shape = (2, 3, 3)
    max_game_length = NUM_CELLS

    def new_initial_state(self) -> TicTacToeState:
        return TicTacToeState()

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """8 dihedral transforms, identity first (see ``symmetries``)."""
        return symmetries(obs, policy)

    def new_batch(self, n: int) -> TicTacToeBatch:
        """``n`` games from the empty board, stepped together."""
        return TicTacToeBatch(n)


class TicTacToeBatch(BitboardBatch[TicTacToeState]):
    """``N`` tic-tac-toe games as numpy arrays, stepped together (self-play of many games at once).

    Games that have ended ignore further actions until ``reset``.

    Args:
        n: number of games.
    """

    _label, _num_actions, _max_moves = "tic-tac-toe", NUM_CELLS, NUM_CELLS

    def _free(self) -> np.ndarray:
        """bool ``[N, 9]``: the empty cells."""
        return _EMPTY[self.boards[:, 0] | self.boards[:, 1]]

    def _taken(self, games: np.ndarray, a: np.ndarray) -> np.ndarray:
        return ((self.boards[games, 0] | self.boards[games, 1]) >> a) & 1 == 1

    def _place(self, games: np.ndarray, player: np.ndarray, a: np.ndarray) -> np.ndarray:
        self.boards[games, player] |= 1 << a
        return _WIN_NP[self.boards[games, player]]

    def _planes(self, boards: np.ndarray) -> np.ndarray:
        """float32 ``[N, 2, 3, 3]``: a table lookup per bitboard."""
        return _PLANE[boards]

    def _new_state(self) -> TicTacToeState:
        return TicTacToeState()
