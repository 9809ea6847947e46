"""Bots: perfect minimax at tic-tac-toe, tactical minimax at Connect Four, MCTS players, player specs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from agents.bots import RandomPlayer, make_player
from agents.bots.minimax import MinimaxPlayer, connect_four_heuristic
from agents.bots.openspiel_bot import OpenSpielMCTSPlayer
from envs.games import Connect4, GameError, GameState, TicTacToe, make_game
from runners.selfplay.match import play_match


def position(game: TicTacToe | Connect4, moves: Sequence[int]) -> GameState:
    s = game.new_initial_state()
    for a in moves:
        s.apply(a)
    return s


def test_minimax_never_loses_tictactoe_against_random() -> None:
    game = TicTacToe()
    minimax = MinimaxPlayer(game, seed=0)
    w, d, l = play_match(game, minimax, RandomPlayer(1), 100, seed=2)
    assert l == 0 and w + d == 100 and w > 80
    w, d, l = play_match(game, RandomPlayer(3), minimax, 100, seed=4)
    assert w == 0 and l + d == 100 and l > 50


def test_two_minimax_players_always_draw() -> None:
    game = TicTacToe()
    assert play_match(game, MinimaxPlayer(game, seed=1), MinimaxPlayer(game, seed=2), 30, seed=5) == (0, 30, 0)


def test_minimax_breaks_ties_at_random_and_reproducibly() -> None:
    game = TicTacToe()
    empty = game.new_initial_state()
    player = MinimaxPlayer(game, seed=0)
    assert set(player.root_scores(empty).values()) == {0}  # every opening draws with perfect play
    firsts = player.act([empty] * 60)
    assert len(set(firsts)) >= 6  # uniform over 9 equally good moves
    player.reseed(7)
    again = player.act([empty] * 10)
    player.reseed(7)
    assert player.act([empty] * 10) == again


def test_minimax_tictactoe_tactics() -> None:
    game = TicTacToe()
    player = MinimaxPlayer(game, seed=0)
    # X: a1 (0), b1 (1); O: a2 (3), b2 (4); X to move wins at c1 (2), not by blocking c2 (5).
    assert player.act([position(game, [0, 3, 1, 4])]) == [2]
    # X: a1 (0), c3 (8); O: b2 (4), a3 (6) threatens the diagonal at c1 (2): X must block there.
    assert player.act([position(game, [0, 4, 8, 6])]) == [2]


@pytest.mark.parametrize("depth", [None, 1, 2, 5])
def test_minimax_connect4_wins_in_one(depth: int | None) -> None:
    game = Connect4()
    # X stacks three in column 0 (O plays 1, 1, 2): X to move wins with column 0.
    state = position(game, [0, 1, 0, 1, 0, 2])
    assert MinimaxPlayer(game, depth=depth, seed=0).act([state]) == [0]


@pytest.mark.parametrize("moves, block", [([0, 1, 0, 1, 6, 1], 1),  # O threatens column 1 (vertical)
                                          ([0, 6, 1, 6, 2], 3)])  # X threatens column 3 (horizontal)
def test_minimax_connect4_blocks_in_one(moves: list[int], block: int) -> None:
    game = Connect4()
    assert MinimaxPlayer(game, seed=0).act([position(game, moves)]) == [block]


def test_minimax_connect4_beats_random() -> None:
    game = Connect4()
    assert play_match(game, MinimaxPlayer(game, seed=0), RandomPlayer(1), 6, seed=0)[0] == 6


def test_connect_four_heuristic() -> None:
    game = Connect4()
    assert connect_four_heuristic(game.new_initial_state()) == 0
    # After X plays the centre, O is to move: the score is from O's side, so negative.
    assert connect_four_heuristic(position(game, [3])) < 0
    assert connect_four_heuristic(position(game, [3, 0])) > 0


def test_mcts_players_take_a_win() -> None:
    game = TicTacToe()
    state = position(game, [0, 3, 1, 4])  # X wins at 2
    assert make_player("mcts:200", game, 0).act([state]) == [2]
    assert make_player("openspiel-mcts:200", game, 0).act([state]) == [2]


def test_mcts_player_searches_all_states_in_one_batch() -> None:
    game = Connect4()
    player = make_player("mcts:16", game, 0)
    calls: list[int] = []
    search = player.mcts.search  # type: ignore[attr-defined]

    def spy(roots: Sequence[object], add_noise: bool = False) -> None:
        calls.append(len(roots))
        search(roots, add_noise)  # type: ignore[arg-type]

    player.mcts.search = spy  # type: ignore[attr-defined]
    states = [position(game, m) for m in ([], [3], [3, 3], [0, 1, 2])]
    actions = player.act(states)
    assert calls == [4]
    assert all(a in s.legal_actions() for a, s in zip(actions, states, strict=True))


def test_openspiel_player_on_builtin_and_openspiel_games() -> None:
    for name, moves in (("connect4", [3, 3, 2]), ("openspiel:connect_four", [3, 3, 2]),
                        ("openspiel:tic_tac_toe", [4])):
        game = make_game(name)
        state = position(game, moves)  # type: ignore[arg-type]
        player = OpenSpielMCTSPlayer(game, 20, seed=0)
        assert player.act([state])[0] in state.legal_actions()
        assert state.history() == moves  # the arena state is not touched


def test_make_player_specs() -> None:
    game = TicTacToe()
    assert make_player("random", game, 0).name == "random"
    exact = make_player("minimax", game, 0)
    assert isinstance(exact, MinimaxPlayer) and exact.exact and exact.name == "minimax"
    limited = make_player("minimax:3", game, 0)
    assert isinstance(limited, MinimaxPlayer) and limited.depth == 3 and not limited.exact
    assert make_player("mcts:25", game, 0).name == "mcts:25"
    assert make_player("openspiel-mcts:10", game, 0).name == "openspiel-mcts:10"
    c4 = make_player("minimax", Connect4(), 0)
    assert isinstance(c4, MinimaxPlayer) and not c4.exact and c4.depth >= 4


@pytest.mark.parametrize("spec", ["", "foo", "mcts", "mcts:", "mcts:0", "mcts:x", "minimax:-1", "minimax:two",
                                  "random:3", "openspiel-mcts:1.5", "alphazero:"])
def test_make_player_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(GameError) as e:
        make_player(spec, TicTacToe(), 0)
    msg = str(e.value)
    assert "\n" not in msg and "random, minimax" in msg


def test_random_player_is_seeded() -> None:
    game = Connect4()
    states = [game.new_initial_state() for _ in range(20)]
    a, b = RandomPlayer(4).act(states), RandomPlayer(4).act(states)
    assert a == b and len(set(a)) > 1 and all(0 <= x < 7 for x in np.asarray(a))
