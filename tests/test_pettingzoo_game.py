"""The PettingZoo classic adapter: the protocol, agreement with the built-ins, refusals, and the parts of arena
that play games (MCTS, self-play, matches, tournaments, ``arena play``) on ``pettingzoo:`` games."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from agents.alphazero.evaluator import UniformEvaluator  # noqa: E402
from agents.alphazero.mcts import MCTS, MCTSConfig  # noqa: E402
from agents.alphazero.rollout import RandomRolloutEvaluator  # noqa: E402
from agents.bots import RandomPlayer, make_player  # noqa: E402
from envs.games import Game, GameError, GameState, IllegalMoveError, make_game  # noqa: E402
from envs.games.pettingzoo import PettingZooGame, _why_not  # noqa: E402
from runners.cli.play import play_game  # noqa: E402
from runners.cli.tournament import cmd_tournament  # noqa: E402
from runners.selfplay.match import play_match  # noqa: E402
from runners.selfplay.trainer import augment, play_selfplay_games  # noqa: E402

C4, TTT = "pettingzoo:connect_four_v3", "pettingzoo:tictactoe_v3"
PAIRS = pytest.mark.parametrize(("name", "builtin"), [(C4, "connect4"), (TTT, "tictactoe")])


def play(game: Game, moves: list[int]) -> GameState:
    state = game.new_initial_state()
    for a in moves:
        state.apply(a)
    return state


@pytest.mark.parametrize(("name", "shape", "num_actions", "length"), [(C4, (2, 6, 7), 7, 42), (TTT, (2, 3, 3), 9, 9)])
def test_adapter_basics(name: str, shape: tuple[int, int, int], num_actions: int, length: int) -> None:
    game = make_game(name)
    assert isinstance(game, PettingZooGame) and isinstance(game, Game) and game.name == name
    assert game.obs_shape == shape and game.num_actions == num_actions and game.max_game_length == length
    assert not game.player_plane  # both observe [mover's pieces, opponent's pieces]: no player plane
    state = game.new_initial_state()
    assert isinstance(state, GameState) and state.current_player() == 0 and state.move_number() == 0
    assert state.legal_mask().dtype == bool and state.legal_mask().all()
    state.apply(0)
    obs = state.observation()
    assert obs.dtype == np.float32 and obs.shape == shape and state.current_player() == 1
    assert obs[0].sum() == 0 and obs[1].sum() == 1  # the mover (player 1) has nothing, the opponent one piece
    np.testing.assert_array_equal(state.returns(), [0.0, 0.0])
    assert state.history() == [0] and state.key() != game.new_initial_state().key()
    assert state.action_to_string(5) == "5" and state.string_to_action(" 5 ") == 5
    assert "O (player 1) to move" in state.render()
    assert game.symmetries(obs, np.ones(num_actions))[0][0] is obs


@PAIRS
def test_random_games_agree_with_the_builtin(name: str, builtin: str) -> None:
    """Same actions, masks, observations (HWC -> CHW, mover first) and results as arena's own game."""
    ours, theirs = make_game(builtin), make_game(name)
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(12):
        a, b = ours.new_initial_state(), theirs.new_initial_state()
        while not b.is_terminal():
            assert not a.is_terminal() and a.current_player() == b.current_player()
            mask = b.legal_mask()
            assert b.legal_actions() == list(np.flatnonzero(mask)) == a.legal_actions()
            np.testing.assert_array_equal(b.observation(), a.observation())
            action = int(rng.choice(b.legal_actions()))
            a.apply(action)
            b.apply(action)
        assert a.is_terminal() and b.current_player() == -1 and not b.legal_mask().any() and b.legal_actions() == []
        np.testing.assert_array_equal(b.returns(), a.returns())
        assert b.returns().sum() == 0 and b.move_number() <= theirs.max_game_length and "game over" in b.render()
        outcomes.add(float(b.returns()[0]))
    assert outcomes >= {1.0, -1.0}


@pytest.mark.parametrize(
    ("name", "moves", "result"),
    [
        (C4, [0, 1, 0, 1, 0, 1, 0], [1.0, -1.0]),  # player 0 fills column 0
        (C4, [6, 0, 5, 0, 2, 0, 3, 0], [-1.0, 1.0]),  # player 1 fills column 0
        (TTT, [0, 3, 1, 4, 8, 5], [-1.0, 1.0]),  # player 1 takes 3, 4, 5
        (TTT, [4, 0, 2, 6, 3, 5, 1, 7, 8], [0.0, 0.0]),  # full board, no line
    ],
)
def test_known_lines(name: str, moves: list[int], result: list[float]) -> None:
    state = play(make_game(name), moves)
    assert state.is_terminal()
    np.testing.assert_array_equal(state.returns(), result)


def test_connect_four_draw() -> None:
    from tests.test_games import C4_DRAW

    state = play(make_game(C4), C4_DRAW)
    assert state.is_terminal() and state.move_number() == 42
    np.testing.assert_array_equal(state.returns(), [0.0, 0.0])


def test_clone_is_independent() -> None:
    state = play(make_game(C4), [3, 3, 2])
    before = (state.observation(), state.legal_mask(), state.history())
    copy = state.clone()
    for a in (0, 6, 0, 6):
        copy.apply(a)
    np.testing.assert_array_equal(state.observation(), before[0])
    np.testing.assert_array_equal(state.legal_mask(), before[1])
    assert state.history() == before[2] and state.current_player() == 1
    state.apply(0)  # and the other way round
    assert copy.history() == [3, 3, 2, 0, 6, 0, 6] and copy.current_player() == 1
    copy.observation()[:] = 7  # a caller writing into an observation changes nothing
    assert copy.observation().max() == 1.0
    won = play(make_game(TTT), [0, 3, 1, 4])
    end = won.clone()
    end.apply(2)
    assert end.is_terminal() and not won.is_terminal() and won.legal_actions() == [2, 5, 6, 7, 8]


def test_keys_merge_transpositions_only_where_the_observation_is_the_position() -> None:
    ttt = make_game(TTT)
    assert play(ttt, [0, 4, 1]).key() == play(ttt, [1, 4, 0]).key() != play(ttt, [0, 4, 2]).key()
    assert play(ttt, [0, 4]).key() != play(ttt, [0, 4, 1]).key()
    go = make_game("pettingzoo:go_v5(board_size=5)")
    assert not go.player_plane and go.obs_shape == (17, 5, 5)  # go's last plane says whose turn it is
    assert play(go, [0, 6]).key() == (0, 6)


def test_illegal_moves() -> None:
    state = play(make_game(TTT), [4])
    for bad in (4, -1, 9):
        with pytest.raises(IllegalMoveError):
            state.apply(bad)
    assert state.history() == [4] and not state.is_terminal()  # PettingZoo's own penalty never ran
    for text in ("4", "banana", "12"):
        with pytest.raises(IllegalMoveError) as info:
            state.string_to_action(text)
        assert "\n" not in str(info.value)
    for a in (0, 1, 3, 2, 6):
        state.apply(a)
    with pytest.raises(IllegalMoveError, match="over"):
        state.apply(8)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("pettingzoo:rps_v2", "simultaneous"),
        ("pettingzoo:texas_holdem_v4(num_players=3)", "3 players"),
        ("pettingzoo:leduc_holdem_v4", "hidden information"),
        ("pettingzoo:conect_four_v3", "pettingzoo:connect_four_v3"),
        ("pettingzoo:connect_four_v3(foo=1)", "foo"),
        ("pettingzoo:connect_four_v3(", "cannot parse"),
    ],
)
def test_rejected(name: str, why: str) -> None:
    with pytest.raises(GameError) as info:
        make_game(name)
    assert why in str(info.value) and "\n" not in str(info.value)


def test_rejection_reasons() -> None:
    from gymnasium import spaces
    from pettingzoo.classic import connect_four_v3, rps_v2

    assert _why_not(rps_v2.parallel_env(), "rps") == ["it is a parallel env (simultaneous moves)"]
    env = connect_four_v3.raw_env()
    env.action_spaces = {a: spaces.Box(0, 1, (7,)) for a in env.possible_agents}
    env.observation_spaces = {a: spaces.Box(0, 1, (6, 7, 2)) for a in env.possible_agents}
    assert _why_not(env, "connect_four") == ["its action space is Box, not Discrete",
                                             "its observation has no action_mask"]


def test_unknown_name_suggests_pettingzoo() -> None:
    with pytest.raises(GameError, match="pettingzoo:connect_four_v3"):
        make_game("connect_four_v3")


def test_mcts_finds_the_immediate_win() -> None:
    rng = np.random.default_rng(0)
    mcts = MCTS(MCTSConfig(num_simulations=200), RandomRolloutEvaluator(rng), rng)
    root = mcts.new_root(play(make_game(TTT), [0, 3, 1, 4]))  # X wins at 2 (O threatens 5 too)
    mcts.search([root])
    assert int(np.argmax(mcts.policy(root, 0.0))) == 2 and root.N[2] > 0.5 * root.N.sum()


def test_selfplay_records() -> None:
    game = make_game(TTT)
    mcts = MCTS(MCTSConfig(num_simulations=8), UniformEvaluator(), np.random.default_rng(0))
    record, stats = play_selfplay_games(game, mcts, 2, temperature_moves=2, rng=np.random.default_rng(1))
    assert record.obs.shape[1:] == game.obs_shape and record.legal_mask.shape[1:] == (9,)
    assert len(augment(game, record)) == len(record) == stats.positions


def test_matches_tournament_and_play(tmp_path: Path) -> None:
    game = make_game(TTT)
    wins, draws, losses = play_match(game, make_player("minimax", game, 0), RandomPlayer(1), 4, seed=0)
    assert wins + draws + losses == 4 and losses == 0  # exact minimax never loses
    out = tmp_path / "t"
    assert cmd_tournament(["--game", TTT, "random", "minimax:2", "--games-per-pair", "2", "--seed", "1",
                           "--out", str(out), "--no-progress"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["players"] == ["random", "minimax:2"]
    text = io.StringIO()
    moves = "x\n" + "".join(f"{a}\n" for a in range(9))  # junk, then every cell: taken ones are refused
    assert play_game(game, RandomPlayer(2), True, io.StringIO(moves), text) in (-1, 0, 1)
    assert "illegal move" in text.getvalue() and "0 1 2" in text.getvalue()
