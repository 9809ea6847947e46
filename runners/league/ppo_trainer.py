"""A PPO league in one process (``--league.agent ppo``): AlphaStar's roles and PFSP over masked-PPO learners.

The same league as ``runners.league.trainer`` (roles, PFSP, pool of frozen snapshots, payoff matrix, snapshots and
resets, anchor Elo, exact resume) with policy-gradient learners in place of AlphaZero ones: each learner is a
``PPOGameLearner`` (``agents.ppo.games``), an actor-critic with any feed-forward torso whose policy is masked to
the legal moves. One iteration: each learner in turn asks its role for an opponent, plays
``games_per_iteration`` games against it (half with each colour; both sides sample their policies), records
only its own moves with the game result as the reward of its last move (against itself: both seats' moves),
and takes one PPO update on them. A role's "step" is a PPO minibatch step.

Opponents are PPO networks (a current learner or a frozen snapshot, loaded into one scratch network) or, with
``--league.fixed-opponents``, bots that never change (``random``, ``mcts:N``, ...), which the main agents play
``--league.main-vs-fixed`` of the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.actor_critic import ActorCritic
from agents.bots import make_player
from agents.bots.base import Player
from agents.ppo.games import GamePolicy, PPOGameLearner, PPOPlayer, build_game_network
from runners.families.league import LeagueConfig
from runners.league.base import LeagueBase, Role, Weights, clone_weights
from runners.league.trainer import LeagueTrainer

ROW_METRICS = ("loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_variance")
"""A PPO update's metrics a learner's row of the iteration keeps."""


@dataclass(eq=False)
class PPOLeagueLearner:
    """One PPO learner of the league and everything it owns."""

    name: str
    role: Role
    agent: PPOGameLearner
    initial: Weights
    """The weights it was built with: a reset returns to them."""
    steps: int = 0
    """PPO minibatch steps ever taken (the roles' clock; kept across resets)."""
    games: int = 0

    @property
    def net(self) -> ActorCritic:
        return self.agent.network


def stream_seed(base: int, *keys: int) -> int:
    """A 31-bit seed derived from ``base`` and ``keys`` (one stream per learner and purpose)."""
    return int(np.random.SeedSequence([base, *keys]).generate_state(1)[0] >> 1)


class PPOLeagueTrainer(LeagueBase[PPOLeagueLearner]):
    """PPO learners, the pool of snapshots and the payoff matrix. ``rng`` draws opponents and resets only; each
    learner samples its moves and minibatches from its own seeded stream, the opponent from another."""

    agent_kind = "ppo"

    def __init__(self, cfg: LeagueConfig) -> None:
        super().__init__(cfg)
        # The opponent's side: one scratch network whose weights are loaded for each learner's games.
        self.opponent = GamePolicy(build_game_network(self.game, cfg.net, cfg.torso).eval(),
                                   stream_seed(cfg.selfplay.seed, 999))

    def _build_learner(self, role: Role, index: int) -> PPOLeagueLearner:
        cfg = self.cfg
        agent = PPOGameLearner(self.game, cfg.net, cfg.torso, cfg.ppo, total_updates=cfg.selfplay.iterations,
                               seed=stream_seed(cfg.selfplay.seed, index))
        return PPOLeagueLearner(role.name, role, agent, clone_weights(agent.network))

    def play_and_train(self, learner: PPOLeagueLearner, opponent: str) -> dict[str, Any]:
        """``learner``'s games against ``opponent`` (half as each colour; itself: self-play), then one update."""
        n = self.cfg.selfplay.games_per_iteration
        t0 = time.perf_counter()
        if opponent == learner.name:
            seats = [0] * n  # self-play: both seats are the learner; W/D/L are the first player's
            played = learner.agent.play_against(None, seats)
        elif opponent in self.fixed:  # a bot: seeded by run, iteration and learner, so a resume replays it exactly
            seats = [0] * (n - n // 2) + [1] * (n // 2)
            bot = make_player(opponent, self.game, stream_seed(self.cfg.selfplay.seed, 2, self.iteration,
                                                               self.learners.index(learner)))
            played = learner.agent.play_against(bot, seats)
        else:
            self.opponent.network.load_state_dict(self.opponent_weights(opponent))
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
        return {"games": n, "wins": wins, "draws": draws, "losses": losses,
                "positions": int(played.rollout.mask.sum()), "game_length": float(played.lengths.mean()),
                "positions_per_s": float(played.lengths.sum()) / max(seconds, 1e-9), "selfplay_s": seconds,
                **{k: metrics[k] for k in ROW_METRICS if k in metrics}}

    def reset(self, learner: PPOLeagueLearner) -> None:
        """Back to the initial weights with a fresh optimiser (its update count restarts the annealing)."""
        learner.net.load_state_dict(learner.initial)
        learner.agent.fresh_optimizer()

    def _anchor_player(self, learner: PPOLeagueLearner) -> Callable[[int], Player]:
        """Greedy: the most likely legal move."""
        return lambda seed: PPOPlayer(learner.net, seed, greedy=True, name=learner.name)

    def _learner_state(self, learner: PPOLeagueLearner) -> dict[str, Any]:
        return {"agent": learner.agent.state_dict()}

    def _load_learner_state(self, learner: PPOLeagueLearner, state: dict[str, Any]) -> None:
        learner.agent.load_state_dict(state["agent"])

    def _extra_state(self) -> dict[str, Any]:
        return {"opponent_generator": self.opponent.generator.get_state()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.opponent.generator.set_state(state["opponent_generator"])


AnyLeagueTrainer = LeagueTrainer | PPOLeagueTrainer


def make_league_trainer(cfg: LeagueConfig) -> AnyLeagueTrainer:
    """The trainer of ``cfg.league.agent``: ``LeagueTrainer`` (alphazero) or ``PPOLeagueTrainer`` (ppo)."""
    return PPOLeagueTrainer(cfg) if cfg.league.agent == "ppo" else LeagueTrainer(cfg)
