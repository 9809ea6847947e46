"""What the built-in bitboard games (tic-tac-toe, Connect Four) share: a state base and a batch base.

Both games keep each side's stones as an integer bitboard in the game's own layout and differ only in the
rules: which moves are legal, where a stone lands, what wins, and how a board becomes observation planes.
The bookkeeping around the rules lives here once:

* ``BitboardState``: whose turn, the result, the move history and random playouts of one position. The
  per-move methods (``apply``, ``legal_mask``, ``clone``, ``key``) stay in each game, written out, since
  search calls them once per node.
* ``BitboardBatch``: ``N`` games as numpy arrays stepped together for self-play; each game supplies five
  small vectorised hooks (``_free``, ``_taken``, ``_place``, ``_planes``, ``_new_state``).

Conventions are those of ``base.py``: players 0 and 1, returns ``[r0, -r0]``, canonical observations.
"""

from __future__ import annotations

import abc
from typing import Generic, TypeVar

import numpy as np

from envs.games.base import IllegalMoveError

RETURNS = {-1: (0.0, 0.0), 0: (1.0, -1.0), 1: (-1.0, 1.0), 2: (0.0, 0.0)}  # by winner; 2 is a draw


def rollout_seed(rng: np.random.Generator) -> int:
    """A nonzero 32-bit xorshift seed from ``rng`` (one raw draw: about 4x cheaper than ``integers``)."""
    return int(rng.bit_generator.random_raw()) % 0xFFFFFFFF + 1


class BitboardState(abc.ABC):
    """The bookkeeping of one position; a subclass adds the stones and the rules (its own ``__slots__``)."""

    __slots__ = ("_hist", "_winner")

    def __init__(self) -> None:
        self._hist: list[int] = []  # actions played, in order
        self._winner = -1  # -1 ongoing, 0 / 1 the winner, 2 a draw

    def current_player(self) -> int:
        """0 or 1; -1 once the game is over."""
        return -1 if self._winner != -1 else len(self._hist) & 1

    def is_terminal(self) -> bool:
        return self._winner != -1

    def returns(self) -> np.ndarray:
        """float ``[2]``."""
        return np.array(RETURNS[self._winner])

    def move_number(self) -> int:
        return len(self._hist)

    def history(self) -> list[int]:
        return self._hist.copy()

    def random_rollout(self, rng: np.random.Generator) -> np.ndarray:
        """float ``[2]``: the returns of one uniformly random playout from here; the state is unchanged."""
        if self._winner != -1:
            return self.returns()
        r0 = self._rollout(rollout_seed(rng))
        return np.array((float(r0), float(-r0)))

    @abc.abstractmethod
    def apply(self, action: int) -> None:
        """Play ``action`` for the player to move, in place; ``IllegalMoveError`` if it is not legal."""

    @abc.abstractmethod
    def _rollout(self, seed: int) -> int:
        """Player 0's result (1, 0 or -1) of the game's compiled playout from this non-terminal position."""


S = TypeVar("S", bound=BitboardState)


class BitboardBatch(abc.ABC, Generic[S]):
    """``N`` games as int64 bitboard arrays, stepped together (self-play of many games at once).

    Games that have ended ignore further actions until ``reset``.

    Args:
        n: number of games.
    """

    _label: str  # the game as error messages name it
    _num_actions: int
    _max_moves: int  # plies that fill the board: a game still going then is a draw

    def __init__(self, n: int) -> None:
        self.n = n
        self.boards = np.zeros((n, 2), dtype=np.int64)  # [N, 2] bitboards of players 0 and 1
        self.moves = np.zeros(n, dtype=np.int64)  # [N] plies played
        self.winner = np.full(n, -1, dtype=np.int64)  # [N] -1 ongoing, 0 / 1, 2 draw
        self.hist = np.zeros((n, self._max_moves), dtype=np.int64)  # [N, max_moves] actions in order

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
        """bool ``[N, num_actions]`` (all False for finished games)."""
        return self._free() & ~self.terminal[:, None]

    def step(self, actions: np.ndarray) -> None:
        """Play ``actions`` int ``[N]`` in every unfinished game; ``IllegalMoveError`` if one is illegal."""
        actions = np.asarray(actions, dtype=np.int64)
        live = np.flatnonzero(~self.terminal)  # [L] games still going
        a = actions[live]  # [L]
        bad = (a < 0) | (a >= self._num_actions)
        ok = ~bad  # only in-range actions may shift a bitboard
        bad[ok] = self._taken(live[ok], a[ok])
        if bad.any():
            i = int(live[np.argmax(bad)])
            raise IllegalMoveError(f"{self._label} batch: action {int(actions[i])} is illegal in game {i}")
        player = self.moves[live] & 1  # [L]
        won = self._place(live, player, a)
        self.hist[live, self.moves[live]] = a
        self.moves[live] += 1
        self.winner[live] = np.where(won, player, np.where(self.moves[live] == self._max_moves, 2, -1))

    def returns(self) -> np.ndarray:
        """float ``[N, 2]`` (zeros for unfinished games and draws)."""
        r0 = np.select([self.winner == 0, self.winner == 1], [1.0, -1.0], 0.0)
        return np.stack([r0, -r0], axis=1)

    def observations(self) -> np.ndarray:
        """float32 ``[N, *obs_shape]``, canonical: the mover's stones first (once finished: the next in turn)."""
        mover = self.moves & 1
        rows = np.arange(self.n)
        boards = np.stack([self.boards[rows, mover], self.boards[rows, 1 - mover]], axis=1)  # [N, 2]
        return self._planes(boards)

    def state(self, i: int) -> S:
        """Game ``i`` as a single state (its moves replayed)."""
        s = self._new_state()
        for a in self.hist[i, : self.moves[i]]:
            s.apply(int(a))
        return s

    # ------------------------------------------------------------------------------ the game's rules

    @abc.abstractmethod
    def _free(self) -> np.ndarray:
        """bool ``[N, num_actions]``: the actions the board leaves open, finished games included."""

    @abc.abstractmethod
    def _taken(self, games: np.ndarray, a: np.ndarray) -> np.ndarray:
        """bool ``[K]``: whether in-range action ``a[k]`` (int ``[K]``) is blocked in game ``games[k]``."""

    @abc.abstractmethod
    def _place(self, games: np.ndarray, player: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Put ``player``'s stones (int ``[K]``) for legal actions ``a`` in ``games``; bool ``[K]``: who won."""

    @abc.abstractmethod
    def _planes(self, boards: np.ndarray) -> np.ndarray:
        """float32 ``[N, 2, H, W]``: one plane per bitboard of int64 ``[N, 2]``, in the game's layout."""

    @abc.abstractmethod
    def _new_state(self) -> S:
        """The game's empty single state."""
