"""AlphaZero self-play (Silver et al. 2018): play games with the current network, learn from them, repeat.

One iteration: ``games_per_iteration`` games searched together (every search round evaluates the leaves
of all games in one network call), their positions (with symmetric copies) into a sliding window,
``train_steps_per_iteration`` gradient steps, then the evaluation cache is cleared because the weights
changed. Optional gating (AlphaGo Zero): self-play uses the best network, and a trained candidate
replaces it only after winning a match. Every ``eval_every`` iterations the network plays the anchors
and an Elo rating is fitted (``runners.selfplay.elo``), which gives the Elo curve over training.

Deviation from the paper: one process alternates self-play and training instead of running them
concurrently, which keeps runs exactly reproducible and resumable.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.alphazero.agent import AlphaZeroLearner
from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS, Node, sample_action
from agents.alphazero.network import PolicyValueNet, build_policy_value_net
from agents.bots import make_player
from agents.bots.base import Player
from agents.bots.mcts_bot import MCTSPlayer
from envs.games import make_game
from envs.games.base import Game
from replay.positions import PositionBuffer
from replay.types import GameRecord
from runners.families.selfplay import SelfPlayConfig, SelfPlayRunConfig
from runners.local import signals
from runners.selfplay.anchors import grow
from runners.selfplay.elo import fit_elo
from runners.selfplay.match import MatchStopped, play_match


@dataclass(frozen=True)
class SelfPlayStats:
    games: int
    positions: int
    mean_length: float
    first_player_score: float
    """Mean result for player 0 (1 win, 0 draw, -1 loss): drifts toward the game's theoretical value."""
    seconds: float


def play_selfplay_games(game: Game, mcts: MCTS, num_games: int, temperature_moves: int,
                        rng: np.random.Generator, random_moves: int = 0) -> tuple[GameRecord, SelfPlayStats]:
    """Play ``num_games`` games at once with root noise; return every position with its targets.

    The first ``random_moves`` moves of each game are drawn uniformly from the legal ones (every position is
    still searched, and its visit distribution is still the policy target), so openings the network would
    never choose itself, but an opponent may, are learned too.
    """
    record, stats, _ = play_games(game, [(mcts, mcts)] * num_games, temperature_moves, rng, random_moves)
    return record, stats


def play_games(game: Game, sides: Sequence[tuple[MCTS, MCTS]], temperature_moves: int, rng: np.random.Generator,
               random_moves: int = 0, recorded: Sequence[tuple[bool, bool]] | None = None,
               greedy: Sequence[tuple[bool, bool]] | None = None) -> tuple[GameRecord, SelfPlayStats, np.ndarray]:
    """Play one game per entry of ``sides`` at once, each side searching (with root noise) with its own MCTS.

    Args:
        game: the game.
        sides: per game, ``(search of player 0, search of player 1)``; the same ``MCTS`` twice is self-play (one
            tree serves both sides); two differ in a league game, and each side keeps its own tree.
        temperature_moves: moves sampled from the visit counts at the start of a game; greedy after.
        rng: move sampling (search noise comes from each MCTS's own generator).
        random_moves: leading moves drawn uniformly from the legal ones (still searched and recorded).
        recorded: per game, whether player 0's and player 1's positions become training targets (default all).
        greedy: per game, whether player 0 and player 1 play their most visited move from the first move on (no
            temperature, no random opening moves): a frozen opponent playing as it is evaluated (default none).

    Returns:
        The recorded positions with their targets, statistics over every game, and the results
        float32 ``[G, 2]`` (``returns()`` of each game).
    """
    t0 = time.perf_counter()
    num_games = len(sides)
    # trees[i]: one root per distinct search of game i (keyed by id), all at the game's current position.
    trees: list[dict[int, Node]] = []
    for m0, m1 in sides:
        start = game.new_initial_state()
        trees.append({id(m): m.new_root(start) for m in (m0, m1)})
    searches = {id(m): m for pair in sides for m in pair}
    keep = recorded if recorded is not None else [(True, True)] * num_games
    frozen = greedy if greedy is not None else [(False, False)] * num_games
    trajectories: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]] = [[] for _ in range(num_games)]
    results = np.zeros((num_games, 2), np.float32)
    lengths = np.zeros(num_games, np.int64)  # moves per game (trajectories may hold one side's only)
    active = list(range(num_games))
    while active:
        movers = {i: sides[i][next(iter(trees[i].values())).state.current_player()] for i in active}
        groups: dict[int, list[int]] = {}  # one batched search per distinct MCTS, in order of first appearance
        for i in active:
            groups.setdefault(id(movers[i]), []).append(i)
        for key, idx in groups.items():
            searches[key].search([trees[i][key] for i in idx], add_noise=True)
        still = []
        for i in active:
            mcts = movers[i]
            root = trees[i][id(mcts)]
            state = root.state
            target = mcts.policy(root, 1.0)  # [A] visit distribution: the training target pi
            who = state.current_player()
            if frozen[i][who]:
                action = sample_action(mcts.policy(root, 0.0), rng)
            elif state.move_number() < random_moves:
                action = int(rng.choice(np.flatnonzero(state.legal_mask())))
            else:
                late = state.move_number() >= temperature_moves
                action = sample_action(mcts.policy(root, 0.0) if late else target, rng)
            lengths[i] += 1
            if keep[i][who]:
                trajectories[i].append((state.observation(), state.legal_mask(), target, who))
            for key in trees[i]:
                trees[i][key] = searches[key].advance(trees[i][key], action)
            after = trees[i][id(mcts)].state
            if after.is_terminal():
                results[i] = after.returns()
            else:
                still.append(i)
        active = still
    obs, legal, pi, z, player = [], [], [], [], []
    for i, traj in enumerate(trajectories):
        for o, m, p, who in traj:
            obs.append(o)
            legal.append(m)
            pi.append(p)
            z.append(results[i, who])
            player.append(who)
    shape, actions = game.obs_shape, game.num_actions  # a league learner may have no recorded position
    record = GameRecord(np.stack(obs).astype(np.float32) if obs else np.zeros((0, *shape), np.float32),
                        np.stack(legal) if legal else np.zeros((0, actions), bool),
                        np.stack(pi).astype(np.float32) if pi else np.zeros((0, actions), np.float32),
                        np.asarray(z, np.float32), np.asarray(player, np.int8))
    stats = SelfPlayStats(num_games, len(record), float(np.mean(lengths)), float(results[:, 0].mean()),
                          time.perf_counter() - t0)
    return record, stats, results


def augment(game: Game, rec: GameRecord) -> GameRecord:
    """Every symmetric copy of every position; the legal mask is transformed like the policy."""
    obs, legal, pi, z, player = [], [], [], [], []
    for k in range(len(rec)):
        pairs = game.symmetries(rec.obs[k], rec.policy[k])
        masks = game.symmetries(rec.obs[k], rec.legal_mask[k].astype(np.float32))
        for (o, p), (_, m) in zip(pairs, masks, strict=True):
            obs.append(o)
            pi.append(p)
            legal.append(m > 0.5)
            z.append(rec.value[k])
            player.append(rec.player[k])
    return GameRecord(np.stack(obs).astype(np.float32), np.stack(legal), np.stack(pi).astype(np.float32),
                      np.asarray(z, np.float32), np.asarray(player, np.int8))


def train_on_window(learner: AlphaZeroLearner, buffer: PositionBuffer, steps: int, batch_size: int,
                    rng: np.random.Generator) -> dict[str, float]:
    """``steps`` gradient steps on minibatches drawn uniformly from ``buffer``: each metric's mean over the steps
    (none for 0 steps) and ``train_s``."""
    t0 = time.perf_counter()
    outs = [learner.step(buffer.sample(batch_size, rng)) for _ in range(steps)]
    metrics = {key: float(np.mean([o.metrics[key] for o in outs])) for key in (outs[0].metrics if outs else ())}
    metrics["train_s"] = time.perf_counter() - t0
    return metrics


def network_player(game: Game, net: PolicyValueNet, simulations: int, seed: int, name: str) -> MCTSPlayer:
    """A greedy (temperature 0, no noise) MCTS player on a frozen copy of ``net``."""
    frozen = copy.deepcopy(net).eval()
    return MCTSPlayer(game, simulations, NetworkEvaluator(frozen), seed, name=name)


def anchor_elo(game: Game, net: PolicyValueNet, run: SelfPlayRunConfig, simulations: int, iteration: int,
               games: int, anchor_results: dict[str, list[int]], grown: Sequence[str] = ()) -> dict[str, Any]:
    """Play ``net`` (greedy MCTS, ``simulations`` per move) against every anchor of ``run`` and every ``grown``
    one, both colours, and fit Elo with anchors[0] = 0: ``anchor_elo_of`` for an AlphaZero network."""
    return anchor_elo_of(game, lambda seed: network_player(game, net, simulations, seed, "alphazero"), run,
                         iteration, games, anchor_results, grown)


def anchor_elo_of(game: Game, make_me: Callable[[int], Player], run: SelfPlayRunConfig, iteration: int, games: int,
                  anchor_results: dict[str, list[int]], grown: Sequence[str] = ()) -> dict[str, Any]:
    """Play the player ``make_me(seed)`` builds against every anchor of ``run`` and every ``grown`` one
    (``runners.selfplay.anchors``), both colours, and fit Elo with anchors[0] = 0: the entry of an Elo curve at
    ``iteration`` (``games`` played so far).

    ``anchor_results`` ("a|b" -> [wins, draws, losses] of a as first player) caches the anchors' games with each
    other, played once per run, so their ratings are fixed; it is filled here and travels in checkpoints.
    ``MatchStopped`` when a signal arrives during the games.
    """
    seed = run.seed * 7_919 + iteration
    names_now = [*run.anchors, *grown]  # grown ones last: the fixed anchors keep their seeds
    anchors: dict[str, Player] = {a: make_player(a, game, seed + k) for k, a in enumerate(names_now)}

    def match(first: Player, second: Player, n: int, match_seed: int) -> tuple[int, int, int]:
        return play_match(game, first, second, n, match_seed, stop=signals.stop_requested)

    for i, a in enumerate(names_now):
        for b in names_now[i + 1:]:
            if f"{a}|{b}" not in anchor_results:
                ab = match(anchors[a], anchors[b], run.eval_games // 2, seed + 101)
                ba = match(anchors[b], anchors[a], run.eval_games - run.eval_games // 2, seed + 102)
                anchor_results[f"{a}|{b}"], anchor_results[f"{b}|{a}"] = list(ab), list(ba)
    me = make_me(seed + 103)
    vs: dict[str, list[int]] = {}
    for k, (name, bot) in enumerate(anchors.items()):
        first = match(me, bot, run.eval_games // 2, seed + 200 + k)
        second = match(bot, me, run.eval_games - run.eval_games // 2, seed + 300 + k)
        vs[name] = [first[0] + second[2], first[1] + second[1], first[2] + second[0]]  # W, D, L of alphazero
    names = [*names_now, "alphazero"]
    wins = np.zeros((len(names), len(names)))  # wins[i, j]: points (win 1, draw 1/2) of i against j
    played = np.zeros_like(wins)
    for key, (w, d, lo) in anchor_results.items():
        a, b = key.split("|")
        if a not in names or b not in names:  # an anchor dropped from --selfplay.anchors on resume
            continue
        i, j = names.index(a), names.index(b)
        wins[i, j] += w + 0.5 * d
        wins[j, i] += lo + 0.5 * d
        played[i, j] += w + d + lo
        played[j, i] += w + d + lo
    me_i = len(names) - 1
    for name, (w, d, lo) in vs.items():
        j = names.index(name)
        wins[me_i, j] += w + 0.5 * d
        wins[j, me_i] += lo + 0.5 * d
        played[me_i, j] += w + d + lo
        played[j, me_i] += w + d + lo
    ratings, ci = fit_elo(names, wins, played, anchor=run.anchors[0])
    return {"iteration": iteration, "games": games, "elo": float(ratings["alphazero"]),
            "elo_ci95": float(ci["alphazero"]), "vs": vs, "anchor_elo": {a: float(ratings[a]) for a in names_now}}


class SelfPlayTrainer:
    """Holds everything a self-play run needs; ``iterate`` does one iteration, ``state_dict`` resumes it."""

    def __init__(self, cfg: SelfPlayConfig) -> None:
        s = cfg.selfplay
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)
        self.cfg = cfg
        self.game = make_game(cfg.game)
        torch.manual_seed(s.seed)
        self.net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        self.learner = AlphaZeroLearner(self.net, cfg.agent)
        self.best = copy.deepcopy(self.net).eval() if s.gating else None
        self.rng = np.random.default_rng(s.seed)
        self.evaluator = NetworkEvaluator(self.best if self.best is not None else self.net)
        self.mcts = MCTS(cfg.mcts, self.evaluator, self.rng)
        self.buffer = PositionBuffer(s.replay_window, self.game.obs_shape, self.game.num_actions)
        self.iteration = 0
        self.games = 0
        self.elo_history: list[dict[str, Any]] = []
        self.anchor_results: dict[str, list[int]] = {}  # "a|b" -> [wins, draws, losses] of a as first player
        self.grown_anchors: list[str] = []  # rungs of --selfplay.grow-anchors added so far, weakest first

    # --- one iteration ----------------------------------------------------------------------------
    def iterate(self) -> dict[str, float]:
        s = self.cfg.selfplay
        record, stats = play_selfplay_games(self.game, self.mcts, s.games_per_iteration, s.temperature_moves,
                                            self.rng, s.random_opening_moves)
        self.buffer.add(augment(self.game, record) if s.augment else record)
        self.games += stats.games
        metrics: dict[str, float] = {"games": float(self.games), "positions": float(self.buffer.added),
                                     "positions_per_s": stats.positions / max(stats.seconds, 1e-9),
                                     "game_length": stats.mean_length, "first_player_score": stats.first_player_score,
                                     "selfplay_s": stats.seconds}
        if len(self.buffer) >= s.min_positions:
            metrics.update(train_on_window(self.learner, self.buffer, s.train_steps_per_iteration,
                                           self.cfg.agent.batch_size, self.rng))
            if self.best is None:
                self.evaluator.clear_cache()  # the weights changed: cached evaluations are stale
            else:
                metrics["gate_score"] = self.gate()
        self.iteration += 1
        metrics["iteration"] = float(self.iteration)
        return metrics

    def gate(self) -> float:
        """Candidate vs best; the candidate replaces the best when it scores at least gate_win_rate."""
        assert self.best is not None
        s = self.cfg.selfplay
        sims = s.eval_simulations or self.cfg.mcts.num_simulations
        seed = int(self.rng.integers(2**31))
        cand = network_player(self.game, self.net, sims, seed, "candidate")
        best = network_player(self.game, self.best, sims, seed + 1, "best")
        w1, d1, l1 = play_match(self.game, cand, best, s.gate_games // 2, seed + 2)
        l2, d2, w2 = play_match(self.game, best, cand, s.gate_games - s.gate_games // 2, seed + 3)
        score = (w1 + w2 + 0.5 * (d1 + d2)) / max(s.gate_games, 1)
        if score >= s.gate_win_rate:
            self.best.load_state_dict(self.net.state_dict())
            self.evaluator.clear_cache()
        return score

    # --- Elo against fixed anchors ----------------------------------------------------------------
    def evaluate(self) -> dict[str, Any] | None:
        """Play the current network against every anchor (both colours) and fit Elo with anchors[0] = 0.

        None when a signal arrived during the games (they stop at the next turn; nothing is recorded)."""
        try:
            return self._evaluate()
        except MatchStopped:
            return None

    def _evaluate(self) -> dict[str, Any]:
        s = self.cfg.selfplay
        entry = anchor_elo(self.game, self.net, s, s.eval_simulations or self.cfg.mcts.num_simulations,
                           self.iteration, self.games, self.anchor_results, self.grown_anchors)
        grow(s, [entry], self.grown_anchors)  # a rung it earned plays from the next evaluation on
        self.elo_history.append(entry)
        return entry

    # --- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "games": self.games, "learner": self.learner.state_dict(),
                "best": self.best.state_dict() if self.best is not None else None,
                "rng": self.rng.bit_generator.state, "buffer": self.buffer.state_dict(),
                "elo_history": self.elo_history, "anchor_results": self.anchor_results,
                "grown_anchors": self.grown_anchors, "game": self.game.name, "obs_shape": list(self.game.obs_shape),
                "num_actions": self.game.num_actions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration, self.games = int(state["iteration"]), int(state["games"])
        self.learner.load_state_dict(state["learner"])
        if self.best is not None and state["best"] is not None:
            self.best.load_state_dict(state["best"])
        self.rng.bit_generator.state = state["rng"]
        self.buffer.load_state_dict(state["buffer"])
        self.elo_history = list(state["elo_history"])
        self.anchor_results = {k: list(v) for k, v in state["anchor_results"].items()}
        self.grown_anchors = [str(a) for a in state.get("grown_anchors", [])]  # absent before anchors grew
        self.evaluator.clear_cache()
