"""PUCT Monte-Carlo tree search, as in AlphaZero (Silver et al. 2018, "A general reinforcement learning
algorithm that masters chess, shogi, and Go through self-play", Science 362; the selection rule and
constants are those of its published pseudocode).

MCTS sees games only through ``GameState`` and positions' priors and values only through an ``Evaluator``
(a network, or random rollouts), in the style of OpenSpiel's ``algorithms/mcts.py``. Selection maximises

    Q(s, a) + c(s) * P(s, a) * sqrt(N(s)) / (1 + N(s, a)),   c(s) = log((1 + N(s) + c_base) / c_base) + c_puct

with Q(s, a) = W(s, a) / N(s, a) from the view of the player to move in s.

Search is batched: ``search(roots)`` walks every root (and, with ``leaves_per_tree > 1``, several paths per
root under virtual loss) before one ``evaluator.evaluate`` call per round, so a network sees batches of
``len(roots) * leaves_per_tree`` positions instead of one.

Deviations from the pseudocode, and choices it leaves open:
* N(s) = 1 + sum_a N(s, a): the visit that expanded s counts, for the root too (the pseudocode does not count
  the root's expansion, so its first selection there has sqrt(0) = 0 and ignores the priors).
* Unvisited children are valued ``fpu`` (default 0, a draw; the pseudocode's choice too) from the parent's
  player's view.
* Values are backed up by player id, not by alternation, so games with passes or extra turns work.
* Terminal leaves are valued by ``returns()`` and never sent to the evaluator. No proven-win solving.
* Ties in selection go to the lowest action (no shuffle): the priors and visit counts break them soon enough.
* Tree reuse (``advance``) keeps the child's statistics; when a reused root is searched with noise, fresh
  Dirichlet noise replaces the old one (the clean priors are kept aside for that).

The per-node selection loop is a numba kernel (about 1 us per node); everything else is plain Python on small
numpy arrays, so a simulation costs a few tens of microseconds plus its evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from numba import njit

from agents.alphazero.evaluator import Evaluator
from agents.constraints import MAX_COUNT, Ge, Gt, Interval, check_fields
from envs.games.base import GameState

# Rows of Node.stats: priors, visit counts, total values, pending (virtual-loss) paths.
_P, _N, _W, _VL = 0, 1, 2, 3
# What unexpanded nodes hold instead (shared; zero-length, so nothing can write into them).
_NO_STATS = np.zeros((4, 0), np.float64)
_NO_ROW = _NO_STATS[0]
_NO_LEGAL = np.zeros(0, bool)
_NO_RETURNS = np.zeros(2, np.float64)
_NO_RETURNS.flags.writeable = False


@dataclass(frozen=True)
class MCTSConfig:
    """PUCT search settings (AlphaZero's values as defaults)."""

    num_simulations: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 100
    """Simulations per search, per root (each adds one leaf, or revisits a terminal one)."""
    c_puct: Annotated[float, Ge(0)] = 1.25
    """pb_c_init: exploration constant c(s) starts from (AlphaZero pseudocode)."""
    c_base: Annotated[float, Gt(0)] = 19652.0
    """pb_c_base: c(s) = log((1 + N(s) + c_base) / c_base) + c_puct grows slowly with the parent's visits."""
    dirichlet_alpha: Annotated[float, Gt(0)] = 0.3
    """Dirichlet(alpha) root noise concentration (0.3 chess, 0.15 shogi, 0.03 Go in the paper)."""
    dirichlet_epsilon: Annotated[float, Interval(ge=0, le=1)] = 0.25
    """Root priors become (1 - eps) * P + eps * noise when searching with noise (self-play)."""
    leaves_per_tree: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 1
    """Leaves collected per tree per evaluation round; > 1 spreads them with virtual loss (bigger batches,
    slightly weaker search per simulation)."""
    virtual_loss: Annotated[float, Ge(0)] = 1.0
    """Each pending path counts as this many lost visits on its edges until its leaf is backed up."""
    fpu: Annotated[float, Interval(ge=-1, le=1)] = 0.0
    """First-play urgency: Q of unvisited children, from the parent's player's view (0: a draw, as in the
    AlphaZero pseudocode; negative values search more narrowly; in [-1, 1], the range of values)."""

    def __post_init__(self) -> None:
        # Search is also built without the CLI (bots, tests): refuse its ranges here too, declared once above.
        check_fields(self, "--mcts.")


class Node:
    """One searched position: its state and the statistics of the edges leaving it.

    ``P``, ``N``, ``W`` and ``VL`` are float64 ``[num_actions]`` rows of one ``stats [4, A]`` block: priors,
    visit counts, total values from the view of ``player``, and paths pending evaluation through each edge;
    ``legal`` is the bool ``[A]`` mask. All are zero-length until the node is expanded. ``children`` maps
    actions to the nodes created so far. Terminal nodes are never expanded; ``returns`` holds their result.
    """

    __slots__ = ("state", "player", "terminal", "returns", "expanded", "legal", "stats", "P", "N", "W", "VL",
                 "prior_raw", "value_eval", "children")

    def __init__(self, state: GameState) -> None:
        self.state = state
        self.terminal: bool = state.is_terminal()
        self.player = -1 if self.terminal else int(state.current_player())
        self.returns: np.ndarray = np.asarray(state.returns(), np.float64) if self.terminal else _NO_RETURNS
        self.expanded = False
        self.legal: np.ndarray = _NO_LEGAL
        self.stats: np.ndarray = _NO_STATS
        self.P: np.ndarray = _NO_ROW
        self.N: np.ndarray = _NO_ROW
        self.W: np.ndarray = _NO_ROW
        self.VL: np.ndarray = _NO_ROW
        self.prior_raw: np.ndarray | None = None  # the evaluator's priors while noise is mixed into P
        self.value_eval = 0.0  # the evaluator's value for ``player``
        self.children: dict[int, Node] = {}

    def expand(self, prior: np.ndarray, value: float) -> None:
        """Attach the evaluator's ``prior [A]`` and ``value`` (for the player to move)."""
        self.legal = np.asarray(self.state.legal_mask(), bool)
        stats = np.zeros((4, self.legal.shape[0]), np.float64)
        stats[_P] = prior
        self.stats = stats
        self.P, self.N, self.W, self.VL = stats[_P], stats[_N], stats[_W], stats[_VL]
        self.value_eval = float(value)
        self.expanded = True

    @property
    def visits(self) -> int:
        """N(s): simulations through this node, counting the one that expanded it (0 if unexpanded)."""
        return 1 + int(self.N.sum()) if self.expanded else 0

    @property
    def value(self) -> float:
        """Mean value from ``player``'s view over the expansion and every simulation below (for logging);
        0 for unexpanded or terminal nodes."""
        if not self.expanded:
            return 0.0
        return (self.value_eval + float(self.W.sum())) / (1.0 + float(self.N.sum()))

    def q_values(self) -> np.ndarray:
        """float64 ``[A]``: W / N per action from ``player``'s view, NaN where unvisited."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.N > 0, self.W / self.N, np.nan)


@njit(cache=True)
def _select(stats: np.ndarray, legal: np.ndarray, c_init: float, c_base: float, fpu: float,
            vl: float) -> int:  # pragma: no cover - compiled
    """argmax over legal a of Q + c(s) P sqrt(N(s)) / (1 + n); pending paths count as ``vl`` lost visits."""
    p, n_, w, pend = stats[0], stats[1], stats[2], stats[3]
    total = 1.0
    for a in range(legal.shape[0]):
        if legal[a]:
            total += n_[a] + vl * pend[a]
    scale = (math.log((1.0 + total + c_base) / c_base) + c_init) * math.sqrt(total)
    best, best_a = -np.inf, -1
    for a in range(legal.shape[0]):
        if legal[a]:
            n = n_[a] + vl * pend[a]
            q = (w[a] - vl * pend[a]) / n if n > 0.0 else fpu
            score = q + scale * p[a] / (1.0 + n)
            if score > best:
                best, best_a = score, a
    return best_a


def puct_scores(node: Node, cfg: MCTSConfig) -> np.ndarray:
    """float64 ``[A]``: the selection score of every action of an expanded node (-inf where illegal).

    The same arithmetic as the compiled kernel, in numpy, for tests and analysis.
    """
    assert node.expanded, "node not expanded"
    p, n_, w, pend = node.stats
    n = n_ + cfg.virtual_loss * pend
    total = 1.0 + float(n[node.legal].sum())
    c = math.log((1.0 + total + cfg.c_base) / cfg.c_base) + cfg.c_puct
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 0, (w - cfg.virtual_loss * pend) / n, cfg.fpu)
    return np.where(node.legal, q + c * p * math.sqrt(total) / (1.0 + n), -np.inf)


def sample_action(policy: np.ndarray, rng: np.random.Generator) -> int:
    """An action drawn from ``policy [A]`` (non-negative, need not be exactly normalised)."""
    cdf = np.cumsum(policy, dtype=np.float64)
    a = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    # Guard the float edge where the draw lands on the last boundary: take the last action with mass.
    return a if a < len(policy) and policy[a] > 0 else int(np.flatnonzero(policy)[-1])


class MCTS:
    """Batched PUCT search over any ``GameState`` with any ``Evaluator``.

    Args:
        cfg: search settings.
        evaluator: priors and values for non-terminal leaves, called once per round with the leaves of all roots.
        rng: the only randomness (Dirichlet noise, temperature-0 tie-breaks).
    """

    sample_action = staticmethod(sample_action)

    def __init__(self, cfg: MCTSConfig, evaluator: Evaluator, rng: np.random.Generator) -> None:
        self.cfg, self.evaluator, self.rng = cfg, evaluator, rng

    def new_root(self, state: GameState) -> Node:
        """An unexpanded root holding a clone of ``state``."""
        return Node(state.clone())

    def advance(self, root: Node, action: int) -> Node:
        """The root after ``action``: the child subtree, statistics kept, if search built it; else a fresh root.

        The rest of the old tree is dropped (nodes hold no parent links, so it is freed).
        """
        child = root.children.get(action)
        if child is not None:
            return child
        state = root.state.clone()
        state.apply(action)
        return Node(state)

    def search(self, roots: Sequence[Node], add_noise: bool = False) -> None:
        """Run ``num_simulations`` simulations on every root, batching all leaves of a round into one evaluation.

        Args:
            roots: distinct, non-terminal roots (from ``new_root`` or ``advance``).
            add_noise: mix fresh Dirichlet noise into each root's priors over its legal actions (self-play);
                without it, roots search with their clean priors.
        """
        roots = list(roots)
        if len({id(r) for r in roots}) != len(roots):
            raise ValueError("search() needs distinct roots")
        if any(r.terminal for r in roots):
            raise ValueError("cannot search from a terminal state")
        fresh = [r for r in roots if not r.expanded]
        if fresh:
            priors, values = self.evaluator.evaluate([r.state for r in fresh])
            for r, p, v in zip(fresh, priors, values, strict=True):
                r.expand(p, v)
        for r in roots:
            self._set_root_priors(r, add_noise)

        cfg = self.cfg
        per_tree, use_vl = cfg.leaves_per_tree, cfg.leaves_per_tree > 1
        remaining = [cfg.num_simulations] * len(roots)
        while any(remaining):
            pending: list[tuple[Node, list[tuple[Node, int]]]] = []
            for i, root in enumerate(roots):
                collected = 0
                while remaining[i] > 0 and collected < per_tree:
                    path, leaf, new = self._descend(root, use_vl)
                    if leaf.terminal:
                        self._backup(path, float(leaf.returns[0]), use_vl)
                        remaining[i] -= 1
                    elif not new:
                        # Another path of this round already waits on this leaf (only possible under virtual
                        # loss): undo this one and end the tree's round.
                        for node, a in path:
                            node.VL[a] -= 1
                        break
                    else:
                        pending.append((leaf, path))
                        collected += 1
                        remaining[i] -= 1
            if pending:
                priors, values = self.evaluator.evaluate([leaf.state for leaf, _ in pending])
                for (leaf, path), p, v in zip(pending, priors, values, strict=True):
                    leaf.expand(p, v)
                    self._backup(path, float(v) if leaf.player == 0 else -float(v), use_vl)

    def policy(self, root: Node, temperature: float = 1.0) -> np.ndarray:
        """float64 ``[A]``: the root's visit distribution N^(1/T) normalised; T = 0 gives a one-hot argmax
        (ties broken at random)."""
        if root.N.sum() <= 0:
            raise ValueError("policy() needs a searched root")
        n = root.N
        if temperature <= 0.0:
            best = np.flatnonzero(n == n.max())
            pi = np.zeros_like(n)
            pi[best[self.rng.integers(len(best))] if len(best) > 1 else best[0]] = 1.0
            return pi
        # Scale by the max first so N^(1/T) cannot overflow for small T.
        pi = (n / n.max()) ** (1.0 / temperature)
        return pi / pi.sum()

    def _set_root_priors(self, root: Node, add_noise: bool) -> None:
        if root.prior_raw is not None:
            root.P[:] = root.prior_raw  # drop the noise of an earlier search
        if not add_noise:
            root.prior_raw = None
            return
        if root.prior_raw is None:
            root.prior_raw = root.P.copy()
        legal = np.flatnonzero(root.legal)
        noise = self.rng.dirichlet(np.full(len(legal), self.cfg.dirichlet_alpha))
        eps = self.cfg.dirichlet_epsilon
        root.P[legal] = (1.0 - eps) * root.P[legal] + eps * noise

    def _descend(self, root: Node, use_vl: bool) -> tuple[list[tuple[Node, int]], Node, bool]:
        """Select from ``root`` down to a leaf: a new child (created here), a terminal node, or a pending one.

        Returns the path of (node, action) edges, the leaf, and whether the leaf was created by this walk.
        """
        cfg = self.cfg
        c_init, c_base, fpu, vl = cfg.c_puct, cfg.c_base, cfg.fpu, cfg.virtual_loss
        path: list[tuple[Node, int]] = []
        node = root
        while True:
            a = _select(node.stats, node.legal, c_init, c_base, fpu, vl)
            path.append((node, a))
            if use_vl:
                node.VL[a] += 1
            child = node.children.get(a)
            if child is None:
                state = node.state.clone()
                state.apply(a)
                child = node.children[a] = Node(state)
                return path, child, True
            if child.terminal or not child.expanded:
                return path, child, False
            node = child

    @staticmethod
    def _backup(path: list[tuple[Node, int]], value0: float, use_vl: bool) -> None:
        """Add one visit and ``value0`` (player 0's view, negated for player 1's nodes) to every edge of ``path``."""
        for node, a in path:
            node.N[a] += 1
            node.W[a] += value0 if node.player == 0 else -value0
            if use_vl:
                node.VL[a] -= 1
