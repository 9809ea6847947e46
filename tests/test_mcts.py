"""PUCT search: arithmetic on hand-made trees, backup signs, noise, temperatures, tree reuse, batching and
virtual loss, tactics with random rollouts, and the network evaluator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

from agents.alphazero.evaluator import Evaluator, NetworkEvaluator, UniformEvaluator
from agents.alphazero.mcts import MCTS, MCTSConfig, Node, _select, puct_scores, sample_action
from agents.alphazero.rollout import RandomRolloutEvaluator, generic_rollout
from envs.games.base import GameState
from envs.games.connect4 import Connect4
from envs.games.tictactoe import TicTacToe


def play(game: TicTacToe | Connect4, moves: Sequence[int]) -> GameState:
    s = game.new_initial_state()
    for a in moves:
        s.apply(a)
    return s


class CountingEvaluator:
    """Wraps an evaluator and records the batch size of every call."""

    def __init__(self, inner: Evaluator) -> None:
        self.inner = inner
        self.batches: list[int] = []

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        self.batches.append(len(states))
        return self.inner.evaluate(states)


def walk(node: Node) -> list[Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children.values())
    return out


def hand_node(n: Sequence[float], w: Sequence[float], p: Sequence[float]) -> Node:
    """An expanded tic-tac-toe root (all 9 cells legal) with the given edge statistics."""
    node = Node(TicTacToe().new_initial_state())
    node.expand(np.array(p), 0.0)
    node.N[:] = n
    node.W[:] = w
    return node


def test_puct_arithmetic_on_a_hand_made_node() -> None:
    cfg = MCTSConfig(c_puct=1.25, c_base=19652.0, fpu=0.0)
    n = [10, 5, 1, 0, 0, 0, 0, 0, 0]
    w = [6.0, 1.0, 0.5, 0, 0, 0, 0, 0, 0]
    p = [0.3, 0.2, 0.1, 0.25, 0.05, 0.05, 0.05, 0.0, 0.0]
    node = hand_node(n, w, p)
    total = 1 + 16  # N(s): the expansion visit plus the edge visits
    c = math.log((1 + total + 19652.0) / 19652.0) + 1.25
    expected = [(w[a] / n[a] if n[a] else 0.0) + c * p[a] * math.sqrt(total) / (1 + n[a]) for a in range(9)]
    # By hand: action 3 (unvisited, prior .25) beats action 0 (Q .6 but 10 visits).
    assert expected[3] == pytest.approx(1.25 * 0.25 * math.sqrt(17), rel=1e-3)
    assert expected[0] == pytest.approx(0.6 + 1.25 * 0.3 * math.sqrt(17) / 11, rel=1e-3)
    np.testing.assert_allclose(puct_scores(node, cfg), expected, rtol=1e-12)
    assert int(np.argmax(expected)) == 3
    assert _select(node.stats, node.legal, cfg.c_puct, cfg.c_base, cfg.fpu, cfg.virtual_loss) == 3
    # The search's own walk takes the same edge and creates that child.
    path, leaf, new = MCTS(cfg, UniformEvaluator(), np.random.default_rng(0))._descend(node, use_vl=False)
    assert [a for _, a in path] == [3] and new and leaf.state.history() == [3]


def test_puct_respects_legality_fpu_and_virtual_loss() -> None:
    node = hand_node([2, 0, 0, 0, 0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0, 0, 0, 0, 0], [0.5, 0.5] + [0.0] * 7)
    cfg = MCTSConfig(fpu=-1.0)
    # Action 1 is unvisited, so valued at fpu -1: action 0 wins. With fpu 0 it would be action 1.
    assert _select(node.stats, node.legal, cfg.c_puct, cfg.c_base, -1.0, 1.0) == 0
    assert _select(node.stats, node.legal, cfg.c_puct, cfg.c_base, 0.0, 1.0) == 1
    # A pending path on action 1 counts as a lost visit: Q = -1, n = 1.
    node.VL[1] = 1
    s = puct_scores(node, MCTSConfig(fpu=0.0))
    total = 1 + 2 + 1
    c = math.log((1 + total + 19652.0) / 19652.0) + 1.25
    assert s[1] == pytest.approx(-1.0 + c * 0.5 * math.sqrt(total) / 2)
    # Illegal cells are never chosen, however large their prior.
    node.VL[1] = 0
    node.legal[:] = False
    node.legal[5] = True
    assert _select(node.stats, node.legal, 1.25, 19652.0, 0.0, 1.0) == 5


def test_backup_flips_signs_by_player_id_not_by_depth() -> None:
    nodes = [hand_node([0] * 9, [0] * 9, [1 / 9] * 9) for _ in range(4)]
    # Players along the path: 0, 0 (a pass gave player 0 another move), 1, 0.
    for node, player in zip(nodes, [0, 0, 1, 0], strict=True):
        node.player = player
    path = [(nodes[0], 1), (nodes[1], 2), (nodes[2], 3), (nodes[3], 4)]
    MCTS._backup(path, 0.5, use_vl=False)  # +0.5 for player 0
    assert [float(n.W[a]) for n, a in path] == [0.5, 0.5, -0.5, 0.5]
    assert all(float(n.N[a]) == 1 for n, a in path)


def test_terminal_leaf_is_valued_by_returns_without_the_evaluator() -> None:
    # X (player 0) to move can win at cell 2; the winning child is terminal with returns [1, -1].
    state = play(TicTacToe(), [0, 3, 1, 4])
    ev = CountingEvaluator(UniformEvaluator())
    mcts = MCTS(MCTSConfig(num_simulations=30), ev, np.random.default_rng(0))
    root = mcts.new_root(state)
    mcts.search([root])
    win = root.children[2]
    assert win.terminal and not win.expanded
    assert root.W[2] == root.N[2] > 1  # every visit scored +1 for player 0
    # One evaluation per expanded node (the root's included), none for terminal nodes.
    nodes = walk(root)
    assert sum(ev.batches) == sum(n.expanded for n in nodes)
    assert not any(n.expanded for n in nodes if n.terminal)


def test_dirichlet_noise_only_on_legal_actions_only_when_asked_and_seeded() -> None:
    state = play(TicTacToe(), [4, 0])  # cells 0 and 4 taken
    priors: dict[bool, list[np.ndarray]] = {}
    for noise in (False, True):
        for seed in (1, 1, 2):
            mcts = MCTS(MCTSConfig(num_simulations=8), UniformEvaluator(), np.random.default_rng(seed))
            root = mcts.new_root(state)
            mcts.search([root], add_noise=noise)
            priors.setdefault(noise, []).append(root.P.copy())
    clean = np.where(state.legal_mask(), 1 / 7, 0.0)
    for p in priors[False]:
        np.testing.assert_allclose(p, clean)
    a, b, c = priors[True]
    np.testing.assert_array_equal(a, b)  # same seed, same noise
    assert not np.allclose(a, c) and not np.allclose(a, clean)
    for p in priors[True]:
        assert p[0] == 0 and p[4] == 0 and p.sum() == pytest.approx(1.0)
        assert (p[state.legal_mask()] >= 0.75 / 7 - 1e-12).all()  # (1 - eps) P + eps * noise


def test_policy_temperatures_and_sampling() -> None:
    mcts = MCTS(MCTSConfig(), UniformEvaluator(), np.random.default_rng(0))
    root = hand_node([3, 5, 5, 0, 1, 0, 0, 0, 0], [0] * 9, [1 / 9] * 9)
    np.testing.assert_allclose(mcts.policy(root, 1.0), np.array([3, 5, 5, 0, 1, 0, 0, 0, 0]) / 14)
    np.testing.assert_allclose(mcts.policy(root, 0.5), np.array([9, 25, 25, 0, 1, 0, 0, 0, 0]) / 60)
    greedy = {int(np.argmax(mcts.policy(root, 0.0))) for _ in range(50)}
    assert greedy == {1, 2}  # one-hot on a most-visited action, ties broken at random
    assert mcts.policy(root, 0.0).sum() == 1.0
    rng = np.random.default_rng(0)
    draws = np.bincount([sample_action(mcts.policy(root, 1.0), rng) for _ in range(2000)], minlength=9)
    assert draws[[3, 5, 6, 7, 8]].sum() == 0
    np.testing.assert_allclose(draws / 2000, np.array([3, 5, 5, 0, 1, 0, 0, 0, 0]) / 14, atol=0.04)
    with pytest.raises(ValueError):
        mcts.policy(mcts.new_root(TicTacToe().new_initial_state()))


def test_tree_reuse_keeps_the_subtree_and_renoises() -> None:
    rng = np.random.default_rng(0)
    mcts = MCTS(MCTSConfig(num_simulations=200), RandomRolloutEvaluator(rng), rng)
    root = mcts.new_root(Connect4().new_initial_state())
    mcts.search([root], add_noise=True)
    best = int(np.argmax(root.N))
    child = root.children[best]
    before_n, before_p = child.N.copy(), child.P.copy()
    reused = mcts.advance(root, best)
    assert reused is child and reused.visits == int(root.N[best])  # N(s') = the edge's visits
    np.testing.assert_array_equal(reused.N, before_n)
    mcts.search([reused], add_noise=True)
    assert reused.N.sum() == before_n.sum() + 200
    assert reused.prior_raw is not None
    np.testing.assert_array_equal(reused.prior_raw, before_p)  # noise went on top of the clean priors
    mcts.search([reused], add_noise=False)
    np.testing.assert_array_equal(reused.P, before_p)
    # An action search never expanded gives a fresh root on the played position.
    fresh = mcts.advance(mcts.new_root(reused.state), 3)
    assert not fresh.expanded and fresh.state.history() == reused.state.history() + [3]


@pytest.mark.parametrize(
    "game, moves, best",
    [
        (TicTacToe(), [0, 3, 1, 4], 2),  # X wins at 2 (O threatens 5 too)
        (TicTacToe(), [0, 4, 8, 3], 5),  # X must block O's row at 5
        (Connect4(), [0, 1, 0, 1, 0, 1], 0),  # X wins on column 0 (O threatens column 1 too)
        (Connect4(), [6, 0, 5, 0, 2, 0], 0),  # X must block O's column 0
    ],
    ids=["ttt-win", "ttt-block", "c4-win", "c4-block"],
)
def test_random_rollout_mcts_finds_wins_and_blocks(game: TicTacToe | Connect4, moves: list[int], best: int) -> None:
    rng = np.random.default_rng(0)
    mcts = MCTS(MCTSConfig(num_simulations=400), RandomRolloutEvaluator(rng), rng)
    root = mcts.new_root(play(game, moves))
    mcts.search([root])
    assert int(np.argmax(mcts.policy(root, 0.0))) == best
    assert root.N[best] > 0.5 * root.N.sum()


@pytest.mark.parametrize("leaves_per_tree", [1, 4])
def test_batched_search_gives_every_root_its_simulations(leaves_per_tree: int) -> None:
    rng = np.random.default_rng(0)
    ev = CountingEvaluator(RandomRolloutEvaluator(rng))
    mcts = MCTS(MCTSConfig(num_simulations=60, leaves_per_tree=leaves_per_tree), ev, rng)
    states = [play(Connect4(), m) for m in ([], [3], [3, 3], [0, 6, 1], [2, 2, 2, 4])]
    roots = [mcts.new_root(s) for s in states]
    mcts.search(roots)
    assert ev.batches[0] == len(roots)  # the roots' own expansion, one batch
    assert max(ev.batches[1:]) > (len(roots) if leaves_per_tree > 1 else 1)
    assert max(ev.batches) <= len(roots) * leaves_per_tree
    for root in roots:
        assert root.N.sum() == 60
        for node in walk(root):
            if node.expanded:
                assert not node.VL.any()  # no virtual loss left behind
                assert node.visits == 1 + node.N.sum()
                for a, child in node.children.items():  # a child's visits are its parent edge's count
                    if child.expanded:
                        assert child.visits == node.N[a]
    mcts.search(roots)  # searching again adds exactly as many
    assert all(r.N.sum() == 120 for r in roots)


def test_search_is_deterministic_for_a_seed() -> None:
    counts = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        mcts = MCTS(MCTSConfig(num_simulations=100, leaves_per_tree=2), RandomRolloutEvaluator(rng), rng)
        root = mcts.new_root(Connect4().new_initial_state())
        mcts.search([root], add_noise=True)
        counts.append(root.N.copy())
    np.testing.assert_array_equal(counts[0], counts[1])


def test_search_rejects_terminal_and_duplicate_roots() -> None:
    mcts = MCTS(MCTSConfig(num_simulations=4), UniformEvaluator(), np.random.default_rng(0))
    with pytest.raises(ValueError):
        mcts.search([mcts.new_root(play(TicTacToe(), [0, 3, 1, 4, 2]))])
    root = mcts.new_root(TicTacToe().new_initial_state())
    with pytest.raises(ValueError):
        mcts.search([root, root])
    with pytest.raises(ValueError):
        MCTSConfig(num_simulations=0)


class NoFastRollout:
    """A state without ``random_rollout``, to exercise the generic loop."""

    def __init__(self, inner: GameState) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        if name == "random_rollout":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def clone(self) -> NoFastRollout:
        return NoFastRollout(self.inner.clone())


def test_random_rollout_evaluator_priors_values_and_generic_fallback() -> None:
    rng = np.random.default_rng(0)
    ev = RandomRolloutEvaluator(rng, num_rollouts=200)
    # O (player 1) to move can win at 5, X threatens 2; values for the player to move.
    state = play(TicTacToe(), [0, 3, 1, 4, 8])
    priors, values = ev.evaluate([state, NoFastRollout(state)])  # type: ignore[list-item]
    assert priors.shape == (2, 9) and priors.dtype == np.float32
    np.testing.assert_allclose(priors[0], np.where(state.legal_mask(), 0.25, 0.0))
    assert abs(values[0] - values[1]) < 0.25 and values[0] > 0  # the mover (O) wins more often than not
    r = generic_rollout(state, rng)
    assert r.shape == (2,) and r[0] == -r[1] and not state.is_terminal()


class TinyNet(nn.Module):
    """``obs [B, 2, 3, 3] -> (logits [B, 9], value [B])`` with a batch-norm layer (to check eval mode)."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(18)
        self.policy = nn.Linear(18, 9)
        self.value = nn.Linear(18, 1)
        self.calls = 0

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        x = self.bn(obs.flatten(1))
        return self.policy(x) * 10, torch.tanh(self.value(x)).squeeze(-1)


def test_network_evaluator_masks_illegal_actions_and_caches() -> None:
    torch.manual_seed(0)
    net = TinyNet()
    ev = NetworkEvaluator(net, cache_size=4)
    states = [play(TicTacToe(), m) for m in ([], [4], [4, 0], [4, 0, 8])]
    priors, values = ev.evaluate(states)
    assert priors.shape == (4, 9) and values.shape == (4,) and net.calls == 1
    for s, p in zip(states, priors, strict=True):
        legal = s.legal_mask()
        assert (p[~legal] == 0).all() and p.sum() == pytest.approx(1.0, abs=1e-6)
    with torch.no_grad():
        net.eval()
        logits, v = net(torch.from_numpy(states[3].observation()[None]))
    expected = torch.softmax(logits[0][torch.from_numpy(states[3].legal_mask())], 0).numpy()
    np.testing.assert_allclose(priors[3][states[3].legal_mask()], expected, rtol=1e-5)
    assert values[3] == pytest.approx(float(v[0]), abs=1e-6)
    assert net.training is False  # the test switched it; below the evaluator must restore train mode
    net.train()
    # Repeats hit the cache (no forward pass); one new state costs one forward of batch 1.
    p2, v2 = ev.evaluate([states[1], states[2], play(TicTacToe(), [4, 0])])
    assert net.calls == 2 and ev.cache_hits == 3 and ev.cache_misses == 4
    np.testing.assert_array_equal(p2[0], priors[1])
    ev.evaluate([play(TicTacToe(), [0])])
    assert net.calls == 3 and ev.cache_misses == 5 and net.training  # train mode restored
    # LRU capacity 4: the oldest (the empty board) was evicted; new weights clear everything.
    ev.evaluate([states[0]])
    assert ev.cache_misses == 6
    ev.load_weights(TinyNet().state_dict())
    ev.evaluate([states[1]])
    assert ev.cache_misses == 7
    off = NetworkEvaluator(net, cache_size=0)
    off.evaluate(states[:1])
    off.evaluate(states[:1])
    assert off.cache_hits == 0 and off.cache_misses == 2


def test_network_evaluator_drives_batched_search() -> None:
    torch.manual_seed(0)
    net = TinyNet()
    ev = NetworkEvaluator(net)
    mcts = MCTS(MCTSConfig(num_simulations=32, leaves_per_tree=2), ev, np.random.default_rng(0))
    roots = [mcts.new_root(play(TicTacToe(), m)) for m in ([], [4], [0, 4])]
    mcts.search(roots, add_noise=True)
    assert all(r.N.sum() == 32 for r in roots)
    assert ev.cache_hits + ev.cache_misses > net.calls  # batches of more than one position
    assert -1.0 <= roots[0].value <= 1.0
