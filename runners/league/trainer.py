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
reproducible and resumable; ``runners.distributed.league`` plays all their games of an iteration at once on
Ray); a "step" of the roles' rules is a gradient step; periodic snapshots of every learner stand in for the
main agents' own snapshot rule. The search, game playing, augmentation, training
step and anchor Elo are self-play's (``runners.selfplay.trainer``); the league's rules are ``runners.league.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.alphazero.agent import AlphaZeroLearner
from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS
from agents.alphazero.network import PolicyValueNet, build_policy_value_net
from agents.bots.base import Player
from replay.positions import PositionBuffer
from runners.families.league import LeagueConfig
from runners.league.base import LeagueBase, Role, Weights, clone_weights
from runners.selfplay.trainer import augment, network_player, play_games, train_on_window


@dataclass(eq=False)
class LeagueLearner:
    """One learner of the league and everything it owns."""

    name: str
    role: Role
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


class LeagueTrainer(LeagueBase[LeagueLearner]):
    """AlphaZero learners, the pool of snapshots and the payoff matrix; ``iterate`` does one iteration,
    ``state_dict`` resumes it. One random stream (``rng``) draws opponents, search noise, moves and minibatches."""

    agent_kind = "alphazero"

    def __init__(self, cfg: LeagueConfig) -> None:
        super().__init__(cfg)
        # The opponent's side: one scratch network whose weights are loaded for each learner's games.
        self.opponent_net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        self.opponent_evaluator = NetworkEvaluator(self.opponent_net)
        self.opponent_mcts = MCTS(cfg.mcts, self.opponent_evaluator, self.rng)

    def _build_learner(self, role: Role, index: int) -> LeagueLearner:
        cfg = self.cfg
        net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        evaluator = NetworkEvaluator(net)
        return LeagueLearner(role.name, role, net, AlphaZeroLearner(net, cfg.agent), self._buffer(), evaluator,
                             MCTS(cfg.mcts, evaluator, self.rng), clone_weights(net))

    def _buffer(self) -> PositionBuffer:
        return PositionBuffer(self.cfg.selfplay.replay_window, self.game.obs_shape, self.game.num_actions)

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
                self.opponent_evaluator.load_weights(self.opponent_weights(opponent))
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

    def reset(self, learner: LeagueLearner) -> None:
        """Back to the initial weights, with a fresh optimiser and an empty window (its positions' targets came
        from the policy it leaves)."""
        learner.net.load_state_dict(learner.initial)
        learner.learner = AlphaZeroLearner(learner.net, self.cfg.agent)
        learner.buffer = self._buffer()
        learner.evaluator.clear_cache()

    def _anchor_player(self, learner: LeagueLearner) -> Callable[[int], Player]:
        """Greedy MCTS with ``--selfplay.eval-simulations`` (default: the training search's count)."""
        sims = self.cfg.selfplay.eval_simulations or self.cfg.mcts.num_simulations
        return lambda seed: network_player(self.game, learner.net, sims, seed, "alphazero")

    def _learner_state(self, learner: LeagueLearner) -> dict[str, Any]:
        return {"learner": learner.learner.state_dict(), "buffer": learner.buffer.state_dict()}

    def _load_learner_state(self, learner: LeagueLearner, state: dict[str, Any]) -> None:
        learner.learner = AlphaZeroLearner(learner.net, self.cfg.agent)  # a reset may have replaced it
        learner.learner.load_state_dict(state["learner"])
        learner.buffer = self._buffer()
        learner.buffer.load_state_dict(state["buffer"])
        learner.evaluator.clear_cache()

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.opponent_evaluator.clear_cache()
