"""Any two-player, zero-sum, perfect-information, sequential, deterministic OpenSpiel game as a ``Game``.

OpenSpiel (Lanctot et al., 2019, arXiv:1908.09453) games are loaded with ``pyspiel.load_game`` from
``"NAME"`` or ``"NAME(param=value,...)"``. Deviations from OpenSpiel's own API, to meet the protocol:

* ``observation()`` is ``state.observation_tensor(player to move)`` reshaped to ``[C, H, W]`` (a 1-D
  shape ``[N]`` becomes ``[1, 1, N]``, 2-D ``[H, W]`` becomes ``[1, H, W]``, more than 3-D folds the
  leading dims into ``C``) plus one constant plane equal to the player to move, since OpenSpiel's
  tensors need not say whose turn it is. Terminal states are observed as player 0.
* ``returns()`` is the sign of OpenSpiel's returns (win / draw / loss), zeros before the end.
* ``current_player()`` is -1 once terminal (OpenSpiel says -4); ``key()`` is the history tuple, so
  transpositions are not merged.
* No symmetries (identity only). Chance nodes are not supported.
"""

from __future__ import annotations

import difflib

import numpy as np
import pyspiel

from envs.games.base import GameError, IllegalMoveError

PREFIX = "openspiel:"


def _obs_layout(shape: list[int]) -> tuple[int, int, int]:
    """OpenSpiel's observation tensor shape as ``(C, H, W)``."""
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    return int(np.prod(shape[:-2])), shape[-2], shape[-1]


def load(spec: str) -> pyspiel.Game:
    """``pyspiel.load_game(spec)`` checked for what arena can play; ``GameError`` says why not."""
    base = spec.split("(", 1)[0].strip()
    names = pyspiel.registered_names()
    if base not in names:
        close = difflib.get_close_matches(base, names, n=3)
        hint = f"; did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
        raise GameError(f"unknown OpenSpiel game {base!r}{hint}")
    try:
        game = pyspiel.load_game(spec)
    except pyspiel.SpielError as e:
        raise GameError(f"cannot load OpenSpiel game {spec!r}: {str(e).splitlines()[0]}") from None
    t = game.get_type()
    why = []
    if game.num_players() != 2:
        why.append(f"it has {game.num_players()} players")
    if t.utility != pyspiel.GameType.Utility.ZERO_SUM:
        why.append(f"its utility is {t.utility.name.lower()}")
    if t.information == pyspiel.GameType.Information.ONE_SHOT:
        why.append("it is one-shot")
    elif t.information != pyspiel.GameType.Information.PERFECT_INFORMATION:
        why.append("it has imperfect information")
    if t.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        why.append(f"its moves are {t.dynamics.name.lower()}")
    if t.chance_mode != pyspiel.GameType.ChanceMode.DETERMINISTIC:
        why.append("it has chance nodes")
    if not why and not t.provides_observation_tensor:
        why.append("it provides no observation tensor")
    if why:
        raise GameError(
            f"OpenSpiel game {spec!r} is not playable by arena: {', '.join(why)} "
            "(arena needs two-player, zero-sum, perfect-information, sequential, deterministic games)"
        )
    return game


class OpenSpielState:
    """An OpenSpiel state seen through the ``GameState`` protocol."""

    __slots__ = ("_game", "_state")

    def __init__(self, game: OpenSpielGame, state: pyspiel.State) -> None:
        self._game = game
        self._state = state

    @property
    def spiel_state(self) -> pyspiel.State:
        """The wrapped ``pyspiel.State`` (do not apply moves to it behind the wrapper's back)."""
        return self._state

    def current_player(self) -> int:
        """0 or 1; -1 once terminal."""
        return -1 if self._state.is_terminal() else self._state.current_player()

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``."""
        mask = np.zeros(self._game.num_actions, dtype=bool)
        if not self._state.is_terminal():
            mask[self._state.legal_actions()] = True
        return mask

    def legal_actions(self) -> list[int]:
        return [] if self._state.is_terminal() else list(self._state.legal_actions())

    def apply(self, action: int) -> None:
        """Play ``action``; ``IllegalMoveError`` if it is not legal (OpenSpiel itself may not check)."""
        if self._state.is_terminal():
            raise IllegalMoveError(f"{self._game.name}: the game is over, no move ({action}) can be played")
        if action not in self._state.legal_actions():
            raise IllegalMoveError(f"{self._game.name}: action {action} is not legal here")
        self._state.apply_action(int(action))

    def is_terminal(self) -> bool:
        return self._state.is_terminal()

    def returns(self) -> np.ndarray:
        """float ``[2]``: the sign of OpenSpiel's returns, zeros before the end."""
        if not self._state.is_terminal():
            return np.zeros(2)
        return np.sign(np.asarray(self._state.returns(), dtype=np.float64))

    def observation(self) -> np.ndarray:
        """float32 ``obs_shape``: OpenSpiel's tensor for the player to move, then a plane of that player's id."""
        player = max(self._state.current_player(), 0)
        c, h, w = self._game.obs_shape
        obs = np.empty((c, h, w), dtype=np.float32)
        obs[:-1] = np.asarray(self._state.observation_tensor(player), dtype=np.float32).reshape(c - 1, h, w)
        obs[-1] = player
        return obs

    def clone(self) -> OpenSpielState:
        return OpenSpielState(self._game, self._state.clone())

    def key(self) -> tuple[int, ...]:
        """The history: exact, but transpositions get different keys."""
        return tuple(self._state.history())

    def move_number(self) -> int:
        return self._state.move_number()

    def history(self) -> list[int]:
        return list(self._state.history())

    def render(self) -> str:
        return str(self._state)

    def action_to_string(self, action: int) -> str:
        """OpenSpiel's name of ``action`` for the player to move."""
        return self._state.action_to_string(max(self._state.current_player(), 0), int(action))

    def string_to_action(self, text: str) -> int:
        """A legal action whose OpenSpiel name is ``text`` (exactly, else ignoring case), or its integer id."""
        t = text.strip()
        legal = self.legal_actions()
        names = {self.action_to_string(a): a for a in legal}
        if t in names:
            return names[t]
        folded = [a for name, a in names.items() if name.lower() == t.lower()]
        if len(folded) == 1:
            return folded[0]
        if t.lstrip("-").isdigit() and int(t) in legal:
            return int(t)
        close = difflib.get_close_matches(t, list(names), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise IllegalMoveError(f"{self._game.name}: {text!r} is not a legal move here{hint}")


class OpenSpielGame:
    """An OpenSpiel game as a ``Game``.

    Args:
        name_or_spec: ``"NAME"`` or ``"NAME(param=value,...)"``, with or without the ``"openspiel:"`` prefix.

    Raises:
        GameError: unknown game, bad parameters, or a game arena cannot play (see ``load``).
    """

    def __init__(self, name_or_spec: str) -> None:
        spec = name_or_spec.removeprefix(PREFIX).strip()
        self.name = PREFIX + spec
        self.spiel_game = load(spec)
        self.num_actions = self.spiel_game.num_distinct_actions()
        c, h, w = _obs_layout(list(self.spiel_game.observation_tensor_shape()))
        self.obs_shape = (c + 1, h, w)
        self.max_game_length = self.spiel_game.max_game_length()

    def new_initial_state(self) -> OpenSpielState:
        return OpenSpielState(self, self.spiel_game.new_initial_state())

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity only."""
        return [(obs, policy)]
