"""PettingZoo's classic two-player, zero-sum, turn-based environments as a ``Game``.

PettingZoo (Terry et al., 2021, arXiv:2009.14471) AEC envs are made with ``pettingzoo.classic.<ENV>.env(...)``
from ``"pettingzoo:ENV"`` or ``"pettingzoo:ENV(key=value,...)"`` (values are Python literals), e.g.
``"pettingzoo:connect_four_v3"``, ``"pettingzoo:tictactoe_v3"``, ``"pettingzoo:go_v5(board_size=9)"``. An env
is refused (``GameError``, one line) unless it is an AEC env with two agents, turn-based (not parallel nor
``is_parallelizable``, which marks simultaneous moves), a ``Discrete`` action space and an ``action_mask`` in
its dict observation; the card games (hold'em, hanabi) are refused too: they hide cards and deal at random.
How the env is seen through the protocol:

* Players 0 and 1 are ``env.possible_agents`` in order; ``returns()`` is the sign of the env's cumulative
  rewards once any agent is terminated or truncated, zeros before.
* ``observation()`` is ``observe(agent to move)["observation"]`` as float32 ``[C, H, W]`` (HWC -> CHW, 1-D
  ``[N]`` -> ``[1, 1, N]``, 2-D ``[H, W]`` -> ``[1, H, W]``). connect_four and tictactoe observe
  ``[mover's pieces, opponent's pieces]`` (checked in the tests), the built-ins' encoding, and whose turn it
  is follows from the piece count; chess and go carry a colour plane. Other envs get one extra constant plane
  equal to the player to move. Terminal states are observed for the env's ``agent_selection``.
* ``legal_mask()`` is ``observe(...)["action_mask"]``. ``key()`` is ``(player to move, observation bytes)``
  for connect_four and tictactoe, whose observation is the whole position, so transpositions merge (exact
  minimax's first tictactoe_v3 move: 21 s with history keys, 1.5 s with these, 0.05 s on the built-in); others
  key by the history tuple (exact, transpositions not merged). Actions are named by their index (``"3"``).
* ``render()`` is the env's ``ansi`` render where it has one (chess), else a board drawn from the first two
  observation planes (mover's / opponent's pieces as X for player 0, O for player 1) with the action indices.
  No symmetries (identity only).
* ``max_game_length`` is the board size for connect_four (42) and tictactoe (9), else ``DEFAULT_MAX_LENGTH``
  (nominal: arena never cuts a game at it; minimax solves exactly only games of at most 16 plies).

Cost (one shared core, pettingzoo 1.27.0, connect_four_v3 after 4 moves): ``clone`` rebuilds the wrapper
chain with ``object.__new__`` and deep-copies each layer's ``__dict__``, sharing the spaces (never mutated):
0.06-0.1 ms. ``copy.deepcopy`` of the env takes 0.4-0.6 ms (PettingZoo's ``EzPickle`` re-runs ``__init__``,
which builds the gymnasium spaces) and replaying the history into a fresh env 0.7-1 ms, so neither is used.
A uniformly random connect_four_v3 game played through this adapter (``apply`` / ``legal_actions`` loop)
takes ~3 ms against ~0.3 ms for arena's ``connect4`` through the same loop (~10x; the built-in's numba
``random_rollout`` is faster still): prefer the built-ins for training.
"""

from __future__ import annotations

import ast
import copy
import difflib
import importlib
import pkgutil
import re
import warnings
from collections.abc import Hashable
from types import ModuleType
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import BaseWrapper

from envs.games.base import GameError, IllegalMoveError

PREFIX = "pettingzoo:"
DEFAULT_MAX_LENGTH = 1000
_LENGTHS = {"connect_four": 42, "tictactoe": 9}  # every move fills a cell
_SAYS_WHOSE_TURN = frozenset({"connect_four", "tictactoe", "chess", "go"})  # no player plane for these
_WHOLE_POSITION = frozenset({"connect_four", "tictactoe"})  # observation + mover = the position (for key())
_HIDDEN = frozenset({"leduc_holdem", "texas_holdem", "texas_holdem_no_limit", "hanabi", "gin_rummy"})  # cards, chance
_STATIC = ("action_spaces", "observation_spaces", "possible_agents", "metadata", "_ezpickle_args",
           "_ezpickle_kwargs")  # attributes no step mutates: clones share them


def classic_names() -> list[str]:
    """The versioned module names in ``pettingzoo.classic`` (``"connect_four_v3"``, ...), without importing them."""
    import pettingzoo.classic

    return sorted(m.name for m in pkgutil.iter_modules(pettingzoo.classic.__path__) if re.search(r"_v\d+$", m.name))


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    """``"ENV(key=value,...)"`` -> ``("ENV", {key: value})``; values are Python literals."""
    if "(" not in spec:
        return spec, {}
    try:
        call = ast.parse(spec, mode="eval").body
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.args):
            raise ValueError("expected ENV(key=value,...)")
        return call.func.id, {str(k.arg): ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError) as e:
        raise GameError(f"cannot parse PettingZoo env {spec!r}: {e}") from None


def _import(base: str) -> ModuleType:
    names = classic_names()
    if base not in names:
        close = difflib.get_close_matches(base, names, n=3)
        hint = f"; did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
        raise GameError(f"unknown PettingZoo classic env {base!r}{hint}")
    try:
        with warnings.catch_warnings():  # 1.27 deprecates module imports for its registry; 1.25-1.26 lack it
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(f"pettingzoo.classic.{base}")
    except ImportError as e:
        raise GameError(f"PettingZoo env {base!r} needs more packages: pip install 'arena-rl[pettingzoo]' ({e})"
                        ) from None


def _why_not(env: Any, family: str) -> list[str]:
    """Why arena cannot play ``env`` (empty if it can); ``env`` is already reset if it is an AEC env."""
    if isinstance(env, ParallelEnv) or not isinstance(env, AECEnv):
        return ["it is a parallel env (simultaneous moves)"]
    why = []
    agents = list(env.possible_agents)
    if len(agents) != 2:
        why.append(f"it has {len(agents)} players")
    if env.unwrapped.metadata.get("is_parallelizable", False):
        why.append("its moves are simultaneous (is_parallelizable)")
    if family in _HIDDEN:
        why.append("it has hidden information and chance")
    for agent in agents[:1]:
        act, obs = env.action_space(agent), env.observation_space(agent)
        if not isinstance(act, spaces.Discrete):
            why.append(f"its action space is {type(act).__name__}, not Discrete")
        if not (isinstance(obs, spaces.Dict) and "action_mask" in obs.spaces and "observation" in obs.spaces):
            why.append("its observation has no action_mask")
        elif len(obs["observation"].shape or ()) not in (1, 2, 3):
            why.append(f"its observation has {len(obs['observation'].shape or ())} dims")
    return why


def _copy_env(env: AECEnv) -> tuple[AECEnv, AECEnv]:
    """An independent copy of ``env`` and of its unwrapped env.

    Like ``copy.deepcopy`` but layer by layer, innermost first, so ``EzPickle`` does not rebuild the env
    (its ``__setstate__`` calls ``__init__``) and the static attributes in ``_STATIC`` are shared.
    """
    layers = [env]
    while isinstance(layers[-1], BaseWrapper):
        layers.append(layers[-1].env)
    raw = layers[-1]
    memo: dict[int, Any] = {id(v): v for k in _STATIC if (v := raw.__dict__.get(k)) is not None}
    for layer in reversed(layers):
        new = object.__new__(type(layer))
        memo[id(layer)] = new  # the outer layer's ``env`` attribute then resolves to this copy
        new.__dict__.update(copy.deepcopy(layer.__dict__, memo))
    return memo[id(env)], memo[id(raw)]


class PettingZooState:
    """A PettingZoo AEC env at one position, seen through the ``GameState`` protocol."""

    __slots__ = ("_game", "_env", "_raw", "_history", "_obs")

    def __init__(self, game: PettingZooGame, env: AECEnv, raw: AECEnv, history: list[int]) -> None:
        self._game = game
        self._env = env  # the wrapped env: moves go through PettingZoo's own checks too
        self._raw = raw  # its unwrapped env, for fast reads of agent_selection / terminations / rewards
        self._history = history
        self._obs: dict[str, np.ndarray] | None = None  # observe(agent to move), cached until the next move

    @property
    def env(self) -> AECEnv:
        """The wrapped AEC env (do not step it behind the wrapper's back)."""
        return self._env

    def _observe(self) -> dict[str, np.ndarray]:
        if self._obs is None:
            self._obs = self._env.observe(self._raw.agent_selection)
        return self._obs

    def _mover(self) -> int:
        return self._game.agents.index(self._raw.agent_selection)

    def current_player(self) -> int:
        """0 or 1; -1 once terminal."""
        return -1 if self.is_terminal() else self._mover()

    def legal_mask(self) -> np.ndarray:
        """bool ``[num_actions]``: the env's ``action_mask`` (all False once terminal)."""
        if self.is_terminal():
            return np.zeros(self._game.num_actions, dtype=bool)
        return np.asarray(self._observe()["action_mask"]).astype(bool)

    def legal_actions(self) -> list[int]:
        return [int(a) for a in np.flatnonzero(self.legal_mask())]

    def apply(self, action: int) -> None:
        """Play ``action``; ``IllegalMoveError`` if the mask forbids it (PettingZoo would end the game instead)."""
        if self.is_terminal():
            raise IllegalMoveError(f"{self._game.name}: the game is over, no move ({action}) can be played")
        if not 0 <= action < self._game.num_actions or not self.legal_mask()[action]:
            raise IllegalMoveError(f"{self._game.name}: action {action} is not legal here")
        self._env.step(int(action))
        self._history.append(int(action))
        self._obs = None

    def is_terminal(self) -> bool:
        raw = self._raw
        return (not raw.agents or any(raw.terminations.values())
                or any(raw.truncations.values()))

    def returns(self) -> np.ndarray:
        """float ``[2]``: the sign of the env's cumulative rewards, zeros before the end."""
        if not self.is_terminal():
            return np.zeros(2)
        total = self._raw._cumulative_rewards
        return np.sign(np.array([float(total.get(a, 0.0)) for a in self._game.agents]))

    def observation(self) -> np.ndarray:
        """float32 ``obs_shape``: the env's observation for the player to move, CHW (then a player plane if added)."""
        obs = np.array(self._observe()["observation"], dtype=np.float32)  # a copy: the cached dict stays intact
        if obs.ndim == 3:
            obs = obs.transpose(2, 0, 1)  # HWC -> CHW
        obs = obs.reshape(self._game.env_shape)
        if not self._game.player_plane:
            return np.ascontiguousarray(obs)
        return np.concatenate([obs, np.full((1, *obs.shape[1:]), self._mover(), dtype=np.float32)])

    def clone(self) -> PettingZooState:
        env, raw = _copy_env(self._env)
        copy_ = PettingZooState(self._game, env, raw, list(self._history))
        copy_._obs = self._obs  # read-only arrays: safe to share until either side moves
        return copy_

    def key(self) -> Hashable:
        """``(mover, observation bytes)`` where that is the whole position, else the history tuple."""
        if self._game.position_key:
            return self._mover(), np.asarray(self._observe()["observation"]).tobytes()
        return tuple(self._history)

    def move_number(self) -> int:
        return len(self._history)

    def history(self) -> list[int]:
        return list(self._history)

    def render(self) -> str:
        """The env's ``ansi`` render if it has one, else the board from the first two planes, then whose turn."""
        if self._game.ansi:
            return str(self._env.render())
        obs = self.observation()
        _, h, w = obs.shape
        mover = self._mover()
        marks = ("X", "O") if mover == 0 else ("O", "X")  # planes 0/1 are the mover's / opponent's pieces
        rows = []
        for r in range(h):
            cells = [marks[0] if obs[0, r, c] else marks[1] if obs.shape[0] > 1 and obs[1, r, c] else "."
                     for c in range(w)]
            # One action per cell (tictactoe): the row's action indices beside it, row-major as in the env.
            legend = "   " + " ".join(str(r * w + c) for c in range(w)) if self._game.num_actions == h * w else ""
            rows.append(" ".join(cells) + legend)
        if self._game.num_actions == w and h > 1:  # one action per column (connect_four)
            rows.append(" ".join(str(c) for c in range(w)))
        if self.is_terminal():
            rows.append(f"game over, returns {self.returns().tolist()}")
        else:
            rows.append(f"{'XO'[mover]} (player {mover}) to move")
        return "\n".join(rows)

    def action_to_string(self, action: int) -> str:
        """The action index as text."""
        return str(int(action))

    def string_to_action(self, text: str) -> int:
        """The integer ``text`` names, if it is a legal action now."""
        t = text.strip()
        if t.lstrip("-").isdigit() and 0 <= int(t) < self._game.num_actions and self.legal_mask()[int(t)]:
            return int(t)
        raise IllegalMoveError(f"{self._game.name}: {text!r} is not a legal move here (legal: {self.legal_actions()})")


class PettingZooGame:
    """A PettingZoo classic AEC env as a ``Game``.

    Args:
        name_or_spec: ``"ENV"`` or ``"ENV(key=value,...)"`` (e.g. ``"connect_four_v3"``), with or without the
            ``"pettingzoo:"`` prefix; the keywords go to ``pettingzoo.classic.ENV.env(...)``.

    Raises:
        GameError: unknown env (with close matches), bad keywords, or an env arena cannot play (says why).
    """

    def __init__(self, name_or_spec: str) -> None:
        spec = name_or_spec.removeprefix(PREFIX).strip()
        self.name = PREFIX + spec
        base, self.kwargs = _parse(spec)
        self.module = _import(base)
        family = re.sub(r"_v\d+$", "", base)
        make = getattr(self.module, "env", None)
        if make is None:
            raise GameError(f"PettingZoo env {spec!r} is not playable by arena: it has no AEC env()")
        raw_cls = getattr(self.module, "raw_env", None)
        modes = getattr(raw_cls, "metadata", {}).get("render_modes", [])
        self.ansi = "ansi" in modes and "render_mode" not in self.kwargs
        self._make_kwargs = {**self.kwargs, **({"render_mode": "ansi"} if self.ansi else {})}
        env = self._make()
        why = _why_not(env, family)
        if why:
            raise GameError(
                f"PettingZoo env {spec!r} is not playable by arena: {', '.join(why)} (arena needs two-player, "
                "zero-sum, turn-based AEC envs with a Discrete action space and an action_mask)"
            )
        self._initial = env
        self.agents: list[str] = list(env.possible_agents)
        self.num_actions = int(env.action_space(self.agents[0]).n)
        shape = tuple(env.observation_space(self.agents[0])["observation"].shape)
        # [C, H, W] of the env's own observation, before any player plane.
        self.env_shape: tuple[int, int, int] = (
            (1, 1, shape[0]) if len(shape) == 1 else (1, *shape) if len(shape) == 2 else (shape[2], shape[0], shape[1])
        )
        self.player_plane = family not in _SAYS_WHOSE_TURN
        self.position_key = family in _WHOLE_POSITION
        c, h, w = self.env_shape
        self.obs_shape = (c + int(self.player_plane), h, w)
        self.max_game_length = _LENGTHS.get(family, DEFAULT_MAX_LENGTH)

    def _make(self) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                env = self.module.env(**self._make_kwargs)
        except (TypeError, ValueError, AssertionError) as e:
            raise GameError(f"cannot make PettingZoo env {self.name!r}: {str(e).splitlines()[0]}") from None
        if isinstance(env, AECEnv):
            env.reset()
        return env

    def new_initial_state(self) -> PettingZooState:
        """A copy of the reset env kept from construction (cheaper than building a new one)."""
        env, raw = _copy_env(self._initial)
        return PettingZooState(self, env, raw, [])

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity only."""
        return [(obs, policy)]
