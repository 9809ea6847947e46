"""What every league trainer shares, whatever its learners are: roles, pool, payoff matrix, snapshots, resume.

``LeagueBase`` holds the league's rules once: one ``iterate`` (each learner asks its role for an opponent, plays
and trains; then periodic and early snapshots, and the resets the roles ask for), the pool of frozen snapshots,
the payoff matrix, the league's Elo fit, the anchor evaluation of the main agents with growing anchors, and the
checkpoint state of all of it. A subclass says how its learners are built, play, train and reset
(``LeagueTrainer``: AlphaZero; ``PPOLeagueTrainer``: masked PPO) and what else its checkpoint holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import torch

from agents.bots.base import Player
from envs.games import make_game
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
from runners.selfplay.trainer import anchor_elo_of

Weights = dict[str, torch.Tensor]
Role = MainAgent | MainExploiter | LeagueExploiter


class Learner(Protocol):
    """What the league's rules read of a learner: its name, role, network and clocks."""

    name: str
    role: Role
    initial: Weights
    steps: int
    games: int

    @property
    def net(self) -> torch.nn.Module: ...


L = TypeVar("L", bound=Learner)


def clone_weights(net: torch.nn.Module) -> Weights:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def build_roles(lg: LeagueOptions) -> list[Role]:
    """The league's roles in learner order (main agents, main exploiters, league exploiters), from ``lg``."""
    rule = SnapshotRule(win_rate=lg.exploiter_win_rate, min_steps=lg.exploiter_min_steps,
                        max_steps=lg.exploiter_max_steps)
    return [
        *(MainAgent(f"main{k}", MainAgentConfig(
            pfsp=lg.main_pfsp, exploiters=lg.main_vs_exploiters, selfplay=lg.main_selfplay, fixed=lg.main_vs_fixed,
            weighting=lg.weighting, p=lg.p, selfplay_min_win_rate=lg.selfplay_min_win_rate,
            exploiter_threshold=lg.exploiter_threshold, forgetting_threshold=lg.forgetting_threshold))
          for k in range(lg.main_agents)),
        *(MainExploiter(f"main_exploiter{k}", MainExploiterConfig(snapshot=rule,
                                                                  curriculum_below=lg.curriculum_below))
          for k in range(lg.main_exploiters)),
        *(LeagueExploiter(f"league_exploiter{k}", LeagueExploiterConfig(
            snapshot=rule, p=lg.league_exploiter_p, reset_probability=lg.reset_probability))
          for k in range(lg.league_exploiters))]


class LeagueBase(ABC, Generic[L]):
    """Learners, the pool of snapshots and the payoff matrix; ``iterate`` does one iteration, ``state_dict``
    resumes it. Subclasses build, play, train and reset their kind of learner."""

    agent_kind: str
    """``--league.agent`` of this trainer; checkpoints record it (absent: alphazero, the first kind)."""

    def __init__(self, cfg: LeagueConfig) -> None:
        s = cfg.selfplay
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)
        self.cfg = cfg
        self.game = make_game(cfg.game)
        self.rng = np.random.default_rng(s.seed)  # the roles' stream (and the subclass's, where it says so)
        torch.manual_seed(s.seed)  # every network's initial weights, built in learner order, then the opponent's
        self.payoff = PayoffMatrix()
        self.learners: list[L] = []
        for k, role in enumerate(build_roles(cfg.league)):
            self.payoff.add_player(role.name)
            self.learners.append(self._build_learner(role, k))
        self.by_name = {learner.name: learner for learner in self.learners}
        self.fixed = tuple(cfg.league.fixed_opponents)  # bots: in the payoff matrix, never snapshotted or trained
        for spec in self.fixed:
            self.payoff.add_player(spec)
        self.pool: dict[str, Weights] = {}  # snapshot name ("main0@20") -> frozen weights
        self.parents: list[tuple[str, str]] = []  # (snapshot, learner it froze), oldest first
        self.iteration = 0
        self.games = 0
        self.elo_history: list[dict[str, Any]] = []  # anchor Elo entries of the main agents ("player" names which)
        self.anchor_results: dict[str, list[int]] = {}
        self.grown_anchors: list[str] = []  # rungs of --selfplay.grow-anchors added so far (runners.selfplay.anchors)

    # --- what a subclass provides -----------------------------------------------------------------
    @abstractmethod
    def _build_learner(self, role: Role, index: int) -> L:
        """The learner that plays ``role`` (the ``index``-th of the league)."""

    @abstractmethod
    def play_and_train(self, learner: L, opponent: str) -> dict[str, Any]:
        """``learner``'s games against ``opponent`` (a learner's or snapshot's name), recorded in the payoff
        matrix, then its training; the learner's row of the iteration's log."""

    @abstractmethod
    def reset(self, learner: L) -> None:
        """Back to the initial weights, with whatever else of the learner came from the policy it leaves."""

    @abstractmethod
    def _anchor_player(self, learner: L) -> Callable[[int], Player]:
        """A factory of ``learner`` as an evaluation player (its seed -> the player), as it is evaluated."""

    @abstractmethod
    def _learner_state(self, learner: L) -> dict[str, Any]:
        """The learner's own checkpoint state (its optimiser, window, ...), beyond name, role and clocks."""

    @abstractmethod
    def _load_learner_state(self, learner: L, state: dict[str, Any]) -> None: ...

    def _extra_state(self) -> dict[str, Any]:
        """Anything else of the trainer's own a checkpoint must hold."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore ``_extra_state``."""

    # --- who is in the league ---------------------------------------------------------------------
    @property
    def roster(self) -> Roster:
        names = {kind: tuple(x.name for x in self.learners if x.role.kind == kind)
                 for kind in ("main_agent", "main_exploiter", "league_exploiter")}
        return Roster(names["main_agent"], names["main_exploiter"], names["league_exploiter"], tuple(self.parents),
                      self.fixed)

    @property
    def main_agents(self) -> list[L]:
        return [x for x in self.learners if x.role.kind == "main_agent"]

    def opponent_weights(self, opponent: str) -> Weights:
        """The weights ``opponent`` plays with: a frozen snapshot's, or a current learner's."""
        return self.pool[opponent] if opponent in self.pool else self.by_name[opponent].net.state_dict()

    # --- one iteration ----------------------------------------------------------------------------
    def iterate(self) -> list[dict[str, Any]]:
        """Every learner plays its opponent and trains; then snapshots and resets. One row per learner."""
        rows = self.play_round()
        self.iteration += 1
        periodic = self.iteration % self.cfg.league.snapshot_every == 0
        for learner, row in zip(self.learners, rows, strict=True):
            role = learner.role
            early = role.kind != "main_agent" and role.ready_to_snapshot(learner.steps, self.roster, self.payoff)
            if periodic or early:
                row["snapshot"] = self.snapshot(learner)
                row["reset"] = role.on_snapshot(learner.steps, self.rng)
                if row["reset"]:
                    self.reset(learner)
        return rows

    def choose(self, learner: L) -> tuple[dict[str, Any], str]:
        """``learner``'s role picks its opponent: the head of its row and the opponent's name."""
        choice = learner.role.choose_opponent(self.rng, self.roster, self.payoff)
        return ({"learner": learner.name, "role": learner.role.kind, "opponent": choice.opponent,
                 "branch": choice.branch}, choice.opponent)

    def play_round(self) -> list[dict[str, Any]]:
        """Each learner in turn chooses, plays and trains: a later learner's choice sees the payoff of earlier
        learners' games of this iteration. (The Ray league chooses every opponent first and plays at once.)"""
        rows = []
        for learner in self.learners:
            head, opponent = self.choose(learner)
            rows.append({**head, **self.play_and_train(learner, opponent)})
        return rows

    def iteration_metrics(self) -> dict[str, float]:
        """Scalars of the runner itself for the iteration's row (the Ray league's workers); none in one process."""
        return {}

    def snapshot(self, learner: L) -> str:
        """Freeze ``learner``'s current weights into the pool as ``NAME@ITERATION``; returns that name."""
        name = f"{learner.name}@{self.iteration}"
        self.pool[name] = clone_weights(learner.net)
        self.parents.append((name, learner.name))
        self.payoff.add_player(name)
        return name

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> list[dict[str, Any]] | None:
        """Every main agent against the anchors (self-play's Elo); None when a signal stopped the games."""
        s = self.cfg.selfplay
        modes = [m.net.training for m in self.main_agents]  # players may switch a network to eval mode
        try:
            entries = [{"player": m.name, **anchor_elo_of(self.game, self._anchor_player(m), s, self.iteration,
                                                          self.games, self.anchor_results, self.grown_anchors)}
                       for m in self.main_agents]
        except MatchStopped:
            return None
        finally:
            for m, mode in zip(self.main_agents, modes, strict=True):
                m.net.train(mode)
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
        learners = [{"name": x.name, "role": x.role.state_dict(), **self._learner_state(x), "steps": x.steps,
                     "games": x.games} for x in self.learners]
        return {"agent": self.agent_kind, "iteration": self.iteration, "games": self.games, "learners": learners,
                "pool": [[name, weights] for name, weights in self.pool.items()],
                "parents": [list(p) for p in self.parents], "payoff": self.payoff.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "elo_history": self.elo_history, "anchor_results": self.anchor_results,
                "grown_anchors": self.grown_anchors, **self._extra_state(),
                "game": self.game.name, "obs_shape": list(self.game.obs_shape), "num_actions": self.game.num_actions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved_kind = state.get("agent", "alphazero")
        if saved_kind != self.agent_kind:
            raise ValueError(f"the checkpoint holds a {saved_kind} league, not a {self.agent_kind} one")
        saved = [x["name"] for x in state["learners"]]
        if saved != [x.name for x in self.learners]:
            raise ValueError(f"the checkpoint's learners are {saved}, this league's {[x.name for x in self.learners]}")
        self.iteration, self.games = int(state["iteration"]), int(state["games"])
        for learner, st in zip(self.learners, state["learners"], strict=True):
            learner.role.load_state_dict(st["role"])
            self._load_learner_state(learner, st)
            learner.steps, learner.games = int(st["steps"]), int(st["games"])
        self.pool = {str(name): dict(weights) for name, weights in state["pool"]}
        self.parents = [(str(a), str(b)) for a, b in state["parents"]]
        self.payoff.load_state_dict(state["payoff"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.elo_history = list(state["elo_history"])
        self.anchor_results = {k: list(v) for k, v in state["anchor_results"].items()}
        self.grown_anchors = [str(a) for a in state.get("grown_anchors", [])]  # absent before anchors grew
        self._load_extra_state(state)
