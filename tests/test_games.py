"""Built-in games: tic-tac-toe and Connect Four rules, symmetries, batches, rollouts and ``make_game``."""

from __future__ import annotations

import numpy as np
import pytest

from envs.games import GAMES, Connect4, Game, GameError, GameState, IllegalMoveError, TicTacToe, make_game
from envs.games import connect4 as c4
from envs.games import tictactoe as ttt

BUILTINS = [TicTacToe(), Connect4()]
IDS = ["tictactoe", "connect4"]
ALL = pytest.mark.parametrize("game", BUILTINS, ids=IDS)

C4_DRAW = [3, 3, 5, 2, 1, 2, 0, 0, 5, 0, 1, 4, 6, 0, 2, 4, 3, 5, 5, 2, 4, 2,
           2, 3, 0, 1, 4, 4, 1, 0, 4, 6, 6, 5, 6, 6, 3, 3, 5, 6, 1, 1]  # fmt: skip


def play(game: Game, actions: list[int]) -> GameState:
    state = game.new_initial_state()
    for a in actions:
        assert not state.is_terminal(), f"game ended before {a} in {actions}"
        state.apply(a)
    return state


def random_history(game: Game, rng: np.random.Generator) -> list[int]:
    state = game.new_initial_state()
    while not state.is_terminal():
        state.apply(int(rng.choice(state.legal_actions())))
    return state.history()


def assert_over(state: GameState, r0: float) -> None:
    assert state.is_terminal()
    np.testing.assert_array_equal(state.returns(), [r0, -r0])
    assert state.current_player() == -1
    assert state.legal_actions() == [] and not state.legal_mask().any()


def assert_one_line_illegal(state: GameState, action: int) -> str:
    with pytest.raises(IllegalMoveError) as info:
        state.apply(action)
    message = str(info.value)
    assert message and "\n" not in message
    return message


@ALL
def test_protocols(game: Game) -> None:
    state = game.new_initial_state()
    assert isinstance(game, Game) and isinstance(state, GameState)
    assert state.current_player() == 0 and state.move_number() == 0 and state.history() == []
    assert state.legal_mask().dtype == bool and state.legal_mask().all()
    assert state.legal_actions() == list(range(game.num_actions))
    obs = state.observation()
    assert obs.dtype == np.float32 and obs.shape == game.obs_shape and not obs.any()
    np.testing.assert_array_equal(state.returns(), [0.0, 0.0])


@pytest.mark.parametrize(
    ("moves", "r0"),
    [
        ([0, 3, 1, 4, 2], 1.0),  # X: top row
        ([0, 1, 3, 2, 6], 1.0),  # X: left column
        ([0, 1, 4, 2, 8], 1.0),  # X: main diagonal
        ([2, 0, 4, 1, 6], 1.0),  # X: anti-diagonal
        ([0, 3, 1, 4, 8, 5], -1.0),  # O: middle row
        ([0, 1, 2, 4, 3, 5, 7, 6, 8], 0.0),  # full board, no line
    ],
    ids=["row", "column", "diagonal", "anti-diagonal", "o-wins", "draw"],
)
def test_tictactoe_results(moves: list[int], r0: float) -> None:
    state = play(TicTacToe(), moves[:-1])
    assert not state.is_terminal() and state.current_player() == (len(moves) - 1) % 2
    state.apply(moves[-1])
    assert_over(state, r0)
    assert "over" in assert_one_line_illegal(state, 0)


@pytest.mark.parametrize(
    ("moves", "r0"),
    [
        ([0, 1, 0, 1, 0, 1, 0], 1.0),  # X: vertical
        ([0, 0, 1, 1, 2, 2, 3], 1.0),  # X: horizontal
        ([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3], 1.0),  # X: rising diagonal from (col 0, row 0)
        ([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3], 1.0),  # X: falling diagonal (the mirror)
        ([6, 0, 6, 1, 5, 2, 6, 3], -1.0),  # O: bottom row
        (C4_DRAW, 0.0),  # full board, no four
    ],
    ids=["vertical", "horizontal", "diagonal", "anti-diagonal", "o-wins", "draw"],
)
def test_connect4_results(moves: list[int], r0: float) -> None:
    state = play(Connect4(), moves[:-1])
    assert not state.is_terminal() and state.current_player() == (len(moves) - 1) % 2
    state.apply(moves[-1])
    assert_over(state, r0)
    assert "over" in assert_one_line_illegal(state, 3)


def test_illegal_moves() -> None:
    t = play(TicTacToe(), [4])
    for action in (4, -1, 9):
        assert_one_line_illegal(t, action)
    assert "taken" in assert_one_line_illegal(t, 4)
    c = play(Connect4(), [2] * 6)
    assert not c.legal_mask()[2] and 2 not in c.legal_actions()
    assert "full" in assert_one_line_illegal(c, 2)
    for action in (-1, 7):
        assert_one_line_illegal(c, action)
    assert t.history() == [4] and c.move_number() == 6  # failed moves change nothing


@ALL
def test_canonical_observation_flips_with_the_mover(game: Game) -> None:
    state = play(game, [0])
    obs = state.observation()
    assert obs[0].sum() == 0 and obs[1].sum() == 1  # the stone is the opponent's, seen by player 1
    state.apply(1)
    obs2 = state.observation()
    assert obs2[0].sum() == 1 and obs2[1].sum() == 1
    np.testing.assert_array_equal(obs2[0], obs[1])  # player 0's stone is now "mine"


@ALL
def test_clone_key_history(game: Game) -> None:
    state = play(game, [0, 1])
    copy = state.clone()
    copy.apply(2)
    assert state.history() == [0, 1] and copy.history() == [0, 1, 2] and copy.move_number() == 3
    assert state.key() != copy.key() and hash(state.key()) is not None
    assert play(game, [0, 1, 2]).key() == copy.key()
    assert play(game, [2, 1, 0]).key() == copy.key()  # a transposition
    assert play(game, [1, 0, 2]).key() != copy.key()  # same cells, other owners
    h = state.history()
    h.append(5)
    assert state.history() == [0, 1]


@ALL
def test_states_stay_slotted(game: Game) -> None:
    # Search clones a state per node: the shared base must not give states a __dict__ back.
    state = game.new_initial_state()
    assert not hasattr(state, "__dict__") and not hasattr(state.clone(), "__dict__")


def test_render() -> None:
    board = play(TicTacToe(), [4, 0]).render()
    assert board.splitlines()[1].split()[1:] == ["O", ".", "."] and "X" in board.splitlines()[2]
    board = play(Connect4(), [3, 3]).render()
    lines = board.splitlines()
    assert lines[-2].split()[3] == "X" and lines[-3].split()[3] == "O" and len(lines) == 7


def test_string_to_action() -> None:
    for game in BUILTINS:
        state = play(game, [4])
        for a in state.legal_actions():
            assert state.string_to_action(state.action_to_string(a)) == a
    t = play(TicTacToe(), [4])
    assert t.action_to_string(0) == "a1" and t.action_to_string(5) == "c2"
    assert t.string_to_action(" A1 ") == 0 and t.string_to_action("8") == 8 and t.string_to_action("b3") == 7
    c = play(Connect4(), [2] * 6)
    assert c.action_to_string(3) == "3" and c.string_to_action(" 6") == 6
    for state, texts in ((t, ["b2", "4", "d1", "a4", "9", "", "b22"]), (c, ["2", "7", "-1", "x", ""])):
        for text in texts:
            with pytest.raises(IllegalMoveError) as info:
                state.string_to_action(text)
            assert "\n" not in str(info.value)


def action_maps(game: Game) -> list[np.ndarray]:
    """For each symmetry, ``m`` with ``m[a]`` the transformed action ``a``."""
    obs = np.zeros(game.obs_shape, dtype=np.float32)
    perms = [p.astype(int) for _, p in game.symmetries(obs, np.arange(game.num_actions, dtype=float))]
    return [np.argsort(p) for p in perms]  # policy'[j] = policy[perm[j]]: action perm[j] goes to j


@ALL
def test_symmetries_are_distinct_permutations(game: Game) -> None:
    rng = np.random.default_rng(0)
    obs = rng.random(game.obs_shape).astype(np.float32)
    policy = rng.random(game.num_actions)
    pairs = game.symmetries(obs, policy)
    assert len(pairs) == {"tictactoe": 8, "connect4": 2}[game.name]
    np.testing.assert_array_equal(pairs[0][0], obs)
    np.testing.assert_array_equal(pairs[0][1], policy)
    for o, p in pairs:
        assert o.shape == obs.shape and p.shape == policy.shape
        np.testing.assert_array_equal(np.sort(o, axis=None), np.sort(obs, axis=None))
        np.testing.assert_array_equal(np.sort(p), np.sort(policy))
    keys = {o.tobytes() for o, _ in pairs}
    assert len(keys) == len(pairs)


@ALL
def test_symmetries_commute_with_play(game: Game) -> None:
    """Transforming a position's observation and legal mask equals observing the transformed position."""
    rng = np.random.default_rng(1)
    maps = action_maps(game)
    for _ in range(10):
        history = random_history(game, rng)
        for k, m in enumerate(maps):
            state, image = game.new_initial_state(), game.new_initial_state()
            for a in history:
                obs_k, mask_k = game.symmetries(state.observation(), state.legal_mask().astype(float))[k]
                np.testing.assert_array_equal(obs_k, image.observation())
                np.testing.assert_array_equal(mask_k.astype(bool), image.legal_mask())
                state.apply(a)
                image.apply(int(m[a]))
            assert image.is_terminal() and np.array_equal(image.returns(), state.returns())


@ALL
def test_batch_matches_single_states(game: Game) -> None:
    n = 40
    rng = np.random.default_rng(2)
    batch = game.new_batch(n)  # type: ignore[attr-defined]
    singles = [game.new_initial_state() for _ in range(n)]
    for _ in range(game.max_game_length + 1):
        masks = batch.legal_masks()
        assert masks.shape == (n, game.num_actions)
        np.testing.assert_array_equal(masks, [s.legal_mask() for s in singles])
        np.testing.assert_array_equal(batch.terminal, [s.is_terminal() for s in singles])
        np.testing.assert_array_equal(batch.current_player, [s.current_player() for s in singles])
        np.testing.assert_array_equal(batch.returns(), [s.returns() for s in singles])
        obs = batch.observations()
        assert obs.dtype == np.float32 and obs.shape == (n, *game.obs_shape)
        np.testing.assert_array_equal(obs, [s.observation() for s in singles])
        if batch.terminal.all():
            break
        actions = np.array([rng.choice(np.flatnonzero(m)) if m.any() else -5 for m in masks])
        batch.step(actions)
        for s, a in zip(singles, actions, strict=True):
            if not s.is_terminal():
                s.apply(int(a))
    assert batch.terminal.all()
    for i, s in enumerate(singles):
        assert batch.state(i).key() == s.key() and batch.state(i).history() == s.history()
    results = {float(s.returns()[0]) for s in singles}
    assert results == {1.0, -1.0, 0.0} or game.name == "connect4"  # random tic-tac-toe games end every way


@ALL
def test_batch_rejects_illegal_and_resets(game: Game) -> None:
    batch = game.new_batch(3)  # type: ignore[attr-defined]
    batch.step(np.array([0, 1, 2]))
    with pytest.raises(IllegalMoveError, match="game 1"):
        batch.step(np.array([3, 1, 3]) if game.name == "tictactoe" else np.array([0, 9, 0]))
    batch.reset(np.array([True, False, False]))
    assert batch.state(0).history() == [] and batch.state(1).history() == [1]
    batch.reset()
    assert not batch.observations().any() and batch.legal_masks().all()


@ALL
def test_rollout_is_deterministic_and_pure(game: Game) -> None:
    state = play(game, [0, 1, 2])
    key, history = state.key(), state.history()
    a = [state.random_rollout(np.random.default_rng(7)) for _ in range(2)]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(a[0], a[1])
    assert state.key() == key and state.history() == history
    rng = np.random.default_rng(8)
    outcomes = {float(state.random_rollout(rng)[0]) for _ in range(200)}  # type: ignore[attr-defined]
    assert outcomes == {-1.0, 0.0, 1.0} or (game.name == "connect4" and outcomes >= {-1.0, 1.0})
    over = play(game, [0, 3, 1, 4, 2]) if game.name == "tictactoe" else play(game, [0, 1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(over.random_rollout(rng), [1.0, -1.0])  # type: ignore[attr-defined]


def xorshift_playout(state: GameState, seed: int) -> float:
    """Player 0's result of the playout ``_rollout_loop`` makes from ``state`` with ``seed``, replayed on the state.

    Same random stream (xorshift32) and the same choice rule (``(x * A) >> 32``, redrawn while illegal),
    but the rules are the state's own, so this checks the rollout's win / draw logic move by move.
    """
    x, state = seed, state.clone()
    while not state.is_terminal():
        legal = state.legal_mask()
        while True:
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            action = (x * len(legal)) >> 32
            if legal[action]:
                break
        state.apply(action)
    return float(state.returns()[0])


@ALL
def test_rollout_loop_follows_the_rules(game: Game) -> None:
    module = ttt if game.name == "tictactoe" else c4
    rng = np.random.default_rng(5)
    for seed in range(1, 400):
        state = game.new_initial_state()
        for _ in range(seed % 5):  # from the empty board and from a few plies in
            state.apply(int(rng.choice(state.legal_actions())))
        stones = state.stones()  # type: ignore[attr-defined]
        me, other = stones[state.move_number() % 2], stones[1 - state.move_number() % 2]
        args = (me, other if game.name == "tictactoe" else me | other, state.move_number(), seed)
        expected = xorshift_playout(state, seed)
        assert module._rollout_jit(*args) == module._rollout_loop(*args) == expected, (seed, state.history())


def python_playouts(game: Game, n: int, rng: np.random.Generator) -> np.ndarray:
    """Player 0's result of ``n`` uniformly random games from the empty board, the plain way."""
    return np.array([play(game, random_history(game, rng)).returns()[0] for _ in range(n)])


@ALL
def test_rollout_statistics(game: Game) -> None:
    n = 3000
    state = game.new_initial_state()
    rng = np.random.default_rng(3)
    fast = np.array([state.random_rollout(rng)[0] for _ in range(n)])  # type: ignore[attr-defined]
    slow = python_playouts(game, n, np.random.default_rng(4))
    for outcome in (1.0, 0.0, -1.0):
        # each frequency has sd <= 0.0092 at n = 3000; the difference of two has sd <= 0.013
        assert abs(np.mean(fast == outcome) - np.mean(slow == outcome)) < 0.05, outcome
    if game.name == "tictactoe":  # exact random-play frequencies: 737/1260, 121/420, 8/63
        np.testing.assert_allclose([np.mean(fast == o) for o in (1.0, -1.0, 0.0)], [0.585, 0.288, 0.127], atol=0.04)


def test_make_game() -> None:
    assert GAMES == ("tictactoe", "connect4")
    assert isinstance(make_game("tictactoe"), TicTacToe) and isinstance(make_game("connect4"), Connect4)
    for name, hint in (("conect4", "'connect4'"), ("tic-tac-toe", "'tictactoe'"), ("xyzzy", "built-in games")):
        with pytest.raises(GameError) as info:
            make_game(name)
        message = str(info.value)
        assert hint in message and "tictactoe, connect4" in message and "\n" not in message
