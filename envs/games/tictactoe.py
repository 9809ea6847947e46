"""Tic-tac-toe on 9-bit bitboards, as a ``Game``, plus a numpy batch of many games for self-play.

Cells and actions are numbered ``row * 3 + col`` with row 0 at the top, as in OpenSpiel's
``tic_tac_toe``. A person names a cell by column letter and row number, ``"a1"`` (top left) to
``"c3"`` (bottom right); the bare index ``"0"``..``"8"`` is accepted too. Player 0 is X and moves first.

A single state keeps two Python ints, the stones of the player to move (``me``) and of the other
player (``opp``); bit ``i`` is cell ``i``. A 512-entry table answers "does this board hold a line?".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from envs.games.base import IllegalMoveError

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
_RETURNS = {-1: (0.0, 0.0), 0: (1.0, -1.0), 1: (-1.0, 1.0), 2: (0.0, 0.0)}  # by winner; 2 is a draw


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


def rollout_seed(rng: np.random.Generator) -> int:
    """A nonzero 32-bit xorshift seed from ``rng`` (one raw draw: about 4x cheaper than ``integers``)."""
    return int(rng.bit_generator.random_raw()) % 0xFFFFFFFF + 1


class TicTacToeState:
    """One tic-tac-toe position (mutable: ``apply`` plays in place; search clones first)."""

    __slots__ = ("_me", "_opp", "_hist", "_winner")

    def __init__(self) -> None:
        """The empty board, X (player 0) to move."""
        self._me = 0  # stones of the player to move
        self._opp = 0
        self._hist: list[int] = []
        self._winner = -1  # -1 ongoing, 0 / 1 the winner, 2 a draw

    def current_player(self) -> int:
        """0 or 1; -1 once the game is over."""
        return -1 if self._winner != -1 else len(self._hist) & 1

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

    def is_terminal(self) -> bool:
        return self._winner != -1

    def returns(self) -> np.ndarray:
        """float ``[2]``."""
        return np.array(_RETURNS[self._winner])

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

    def move_number(self) -> int:
        return len(self._hist)

    def history(self) -> list[int]:
        return self._hist.copy()

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

    def random_rollout(self, rng: np.random.Generator) -> np.ndarray:
        """float ``[2]``: the returns of one uniformly random playout from here; the state is unchanged."""
        if self._winner != -1:
            return self.returns()
        r0 = _rollout_jit(self._me, self._opp, len(self._hist), rollout_seed(rng))
        return np.array((float(r0), float(-r0)))


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


class TicTacToeBatch:
    """``N`` tic-tac-toe games as numpy arrays, stepped together (self-play of many games at once).

    Games that have ended ignore further actions until ``reset``.

    Args:
        n: number of games.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.boards = np.zeros((n, 2), dtype=np.int64)  # [N, 2] bitboards of players 0 and 1
        self.moves = np.zeros(n, dtype=np.int64)  # [N] plies played
        self.winner = np.full(n, -1, dtype=np.int64)  # [N] -1 ongoing, 0 / 1, 2 draw
        self.hist = np.zeros((n, NUM_CELLS), dtype=np.int64)  # [N, 9] actions in order

    def reset(self, which: np.ndarray | None = None) -> None:
        """Restart all games, or those selected by ``which`` (bool ``[N]`` or indices)."""
        idx = slice(None) if which is None else which
        self.boards[idx] = 0
        self.moves[idx] = 0
        self.winner[idx] = -1
        self.hist[idx] = 0

    @property
    def terminal(self) -> np.ndarray:
        """bool ``[N]``."""
        return self.winner != -1

    @property
    def current_player(self) -> np.ndarray:
        """int ``[N]``: 0 or 1, -1 for finished games."""
        return np.where(self.terminal, -1, self.moves & 1)

    def legal_masks(self) -> np.ndarray:
        """bool ``[N, 9]`` (all False for finished games)."""
        masks = _EMPTY[self.boards[:, 0] | self.boards[:, 1]]
        masks[self.terminal] = False
        return masks

    def step(self, actions: np.ndarray) -> None:
        """Play ``actions`` int ``[N]`` in every unfinished game; ``IllegalMoveError`` if one is illegal."""
        actions = np.asarray(actions, dtype=np.int64)
        live = np.flatnonzero(~self.terminal)
        a = actions[live]
        bad = (a < 0) | (a >= NUM_CELLS)
        bad[~bad] = ((self.boards[live[~bad], 0] | self.boards[live[~bad], 1]) >> a[~bad]) & 1 == 1
        if bad.any():
            i = int(live[np.argmax(bad)])
            raise IllegalMoveError(f"tic-tac-toe batch: action {int(actions[i])} is illegal in game {i}")
        player = self.moves[live] & 1
        self.boards[live, player] |= 1 << a
        self.hist[live, self.moves[live]] = a
        self.moves[live] += 1
        won = _WIN_NP[self.boards[live, player]]
        self.winner[live] = np.where(won, player, np.where(self.moves[live] == NUM_CELLS, 2, -1))

    def returns(self) -> np.ndarray:
        """float ``[N, 2]`` (zeros for unfinished games and draws)."""
        r0 = np.select([self.winner == 0, self.winner == 1], [1.0, -1.0], 0.0)
        return np.stack([r0, -r0], axis=1)

    def observations(self) -> np.ndarray:
        """float32 ``[N, 2, 3, 3]``, canonical: the mover's stones first (once finished: the next in turn)."""
        mover = self.moves & 1
        rows = np.arange(self.n)
        return np.stack([_PLANE[self.boards[rows, mover]], _PLANE[self.boards[rows, 1 - mover]]], axis=1)

    def state(self, i: int) -> TicTacToeState:
        """Game ``i`` as a single state (its moves replayed)."""
        s = TicTacToeState()
        for a in self.hist[i, : self.moves[i]]:
            s.apply(int(a))
        return s
