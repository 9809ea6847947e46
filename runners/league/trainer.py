"""An AlphaZero league in one process: AlphaStar's roles and PFSP (Vinyals et al. 2019) over AlphaZero learners.

Each learner (main agent, main exploiter, league exploiter) has its own policy-value network, optimiser,
window of positions and role (``runners.league.roles``). One ``iterate()``: each learner in turn asks its role
for an opponent (itself for self-play, a current learner, or a frozen snapshot of the pool by PFSP), plays
``games_per_iteration`` games against it (half as each colour), each side searching with its own network,
records the results in the payoff matrix, and trains on its window as self-play does. Only the learner's own
positions become targets: the opponent's moves come from another policy, and its visit counts would teach
the learner that policy. Against itself both sides are the learner, so every position counts.

Every ``snapshot_every`` iterations every learner adds a frozen copy of its network to the pool; an exploiter
also does when its role's snapshot rule fires (it beats its targets, or its step budget ran out). At each
snapshot the role decides whether the learner resets to its initial weights (main exploiters always, league
exploiters with probability 0.25, main agents never); a reset also gives it a fresh optimiser and window.

Deviations from AlphaStar: learners take turns in one process instead of running concurrently (exactly
reproducible and resumable); a "step" of the roles' rules is a gradient step; periodic snapshots of every
learner stand in for the main agents' own snapshot rule. The search, game playing, augmentation, training
step and anchor Elo are self-play's (``runners.selfplay.trainer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.alphazero.agent import AlphaZeroLearner
from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS
from agents.alphazero.network import PolicyValueNet, build_policy_value_net
from envs.games import make_game
from replay.positions import PositionBuffer
from runners.families.league import LeagueConfig, LeagueOptions
from runners.league.payoff import PayoffMatrix
from runners.league.roles import (
    LeagueExploiter,
    LeagueExploiterConfig,
    MainAgent,
    MainAgentConfig,
    MainExploiter,
    MainExploiterConfig,
    Roster,
    SnapshotRule,
)
from runners.selfplay.anchors import grow
from runners.selfplay.match import MatchStopped
from runners.selfplay.trainer import anchor_elo, augment, play_games, train_on_window

Weights = dict[str, torch.Tensor]


@dataclass(eq=False)
class LeagueLearner:
    """One learner of the league and everything it owns."""

    name: str
    role: MainAgent | MainExploiter | LeagueExploiter
    net: PolicyValueNet
    learner: AlphaZeroLearner
    buffer: PositionBuffer
    evaluator: NetworkEvaluator
    mcts: MCTS
    initial: Weights
    """The weights it was built with: a reset returns to them."""
    steps: int = 0
    """Gradient steps ever taken (the roles' clock; kept across resets)."""
    games: int = 0


def clone_weights(net: torch.nn.Module) -> Weights:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def build_roles(lg: LeagueOptions) -> list[MainAgent | MainExploiter | LeagueExploiter]:
    """The league's roles in learner order (main agents, main exploiters, league exploiters), from ``lg``."""
    rule = SnapshotRule(win_rate=lg.exploiter_win_rate, min_steps=lg.exploiter_min_steps,
                        max_steps=lg.exploiter_max_steps)
    return [
        *(MainAgent(f"main{k}", MainAgentConfig(
            pfsp=lg.main_pfsp, exploiters=lg.main_vs_exploiters, selfplay=lg.main_selfplay,
            weighting=lg.weighting, p=lg.p, selfplay_min_win_rate=lg.selfplay_min_win_rate,
            exploiter_threshold=lg.exploiter_threshold, forgetting_threshold=lg.forgetting_threshold))
          for k in range(lg.main_agents)),
        *(MainExploiter(f"main_exploiter{k}", MainExploiterConfig(snapshot=rule,
                                                                  curriculum_below=lg.curriculum_below))
          for k in range(lg.main_exploiters)),
        *(LeagueExploiter(f"league_exploiter{k}", LeagueExploiterConfig(
            snapshot=rule, p=lg.league_exploiter_p, reset_probability=lg.reset_probability))
          for k in range(lg.league_exploiters))]


class LeagueTrainer:
    """Learners, the pool of snapshots and the payoff matrix; ``iterate`` does one iteration, ``state_dict``
    resumes it."""

    def __init__(self, cfg: LeagueConfig) -> None:
        s, lg = cfg.selfplay, cfg.league
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)
        self.cfg = cfg
        self.game = make_game(cfg.game)
        self.rng = np.random.default_rng(s.seed)  # opponents, search noise, moves, minibatches: one stream
        torch.manual_seed(s.seed)  # every network's initial weights, built in the order below
        roles = build_roles(lg)
        self.payoff = PayoffMatrix()
        self.learners = [self._learner(role) for role in roles]
        self.by_name = {learner.name: learner for learner in self.learners}
        # The opponent's side: one scratch network whose weights are loaded for each learner's games.
        self.opponent_net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        self.opponent_evaluator = NetworkEvaluator(self.opponent_net)
        self.opponent_mcts = MCTS(cfg.mcts, self.opponent_evaluator, self.rng)
        self.pool: dict[str, Weights] = {}  # snapshot name ("main0@20") -> frozen weights
        self.parents: list[tuple[str, str]] = []  # (snapshot, learner it froze), oldest first
        self.iteration = 0
        self.games = 0
        self.elo_history: list[dict[str, Any]] = []  # anchor Elo entries of the main agents ("player" names which)
        self.anchor_results: dict[str, list[int]] = {}
        self.grown_anchors: list[str] = []  # rungs of --selfplay.grow-anchors added so far (runners.selfplay.anchors)

    def _learner(self, role: MainAgent | MainExploiter | LeagueExploiter) -> LeagueLearner:
        cfg = self.cfg
        net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        evaluator = NetworkEvaluator(net)
        self.payoff.add_player(role.name)
        return LeagueLearner(role.name, role, net, AlphaZeroLearner(net, cfg.agent), self._buffer(), evaluator,
                             MCTS(cfg.mcts, evaluator, self.rng), clone_weights(net))

    def _buffer(self) -> PositionBuffer:
        return PositionBuffer(self.cfg.selfplay.replay_window, self.game.obs_shape, self.game.num_actions)

    @property
    def roster(self) -> Roster:
        names = {kind: tuple(x.name for x in self.learners if x.role.kind == kind)
                 for kind in ("main_agent", "main_exploiter", "league_exploiter")}
        return Roster(names["main_agent"], names["main_exploiter"], names["league_exploiter"], tuple(self.parents))

    @property
    def main_agents(self) -> list[LeagueLearner]:
        return [x for x in self.learners if x.role.kind == "main_agent"]

    # --- one iteration ----------------------------------------------------------------------------
    def iterate(self) -> list[dict[str, Any]]:
        """Every learner plays its opponent and trains; then snapshots and resets. One row per learner."""
        rows = []
        for learner in self.learners:
            choice = learner.role.choose_opponent(self.rng, self.roster, self.payoff)
            rows.append({"learner": learner.name, "role": learner.role.kind, "opponent": choice.opponent,
                         "branch": choice.branch, **self.play_and_train(learner, choice.opponent)})
        self.iteration += 1
        periodic = self.iteration % self.cfg.league.snapshot_every == 0
        for learner, row in zip(self.learners, rows, strict=True):
            early = learner.role.kind != "main_agent" and learner.role.ready_to_snapshot(learner.steps, self.roster,
                                                                                          self.payoff)
            if periodic or early:
                row["snapshot"] = self.snapshot(learner)
                row["reset"] = learner.role.on_snapshot(learner.steps, self.rng)
                if row["reset"]:
                    self.reset(learner)
        return rows

    def play_and_train(self, learner: LeagueLearner, opponent: str, opponent_search: MCTS | None = None
                       ) -> dict[str, Any]:
        """``learner``'s games against ``opponent`` (half as each colour), then its training steps.

        ``opponent_search``: an opponent from outside the league (``arena exploit``'s frozen target, registered
        in the payoff matrix as ``opponent``) searching with its own network and settings; it plays greedily
        (no temperature, no random openings; its settings decide its root noise), as it is evaluated.
        """
        s = self.cfg.selfplay
        n = s.games_per_iteration
        learner.evaluator.clear_cache()  # evaluations cached in an earlier iteration: resumed runs start without
        if opponent == learner.name:
            seats = [0] * n  # self-play: both seats are the learner; W/D/L are the first player's
            record, stats, results = play_games(self.game, [(learner.mcts, learner.mcts)] * n, s.temperature_moves,
                                                self.rng, s.random_opening_moves)
        else:
            if opponent_search is None:
                self.opponent_evaluator.load_weights(self.pool[opponent] if opponent in self.pool
                                                     else self.by_name[opponent].net.state_dict())
            seats = [0] * (n - n // 2) + [1] * (n // 2)
            mine, theirs = learner.mcts, opponent_search or self.opponent_mcts
            sides = [(mine, theirs) if seat == 0 else (theirs, mine) for seat in seats]
            frozen = [(seat == 1, seat == 0) if opponent_search is not None else (False, False) for seat in seats]
            record, stats, results = play_games(self.game, sides, s.temperature_moves, self.rng,
                                                s.random_opening_moves, [(seat == 0, seat == 1) for seat in seats],
                                                frozen)
        score = results[np.arange(n), seats]  # [n] the learner's result in each game
        wins, draws, losses = int((score > 0).sum()), int((score == 0).sum()), int((score < 0).sum())
        self.payoff.record(learner.name, opponent, wins, draws, losses)  # a game against itself is ignored
        if len(record):
            learner.buffer.add(augment(self.game, record) if s.augment else record)
        learner.games += n
        self.games += n
        row: dict[str, Any] = {"games": n, "wins": wins, "draws": draws, "losses": losses,
                               "positions": len(record), "game_length": stats.mean_length,
                               "positions_per_s": stats.positions / max(stats.seconds, 1e-9),
                               "selfplay_s": stats.seconds}
        if len(learner.buffer) >= s.min_positions and s.train_steps_per_iteration > 0:
            row.update(train_on_window(learner.learner, learner.buffer, s.train_steps_per_iteration,
                                       self.cfg.agent.batch_size, self.rng))
            learner.steps += s.train_steps_per_iteration
            learner.evaluator.clear_cache()  # the weights changed: cached evaluations are stale
        return row

    def snapshot(self, learner: LeagueLearner) -> str:
        """Freeze ``learner``'s current weights into the pool as ``NAME@ITERATION``; returns that name."""
        name = f"{learner.name}@{self.iteration}"
        self.pool[name] = clone_weights(learner.net)
        self.parents.append((name, learner.name))
        self.payoff.add_player(name)
        return name

    def reset(self, learner: LeagueLearner) -> None:
        """Back to the initial weights, with a fresh optimiser and an empty window (its positions' targets came
        from the policy it leaves)."""
        learner.net.load_state_dict(learner.initial)
        learner.learner = AlphaZeroLearner(learner.net, self.cfg.agent)
        learner.buffer = self._buffer()
        learner.evaluator.clear_cache()

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> list[dict[str, Any]] | None:
        """Every main agent against the anchors (self-play's Elo); None when a signal stopped the games."""
        s = self.cfg.selfplay
        sims = s.eval_simulations or self.cfg.mcts.num_simulations
        try:
            entries = [{"player": m.name, **anchor_elo(self.game, m.net, s, sims, self.iteration, self.games,
                                                       self.anchor_results, self.grown_anchors)}
                       for m in self.main_agents]
        except MatchStopped:
            return None
        grow(s, entries, self.grown_anchors)  # the best main agent earns the next rung for every main agent
        self.elo_history.extend(entries)
        return entries

    def league_elo(self) -> dict[str, list[float]]:
        """Every player's Elo ``[rating, 95% half-width]`` over the payoff matrix, the first main agent at 0."""
        fit = self.payoff.elo()
        return {n: [round(float(r), 1), round(float(c), 1)] for n, r, c in zip(fit.names, fit.ratings, fit.ci95,
                                                                              strict=True)}

    # --- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain types, tensors and numpy arrays only (``weights_only`` checkpoints)."""
        learners = [{"name": x.name, "role": x.role.state_dict(), "learner": x.learner.state_dict(),
                     "buffer": x.buffer.state_dict(), "steps": x.steps, "games": x.games} for x in self.learners]
        return {"iteration": self.iteration, "games": self.games, "learners": learners,
                "pool": [[name, weights] for name, weights in self.pool.items()],
                "parents": [list(p) for p in self.parents], "payoff": self.payoff.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "elo_history": self.elo_history, "anchor_results": self.anchor_results,
                "grown_anchors": self.grown_anchors,
                "game": self.game.name, "obs_shape": list(self.game.obs_shape), "num_actions": self.game.num_actions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = [x["name"] for x in state["learners"]]
        if saved != [x.name for x in self.learners]:
            raise ValueError(f"the checkpoint's learners are {saved}, this league's {[x.name for x in self.learners]}")
        self.iteration, self.games = int(state["iteration"]), int(state["games"])
        for learner, st in zip(self.learners, state["learners"], strict=True):
            learner.role.load_state_dict(st["role"])
            learner.learner = AlphaZeroLearner(learner.net, self.cfg.agent)  # a reset may have replaced it
            learner.learner.load_state_dict(st["learner"])
            learner.buffer = self._buffer()
            learner.buffer.load_state_dict(st["buffer"])
            learner.steps, learner.games = int(st["steps"]), int(st["games"])
            learner.evaluator.clear_cache()
        self.pool = {str(name): dict(weights) for name, weights in state["pool"]}
        self.parents = [(str(a), str(b)) for a, b in state["parents"]]
        self.payoff.load_state_dict(state["payoff"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.elo_history = list(state["elo_history"])
        self.anchor_results = {k: list(v) for k, v in state["anchor_results"].items()}
        self.grown_anchors = [str(a) for a in state.get("grown_anchors", [])]  # absent before anchors grew
        self.opponent_evaluator.clear_cache()
