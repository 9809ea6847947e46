"""Connect Four (6 rows x 7 columns) on bitboards, as a ``Game``, plus a numpy batch of many games.

Actions are columns 0..6, as in OpenSpiel's ``connect_four``; a person types the column number.
Player 0 is X and moves first.

Bitboards are the classic layout (Pons, "Solving Connect 4", 2019): bit ``7 * col + row``, row 0 at the
bottom and a seventh, always empty, sentinel bit per column so that shifts never wrap a line from one
column into the next. A state keeps two Python ints: the stones of the player to move (``me``) and all
stones (``mask``); playing column ``c`` is ``mask | (mask + bottom(c))``, and four in a row is
``m = b & (b >> s); m & (m >> 2s)`` for the shifts 1 (vertical), 7 (horizontal), 6 and 8 (diagonals).

The bookkeeping shared with tic-tac-toe (turn, result, history, the batch's stepping) is in ``bitboard.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.games.base import IllegalMoveError
from envs.games.bitboard import BitboardBatch, BitboardState
from envs.games.bitboard import rollout_seed as rollout_seed  # re-exported: a public name of this module

ROWS, COLS = 6, 7
NUM_CELLS = ROWS * COLS
_BOTTOM = tuple(1 << (7 * c) for c in range(COLS))
_TOP = tuple(1 << (7 * c + ROWS - 1) for c in range(COLS))
_TOP_ALL = sum(_TOP)
# Observation row r (0 = top) and column c read bit 7c + (5 - r).
_SHIFT = np.array([[7 * c + ROWS - 1 - r for c in range(COLS)] for r in range(ROWS)], dtype=np.int64)  # [6, 7]
# Legal mask by the set of full columns (``mask & _TOP_ALL``): 128 entries.
_LEGAL = {
    sum(_TOP[c] for c in range(COLS) if (full >> c) & 1): np.array([not (full >> c) & 1 for c in range(COLS)])
    for full in range(1 << COLS)
}
_LEGAL_ACTIONS = {key: tuple(np.flatnonzero(legal).tolist()) for key, legal in _LEGAL.items()}


def _four(b: int) -> bool:
    """Whether bitboard ``b`` holds four in a row."""
    m = b & (b >> 1)
    if m & (m >> 2):
        return True
    m = b & (b >> 7)
    if m & (m >> 14):
        return True
    m = b & (b >> 6)
    if m & (m >> 12):
        return True
    m = b & (b >> 8)
    return bool(m & (m >> 16))


def _rollout_loop(me: int, mask: int, moves: int, seed: int) -> int:
    """Play uniformly random moves to the end from a non-terminal position; the result for player 0.

    ``me``: the mover's stones, ``mask``: all stones, ``moves``: plies played (the mover is
    ``moves % 2``), ``seed``: a nonzero 32-bit xorshift seed. Runs jitted or plain (same results).
    """
    x = seed
    while moves < NUM_CELLS:
        while True:  # rejection sampling: uniform over the columns that are not full
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            col = (x * COLS) >> 32
            if not (mask >> (7 * col + ROWS - 1)) & 1:
                break
        new_mask = mask | (mask + (1 << (7 * col)))
        me |= new_mask ^ mask
        m = me & (me >> 1)
        won = m & (m >> 2)
        m = me & (me >> 7)
        won |= m & (m >> 14)
        m = me & (me >> 6)
        won |= m & (m >> 12)
        m = me & (me >> 8)
        won |= m & (m >> 16)
        if won:
            return 1 if moves % 2 == 0 else -1
        me ^= new_mask  # now the next mover's stones
        mask = new_mask
        moves += 1
    return 0


_rollout_jit = njit(cache=True, nogil=True)(_rollout_loop)


class Connect4State(BitboardState):
    """One Connect Four position (mutable: ``apply`` plays in place; search clones first)."""

    __slots__ = ("_me", "_mask")

    def __init__(self) -> None:
        """The empty board, X (player 0) to move."""
        super().__init__()
        self._me = 0  # stones of the player to move
        self._mask = 0  # all stones

    def legal_mask(self) -> np.ndarray:
        """bool ``[7]``: the columns that are not full."""
        if self._winner != -1:
            return np.zeros(COLS, dtype=bool)
        return _LEGAL[self._mask & _TOP_ALL].copy()

    def legal_actions(self) -> list[int]:
        """Columns that are not full, ascending (none once the game is over)."""
        if self._winner != -1:
            return []
        return list(_LEGAL_ACTIONS[self._mask & _TOP_ALL])

    def apply(self, action: int) -> None:
        """Drop the mover's stone into column ``action``."""
        mask = self._mask
        if self._winner != -1 or not 0 <= action < COLS or mask & _TOP[action]:
            raise IllegalMoveError(self._illegal(action))
        new_mask = mask | (mask + _BOTTOM[action])
        me = self._me | (new_mask ^ mask)
        hist = self._hist
        hist.append(int(action))
        if _four(me):
            self._winner = (len(hist) - 1) & 1
        elif len(hist) == NUM_CELLS:
            self._winner = 2
        self._me = me ^ new_mask
        self._mask = new_mask

    def _illegal(self, action: int) -> str:
        if self._winner != -1:
            return f"connect4: the game is over, no move ({action}) can be played"
        if not 0 <= action < COLS:
            return f"connect4: action {action} is not a column (0..6)"
        return f"connect4: column {action} is full"

    def observation(self) -> np.ndarray:
        """float32 ``[2, 6, 7]``, row 0 at the top: the mover's stones, then the opponent's."""
        boards = np.array((self._me, self._me ^ self._mask), dtype=np.int64)
        return ((boards[:, None, None] >> _SHIFT) & 1).astype(np.float32)

    def clone(self) -> Connect4State:
        s = object.__new__(Connect4State)
        s._me, s._mask, s._hist, s._winner = self._me, self._mask, self._hist.copy(), self._winner
        return s

    def key(self) -> int:
        """``me + mask``: unique per position (the mover follows from the stone count)."""
        return self._me + self._mask

    def stones(self) -> tuple[int, int]:
        """Bitboards ``(X, O)`` (players 0 and 1) in the layout of the module docstring."""
        opp = self._me ^ self._mask
        return (self._me, opp) if len(self._hist) % 2 == 0 else (opp, self._me)

    def render(self) -> str:
        """The board with X (player 0), O (player 1) and ``.``, top row first, column numbers below."""
        x, o = self.stones()
        rows = []
        for r in range(ROWS - 1, -1, -1):
            bits = [7 * c + r for c in range(COLS)]
            rows.append(" ".join("X" if (x >> b) & 1 else "O" if (o >> b) & 1 else "." for b in bits))
        rows.append(" ".join(str(c) for c in range(COLS)))
        return "\n".join(rows)

    def action_to_string(self, action: int) -> str:
        """The column number, ``"0"``..``"6"``."""
        return str(action)

    def string_to_action(self, text: str) -> int:
        """Parse a column number ``"0"``..``"6"``."""
        t = text.strip()
        if not (len(t) == 1 and t.isdigit() and int(t) < COLS):
            raise IllegalMoveError(f"connect4: {text!r} names no column; type a column number 0..6")
        action = int(t)
        if action not in self.legal_actions():
            raise IllegalMoveError(f"connect4: {text!r} is not a legal move here ({self._illegal(action)})")
        return action

    def _rollout(self, seed: int) -> int:
        return _rollout_jit(self._me, self._mask, len(self._hist), seed)


class Connect4:
    """The rules of Connect Four (a ``Game``)."""

    name = "connect4"
    num_actions = COLS
    obs_shape = (2, ROWS, COLS)
    max_game_length = NUM_CELLS

    def new_initial_state(self) -> Connect4State:
        return Connect4State()

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity and the left-right mirror of ``obs`` ``[C, 6, 7]`` and ``policy`` ``[7]``."""
        return [(obs, policy), (np.ascontiguousarray(obs[:, :, ::-1]), policy[::-1].copy())]

    def new_batch(self, n: int) -> Connect4Batch:
        """``n`` games from the empty board, stepped together."""
        return Connect4Batch(n)


def _four_np(b: np.ndarray) -> np.ndarray:
    """bool ``[N]``: which bitboards of int64 ``[N]`` hold four in a row."""
    won = np.zeros(b.shape, dtype=bool)
    for s in (1, 7, 6, 8):
        m = b & (b >> s)
        won |= (m & (m >> (2 * s))) != 0
    return won


class Connect4Batch(BitboardBatch[Connect4State]):
    """``N`` Connect Four games as int64 bitboard arrays, stepped together (self-play of many games).

    Games that have ended ignore further actions until ``reset``. Besides the base's arrays it keeps
    ``mask``, all stones, for the carry that drops a stone into a column (``mask | (mask + bottom)``).

    Args:
        n: number of games.
    """

    _label, _num_actions, _max_moves = "connect4", COLS, NUM_CELLS

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.mask = np.zeros(n, dtype=np.int64)  # [N] all stones

    def reset(self, which: np.ndarray | None = None) -> None:
        """Restart all games, or those selected by ``which`` (bool ``[N]`` or indices)."""
        super().reset(which)
        self.mask[slice(None) if which is None else which] = 0

    def _free(self) -> np.ndarray:
        """bool ``[N, 7]``: the columns whose top cell is empty."""
        return (self.mask[:, None] >> _SHIFT[0]) & 1 == 0

    def _taken(self, games: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (self.mask[games] >> (7 * a + ROWS - 1)) & 1 == 1

    def _place(self, games: np.ndarray, player: np.ndarray, a: np.ndarray) -> np.ndarray:
        mask = self.mask[games]  # [K]
        new_mask = mask | (mask + (1 << (7 * a)))
        stones = self.boards[games, player] | (new_mask ^ mask)  # [K] the movers' stones after the move
        self.boards[games, player] = stones
        self.mask[games] = new_mask
        return _four_np(stones)

    def _planes(self, boards: np.ndarray) -> np.ndarray:
        """float32 ``[N, 2, 6, 7]``, row 0 at the top."""
        return ((boards[:, :, None, None] >> _SHIFT) & 1).astype(np.float32)

    def _new_state(self) -> Connect4State:
        return Connect4State()
