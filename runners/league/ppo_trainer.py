"""A PPO league in one process (``--league.agent ppo``): AlphaStar's roles and PFSP over masked-PPO learners.

The same league as ``runners.league.trainer`` (roles, PFSP, pool of frozen snapshots, payoff matrix, snapshots and
resets, anchor Elo, exact resume) with policy-gradient learners in place of AlphaZero ones: each learner is a
``PPOGameLearner`` (``agents.ppo.games``), an actor-critic with any feed-forward torso whose policy is masked to
the legal moves. One iteration: each learner in turn asks its role for an opponent, plays
``games_per_iteration`` games against it (half with each colour; both sides sample their policies), records
only its own moves with the game result as the reward of its last move (against itself: both seats' moves),
and takes one PPO update on them. A role's "step" is a PPO minibatch step.

Opponents are PPO networks: a current learner or a frozen snapshot, loaded into one scratch network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActorCritic
from agents.bots.base import Player
from agents.ppo.games import GamePolicy, PPOGameLearner, PPOPlayer, build_game_network
from envs.games import make_game
from runners.families.league import LeagueConfig
from runners.league.payoff import PayoffMatrix
from runners.league.roles import LeagueExploiter, MainAgent, MainExploiter, Roster
from runners.league.trainer import LeagueTrainer, Weights, build_roles, clone_weights
from runners.selfplay.anchors import grow
from runners.selfplay.match import MatchStopped
from runners.selfplay.trainer import anchor_elo_of


@dataclass(eq=False)
class PPOLeagueLearner:
    """One PPO learner of the league and everything it owns."""

    name: str
    role: MainAgent | MainExploiter | LeagueExploiter
    agent: PPOGameLearner
    initial: Weights
    """The weights it was built with: a reset returns to them."""
    steps: int = 0
    """PPO minibatch steps ever taken (the roles' clock; kept across resets)."""
    games: int = 0

    @property
    def net(self) -> ActorCritic:
        return self.agent.network


def _seed(base: int, *keys: int) -> int:
    """A 31-bit seed derived from ``base`` and ``keys`` (one stream per learner and purpose)."""
    return int(np.random.SeedSequence([base, *keys]).generate_state(1)[0] >> 1)


class PPOLeagueTrainer:
    """PPO learners, the pool of snapshots and the payoff matrix; the same surface as ``LeagueTrainer``."""

    def __init__(self, cfg: LeagueConfig) -> None:
        s = cfg.selfplay
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)
        self.cfg = cfg
        self.game = make_game(cfg.game)
        self.rng = np.random.default_rng(s.seed)  # opponent choice and resets: the roles' stream
        torch.manual_seed(s.seed)  # every network's initial weights, built in the order below
        self.payoff = PayoffMatrix()
        self.learners = [self._learner(role, k) for k, role in enumerate(build_roles(cfg.league))]
        self.by_name = {learner.name: learner for learner in self.learners}
        # The opponent's side: one scratch network whose weights are loaded for each learner's games.
        self.opponent = GamePolicy(build_game_network(self.game, cfg.net, cfg.torso).eval(), _seed(s.seed, 999))
        self.pool: dict[str, Weights] = {}  # snapshot name ("main0@20") -> frozen weights
        self.parents: list[tuple[str, str]] = []  # (snapshot, learner it froze), oldest first
        self.iteration = 0
        self.games = 0
        self.elo_history: list[dict[str, Any]] = []
        self.anchor_results: dict[str, list[int]] = {}
        self.grown_anchors: list[str] = []  # rungs of --selfplay.grow-anchors added so far (runners.selfplay.anchors)

    def _learner(self, role: MainAgent | MainExploiter | LeagueExploiter, k: int) -> PPOLeagueLearner:
        cfg = self.cfg
        agent = PPOGameLearner(self.game, cfg.net, cfg.torso, cfg.ppo, total_updates=cfg.selfplay.iterations,
                               seed=_seed(cfg.selfplay.seed, k))
        self.payoff.add_player(role.name)
        return PPOLeagueLearner(role.name, role, agent, clone_weights(agent.network))

    @property
    def roster(self) -> Roster:
        names = {kind: tuple(x.name for x in self.learners if x.role.kind == kind)
                 for kind in ("main_agent", "main_exploiter", "league_exploiter")}
        return Roster(names["main_agent"], names["main_exploiter"], names["league_exploiter"], tuple(self.parents))

    @property
    def main_agents(self) -> list[PPOLeagueLearner]:
        return [x for x in self.learners if x.role.kind == "main_agent"]

    # One iteration and a snapshot are LeagueTrainer's own code, run on this trainer (they only read names, roles,
    # steps and ``net``, and call back ``play_and_train``, ``snapshot`` and ``reset``), so the two leagues keep
    # one set of rules.
    def iterate(self) -> list[dict[str, Any]]:
        """Every learner plays its opponent and takes a PPO update; then snapshots and resets. One row each."""
        return LeagueTrainer.iterate(self)  # type: ignore[arg-type]

    def snapshot(self, learner: PPOLeagueLearner) -> str:
        """Freeze ``learner``'s current weights into the pool as ``NAME@ITERATION``; returns that name."""
        return LeagueTrainer.snapshot(self, learner)  # type: ignore[arg-type]

    def league_elo(self) -> dict[str, list[float]]:
        """Every player's Elo ``[rating, 95% half-width]`` over the payoff matrix, the first main agent at 0."""
        return LeagueTrainer.league_elo(self)  # type: ignore[arg-type]

    def play_and_train(self, learner: PPOLeagueLearner, opponent: str) -> dict[str, Any]:
        """``learner``'s games against ``opponent`` (half as each colour; itself: self-play), then one update."""
        n = self.cfg.selfplay.games_per_iteration
        t0 = time.perf_counter()
        if opponent == learner.name:
            seats = [0] * n  # self-play: both seats are the learner; W/D/L are the first player's
            played = learner.agent.play_against(None, seats)
        else:
            self.opponent.network.load_state_dict(self.pool[opponent] if opponent in self.pool
                                                  else self.by_name[opponent].net.state_dict())
            seats = [0] * (n - n // 2) + [1] * (n // 2)
            played = learner.agent.play_against(self.opponent, seats)
        seconds = time.perf_counter() - t0
        score = played.results[np.arange(n), seats]  # [n] the learner's result in each game
        wins, draws, losses = int((score > 0).sum()), int((score == 0).sum()), int((score < 0).sum())
        self.payoff.record(learner.name, opponent, wins, draws, losses)  # a game against itself is ignored
        learner.games += n
        self.games += n
        metrics = learner.agent.train(played).metrics
        learner.steps += int(metrics["minibatch_updates"])
        keep = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_variance")
        return {"games": n, "wins": wins, "draws": draws, "losses": losses,
                "positions": int(played.rollout.mask.sum()), "game_length": float(played.lengths.mean()),
                "positions_per_s": float(played.lengths.sum()) / max(seconds, 1e-9), "selfplay_s": seconds,
                **{k: metrics[k] for k in keep if k in metrics}}

    def reset(self, learner: PPOLeagueLearner) -> None:
        """Back to the initial weights with a fresh optimiser (its update count restarts the annealing)."""
        learner.net.load_state_dict(learner.initial)
        learner.agent.fresh_optimizer()

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> list[dict[str, Any]] | None:
        """Every main agent (greedy: its most likely legal move) against the anchors; None when a signal stopped
        the games."""
        s = self.cfg.selfplay
        def player(m: PPOLeagueLearner) -> Callable[[int], Player]:
            return lambda seed: PPOPlayer(m.net, seed, greedy=True, name=m.name)

        try:
            entries = [{"player": m.name, **anchor_elo_of(self.game, player(m), s, self.iteration, self.games,
                                                          self.anchor_results, self.grown_anchors)}
                       for m in self.main_agents]
        except MatchStopped:
            return None
        finally:
            for m in self.main_agents:
                m.net.train()  # PPOPlayer put it in eval mode; the torsos used here have no train-only layers
        self.elo_history.extend(entries)
        grow(s, entries, self.grown_anchors)  # the best main agent earns the next rung for every main agent
        return entries

    # --- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain types, tensors and numpy arrays only (``weights_only`` checkpoints)."""
        learners = [{"name": x.name, "role": x.role.state_dict(), "agent": x.agent.state_dict(), "steps": x.steps,
                     "games": x.games} for x in self.learners]
        return {"agent": "ppo", "iteration": self.iteration, "games": self.games, "learners": learners,
                "pool": [[name, weights] for name, weights in self.pool.items()],
                "parents": [list(p) for p in self.parents], "payoff": self.payoff.state_dict(),
                "rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "opponent_generator": self.opponent.generator.get_state(),
                "elo_history": self.elo_history, "anchor_results": self.anchor_results,
                "grown_anchors": self.grown_anchors,
                "game": self.game.name, "obs_shape": list(self.game.obs_shape), "num_actions": self.game.num_actions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("agent") != "ppo":
            raise ValueError("the checkpoint holds an AlphaZero league, not a PPO one")
        saved = [x["name"] for x in state["learners"]]
        if saved != [x.name for x in self.learners]:
            raise ValueError(f"the checkpoint's learners are {saved}, this league's {[x.name for x in self.learners]}")
        self.iteration, self.games = int(state["iteration"]), int(state["games"])
        for learner, st in zip(self.learners, state["learners"], strict=True):
            learner.role.load_state_dict(st["role"])
            learner.agent.load_state_dict(st["agent"])
            learner.steps, learner.games = int(st["steps"]), int(st["games"])
        self.pool = {str(name): dict(weights) for name, weights in state["pool"]}
        self.parents = [(str(a), str(b)) for a, b in state["parents"]]
        self.payoff.load_state_dict(state["payoff"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.opponent.generator.set_state(state["opponent_generator"])
        self.elo_history = list(state["elo_history"])
        self.anchor_results = {k: list(v) for k, v in state["anchor_results"].items()}
        self.grown_anchors = [str(a) for a in state.get("grown_anchors", [])]


AnyLeagueTrainer = LeagueTrainer | PPOLeagueTrainer


def make_league_trainer(cfg: LeagueConfig) -> AnyLeagueTrainer:
    """The trainer of ``cfg.league.agent``: ``LeagueTrainer`` (alphazero) or ``PPOLeagueTrainer`` (ppo)."""
    return PPOLeagueTrainer(cfg) if cfg.league.agent == "ppo" else LeagueTrainer(cfg)
