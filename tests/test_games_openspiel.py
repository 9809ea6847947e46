"""The OpenSpiel adapter, and agreement between arena's built-in games and OpenSpiel's."""

from __future__ import annotations

import numpy as np
import pytest

from envs.games import Game, GameError, GameState, IllegalMoveError, make_game
from envs.games.openspiel import OpenSpielGame

PAIRS = pytest.mark.parametrize(
    ("builtin", "spiel"), [("tictactoe", "openspiel:tic_tac_toe"), ("connect4", "openspiel:connect_four")]
)


def random_game(game: Game, rng: np.random.Generator, max_moves: int = 10_000) -> GameState:
    state = game.new_initial_state()
    while not state.is_terminal() and state.move_number() < max_moves:
        state.apply(int(rng.choice(state.legal_actions())))
    return state


@pytest.mark.parametrize(
    ("name", "shape", "num_actions"),
    [("openspiel:tic_tac_toe", (4, 3, 3), 9), ("openspiel:connect_four", (4, 6, 7), 7)],
)
def test_adapter_basics(name: str, shape: tuple[int, int, int], num_actions: int) -> None:
    game = make_game(name)
    assert isinstance(game, OpenSpielGame) and isinstance(game, Game) and game.name == name
    assert game.obs_shape == shape and game.num_actions == num_actions
    assert game.max_game_length == {9: 9, 7: 42}[num_actions]
    state = game.new_initial_state()
    assert isinstance(state, GameState)
    assert state.legal_mask().dtype == bool and state.legal_mask().all()
    state.apply(0)
    obs = state.observation()
    assert obs.dtype == np.float32 and obs.shape == shape
    assert (obs[-1] == 1.0).all() and state.current_player() == 1  # the player plane
    np.testing.assert_array_equal(state.returns(), [0.0, 0.0])
    copy = state.clone()
    copy.apply(1)
    assert state.history() == [0] and copy.history() == [0, 1] and copy.key() == (0, 1)
    assert copy.move_number() == 2 and copy.observation()[-1].sum() == 0 and copy.render()
    assert game.symmetries(obs, np.ones(num_actions))[0][0] is obs


def test_illegal_moves_and_strings() -> None:
    state = make_game("openspiel:tic_tac_toe").new_initial_state()
    for text, action in (("x(1,1)", 4), ("X(1,1)", 4), ("4", 4)):
        assert state.string_to_action(text) == action
    assert state.string_to_action(state.action_to_string(7)) == 7
    state.apply(4)
    for bad in (4, -1, 9):
        with pytest.raises(IllegalMoveError):
            state.apply(bad)
    for text in ("o(1,1)", "4", "banana"):
        with pytest.raises(IllegalMoveError) as info:
            state.string_to_action(text)
        assert "\n" not in str(info.value)
    for a in (0, 1, 3, 2, 6):  # O takes the left column (0, 3, 6); X has 4, 1, 2
        state.apply(a)
    assert state.is_terminal() and state.current_player() == -1 and not state.legal_mask().any()
    np.testing.assert_array_equal(state.returns(), [-1.0, 1.0])
    with pytest.raises(IllegalMoveError, match="over"):
        state.apply(2)


def canonical(builtin: str, spiel_obs: np.ndarray) -> np.ndarray:
    """OpenSpiel's planes (tic_tac_toe: empty, O, X; connect_four: X, O, empty with row 0 at the bottom;
    then the adapter's player plane) as the built-in's ``[mover's stones, opponent's stones]``."""
    x, o = (spiel_obs[2], spiel_obs[1]) if builtin == "tictactoe" else (spiel_obs[0, ::-1], spiel_obs[1, ::-1])
    return np.stack([x, o] if spiel_obs[-1, 0, 0] == 0 else [o, x])


@PAIRS
def test_builtin_agrees_with_openspiel(builtin: str, spiel: str) -> None:
    ours, theirs = make_game(builtin), make_game(spiel)
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(30):
        a, b = ours.new_initial_state(), theirs.new_initial_state()
        while not a.is_terminal():
            assert a.legal_actions() == b.legal_actions() and a.current_player() == b.current_player()
            np.testing.assert_array_equal(a.legal_mask(), b.legal_mask())
            np.testing.assert_array_equal(a.observation(), canonical(builtin, b.observation()))
            action = int(rng.choice(a.legal_actions()))
            a.apply(action)
            b.apply(action)
        assert b.is_terminal() and a.history() == b.history()
        np.testing.assert_array_equal(a.returns(), b.returns())
        outcomes.add(float(a.returns()[0]))
    assert outcomes >= {1.0, -1.0}


def test_connect4_draw_agrees() -> None:
    from tests.test_games import C4_DRAW

    state = make_game("openspiel:connect_four").new_initial_state()
    for a in C4_DRAW:
        state.apply(a)
    assert state.is_terminal()
    np.testing.assert_array_equal(state.returns(), [0.0, 0.0])


@pytest.mark.parametrize("name", ["openspiel:breakthrough(rows=6,columns=6)", "openspiel:othello"])
def test_other_games_load_and_play(name: str) -> None:
    game = make_game(name)
    state = random_game(game, np.random.default_rng(1), max_moves=30)
    obs = state.observation()
    assert obs.shape == game.obs_shape and obs.dtype == np.float32
    assert state.legal_mask().shape == (game.num_actions,)
    assert game.obs_shape[1:] == {"o": (8, 8), "b": (6, 6)}[name[10]]
    state = random_game(game, np.random.default_rng(2))
    assert state.is_terminal() and abs(state.returns()[0]) <= 1 and state.returns().sum() == 0


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("openspiel:kuhn_poker", "chance"),
        ("openspiel:backgammon", "chance"),
        ("openspiel:hearts", "4 players"),
        ("openspiel:matrix_rps", "simultaneous"),
        ("openspiel:othelo", "openspiel:othello"),
        ("openspiel:breakthrough(foo=3)", "foo"),
    ],
)
def test_rejected(name: str, why: str) -> None:
    with pytest.raises(GameError) as info:
        make_game(name)
    assert why in str(info.value) and "\n" not in str(info.value)


def test_unknown_name_suggests_openspiel() -> None:
    with pytest.raises(GameError, match="openspiel:connect_four"):
        make_game("connect_four")
