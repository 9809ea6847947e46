"""The ``Game`` protocol: two-player, zero-sum, perfect-information, turn-based games.

Search (MCTS), self-play, tournaments and bots see games only through these two protocols, in the
style of OpenSpiel's game / state split:

* ``Game`` holds the rules and fixed facts (number of actions, observation shape, symmetries) and makes
  initial states.
* ``GameState`` is one position. ``apply`` mutates it in place (search clones first), so a tree walk
  costs one clone per expanded node.

Conventions:
* Players are 0 (moves first) and 1. ``returns()`` is ``[r0, r1]`` with ``r1 == -r0`` in {-1, 0, 1}
  (zero until terminal).
* ``observation()`` is canonical: float32 planes ``[C, H, W]`` from the point of view of the player to
  move, so one network plays both sides.
* Actions are integers in ``[0, num_actions)``; ``legal_mask()`` is a bool array ``[num_actions]``.
* ``apply`` of an illegal action raises ``IllegalMoveError`` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol, runtime_checkable

import numpy as np


class GameError(ValueError):
    """Bad game input: an unknown game name, or a game arena cannot play."""


class IllegalMoveError(GameError):
    """An action that is not legal in the current position."""


@runtime_checkable
class GameState(Protocol):
    """One position of a game."""

    def current_player(self) -> int:
        """0 or 1; undefined (may be -1) once terminal."""
        ...

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``: which actions are legal now (all False when terminal)."""
        ...

    def legal_actions(self) -> list[int]:
        """The legal actions, ascending."""
        ...

    def apply(self, action: int) -> None:
        """Play ``action`` for the player to move, in place; ``IllegalMoveError`` if it is not legal."""
        ...

    def is_terminal(self) -> bool:
        ...

    def returns(self) -> np.ndarray:
        """float ``[2]``: the result for players 0 and 1 (zeros while the game goes on)."""
        ...

    def observation(self) -> np.ndarray:
        """float32 ``[C, H, W]`` planes from the point of view of the player to move."""
        ...

    def clone(self) -> GameState:
        ...

    def key(self) -> Hashable:
        """A hashable that identifies the position (for evaluation caches and transpositions)."""
        ...

    def move_number(self) -> int:
        """Plies played so far."""
        ...

    def history(self) -> list[int]:
        """The actions played from the initial state, in order (replaying them rebuilds the position)."""
        ...

    def render(self) -> str:
        """The board as text, for ``arena play`` and logs."""
        ...

    def action_to_string(self, action: int) -> str:
        """How a person names ``action`` (``"3"`` for a Connect Four column, ``"b2"`` for a cell)."""
        ...

    def string_to_action(self, text: str) -> int:
        """Inverse of ``action_to_string``; ``IllegalMoveError`` for text that names no legal action."""
        ...


@runtime_checkable
class Game(Protocol):
    """The rules of one game and the facts agents need about it."""

    name: str
    """The id as the user wrote it: ``"tictactoe"``, ``"connect4"``, ``"openspiel:othello"``."""
    num_actions: int
    obs_shape: tuple[int, int, int]
    """``[C, H, W]`` of ``GameState.observation()``."""
    max_game_length: int

    def new_initial_state(self) -> GameState:
        ...

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Equivalent ``(obs [C, H, W], policy [num_actions])`` pairs under the board's symmetries,
        the identity first (used to augment self-play data; a game with none returns ``[(obs, policy)]``)."""
        ...
