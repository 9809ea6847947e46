"""Two-player board games for search and self-play: built-in tic-tac-toe and Connect Four, OpenSpiel and
PettingZoo's classic envs.

``make_game(name)`` is the entry point; every game it returns satisfies ``Game`` (see ``base.py``).
The built-ins also offer ``random_rollout`` on states (numba playouts) and ``new_batch(n)`` (many games
stepped together as numpy arrays), on the shared bases of ``bitboard.py``. OpenSpiel is imported only when an
``"openspiel:..."`` game is made, PettingZoo (the ``pettingzoo`` extra) only when a ``"pettingzoo:..."`` one is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from envs.games.base import Game, GameError, GameState, IllegalMoveError
from envs.games.connect4 import Connect4, Connect4Batch
from envs.games.tictactoe import TicTacToe, TicTacToeBatch

_BUILTIN: dict[str, Callable[[], Game]] = {"tictactoe": TicTacToe, "connect4": Connect4}
GAMES: tuple[str, ...] = tuple(_BUILTIN)
"""Names of the built-in games."""
_OPENSPIEL = "openspiel:"
_PETTINGZOO = "pettingzoo:"


def make_game(name: str) -> Game:
    """The game called ``name``.

    Args:
        name: ``"tictactoe"``, ``"connect4"``, ``"openspiel:NAME"`` or ``"openspiel:NAME(param=value,...)"``
            (any two-player, zero-sum, perfect-information, sequential, deterministic OpenSpiel game), or
            ``"pettingzoo:ENV"`` / ``"pettingzoo:ENV(key=value,...)"`` (a PettingZoo classic two-player,
            turn-based AEC env with a Discrete action space and an action mask, e.g. ``connect_four_v3``).

    Raises:
        GameError: unknown name (the message suggests close matches), a missing optional package, or an
            OpenSpiel game or PettingZoo env arena cannot play (the message says why).
    """
    if name in _BUILTIN:
        return _BUILTIN[name]()
    if name.startswith(_OPENSPIEL):
        try:
            from envs.games.openspiel import OpenSpielGame
        except ImportError as e:
            raise GameError(f"{name!r} needs OpenSpiel: pip install open_spiel ({e})") from None
        return OpenSpielGame(name)
    if name.startswith(_PETTINGZOO):
        try:
            from envs.games.pettingzoo import PettingZooGame
        except ImportError:
            raise GameError(f"{name!r} needs PettingZoo: pip install 'arena-rl[pettingzoo]'") from None
        return PettingZooGame(name)
    lookup = {g: g for g in GAMES}  # what a user may have meant to type -> the name to suggest
    for n in _openspiel_names():
        lookup[n] = lookup[_OPENSPIEL + n] = _OPENSPIEL + n
    for n in _pettingzoo_names():
        lookup[n] = lookup[_PETTINGZOO + n] = _PETTINGZOO + n
    close = list(dict.fromkeys(lookup[c] for c in difflib.get_close_matches(name, list(lookup), n=6)))[:3]
    hint = f"did you mean {', '.join(repr(c) for c in close[:3])}? " if close else ""
    raise GameError(
        f"unknown game {name!r}; {hint}built-in games: {', '.join(GAMES)}; "
        "or any OpenSpiel game as 'openspiel:NAME' or 'openspiel:NAME(param=value,...)'; "
        "or a PettingZoo classic env as 'pettingzoo:ENV' (e.g. 'pettingzoo:connect_four_v3')"
    )


def _openspiel_names() -> list[str]:
    try:
        import pyspiel
    except ImportError:
        return []
    return list(pyspiel.registered_names())


def _pettingzoo_names() -> list[str]:
    try:
        from envs.games.pettingzoo import classic_names
    except ImportError:
        return []
    return classic_names()


__all__ = [
    "GAMES",
    "Connect4",
    "Connect4Batch",
    "Game",
    "GameError",
    "GameState",
    "IllegalMoveError",
    "TicTacToe",
    "TicTacToeBatch",
    "make_game",
]
