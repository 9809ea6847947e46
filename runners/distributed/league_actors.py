"""The Ray actors of the AlphaZero league: game workers, and one learner actor that holds all the learners.

- ``LeagueWorker``: two CPU policy-value networks (the learner's side and the opponent's side, one torch thread)
  behind their own ``NetworkEvaluator``s. One ``collect`` call plays a ``GameTask`` (some of one learner's games
  of the iteration, with their seats and a seed) with the single-process league's ``play_games``: each side
  searches with its own network, only the learner's own moves become targets (every move in self-play). The
  weights come as object refs (``[ref]``, so Ray hands the reference over instead of fetching it): a pool
  snapshot is put once when it is frozen, so every game against it reads the same object; the worker loads a
  ref only when it differs from the one it holds.
- ``LeagueLearnerActor``: every learner's ``AlphaZeroLearner`` (network and optimiser; on a GPU when the actor
  got one), its ``PositionBuffer`` window and minibatch rng, in one actor: learners train one after another, as
  in one process, and one actor is the simplest to checkpoint and to restore. One ``train`` call adds each
  learner's records (fetched by ref from the workers' results: the driver never touches positions) and takes
  the training steps of those whose window is full enough, returning their new CPU weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import torch
from ray.exceptions import ObjectLostError, OwnerDiedError

from agents.alphazero.agent import AlphaZeroLearner
from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS
from agents.alphazero.network import build_policy_value_net
from envs.games import make_game
from replay.positions import PositionBuffer
from replay.types import GameRecord
from runners.distributed.driver import to_cpu
from runners.distributed.pool import RayActor
from runners.families.league import LeagueConfig
from runners.selfplay.trainer import augment, play_games, train_on_window

Weights = dict[str, torch.Tensor]


@dataclass(frozen=True)
class GameTask:
    """Some of one learner's games of an iteration, as one worker call plays them.

    Attributes:
        learner: the learner's index in the league.
        seats: per game, the learner's seat (0: first player); in self-play both seats are the learner's.
        selfplay: the learner plays itself (one search serves both sides, every position is a target).
        seed: the call's move-sampling and search-noise stream.
    """

    learner: int
    seats: tuple[int, ...]
    selfplay: bool
    seed: int


@dataclass(frozen=True)
class GameTaskStats:
    """What one ``collect`` call reports (its positions travel as a separate object).

    Attributes:
        worker: the worker's index. games: games played.
        wins / draws / losses: the learner's results.
        positions: the learner's positions recorded (before symmetry augmentation).
        moves: moves played in all games. seconds: wall time of the call.
    """

    worker: int
    games: int
    wins: int
    draws: int
    losses: int
    positions: int
    moves: int
    seconds: float


class LeagueWorker(RayActor):
    """A game-playing actor: a learner's games against its opponent, both sides searching with their own network."""

    def __init__(self, cfg: LeagueConfig, index: int) -> None:
        torch.set_num_threads(1)  # many workers share a machine; a search round's batch is small
        self.cfg, self.index = cfg, index
        self.game = make_game(cfg.game)
        # [learner's side, opponent's side], each with the object ref of the weights it holds (None: none yet)
        self.evaluators = [NetworkEvaluator(build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden)
                                            .eval()) for _ in range(2)]
        self.loaded: list[Any] = [None, None]

    def _load(self, side: int, params: list[Any]) -> None:
        """Side ``side``'s weights from ``params`` (``[ref]``), fetched only when the ref is new to this worker."""
        if params[0] != self.loaded[side]:
            self.evaluators[side].load_weights(ray.get(params[0]))  # clears the evaluations of the old weights
            self.loaded[side] = params[0]

    def collect(self, task: GameTask, mine: list[Any], theirs: list[Any]) -> tuple[GameTaskStats, GameRecord]:
        """Play ``task`` with the learner's weights ``mine`` and the opponent's ``theirs`` (``[ref]`` each; ``theirs``
        is ignored in self-play); the learner's positions (augmented when the config asks) and the results."""
        start = time.perf_counter()
        s = self.cfg.selfplay
        rng = np.random.default_rng(task.seed)
        self._load(0, mine)
        me = MCTS(self.cfg.mcts, self.evaluators[0], rng)
        n = len(task.seats)
        if task.selfplay:
            record, stats, results = play_games(self.game, [(me, me)] * n, s.temperature_moves, rng,
                                                s.random_opening_moves)
        else:
            self._load(1, theirs)
            them = MCTS(self.cfg.mcts, self.evaluators[1], rng)
            sides = [(me, them) if seat == 0 else (them, me) for seat in task.seats]
            record, stats, results = play_games(self.game, sides, s.temperature_moves, rng, s.random_opening_moves,
                                                [(seat == 0, seat == 1) for seat in task.seats])
        score = results[np.arange(n), list(task.seats)]  # [n] the learner's result in each game
        positions = len(record)
        if positions and s.augment:  # here, not in the learner: the symmetry work scales out with the workers
            record = augment(self.game, record)
        return GameTaskStats(self.index, n, int((score > 0).sum()), int((score == 0).sum()), int((score < 0).sum()),
                             positions, round(stats.mean_length * n), time.perf_counter() - start), record


class LeagueLearnerActor(RayActor):
    """Every learner's optimiser, network and window; ``train`` takes an iteration's records by ref."""

    def __init__(self, cfg: LeagueConfig, initial: list[Weights], threads: int, use_gpu: bool) -> None:
        """``initial``: every learner's initial weights, in learner order (the driver built them, so a Ray
        league starts from the single-process league's networks)."""
        torch.set_num_threads(threads)
        self.cfg = cfg
        self.game = make_game(cfg.game)
        self.device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
        self.initial = initial
        self.learners = [self._learner(w) for w in initial]
        self.buffers = [self._buffer() for _ in initial]
        self.rngs = [np.random.default_rng([cfg.selfplay.seed, 1, k]) for k in range(len(initial))]

    def _learner(self, weights: Weights) -> AlphaZeroLearner:
        net = build_policy_value_net(self.game, self.cfg.torso, self.cfg.agent.value_hidden).eval()
        net.load_state_dict(weights)
        return AlphaZeroLearner(net, self.cfg.agent, self.device)

    def _buffer(self) -> PositionBuffer:
        return PositionBuffer(self.cfg.selfplay.replay_window, self.game.obs_shape, self.game.num_actions)

    def where(self) -> str:
        """Where the networks live (``cuda:0`` when the actor got a GPU)."""
        return str(next(self.learners[0].network.parameters()).device)

    def train(self, batches: list[tuple[int, list[Any]]], steps: int) -> list[dict[str, Any]]:
        """For every ``(learner, [record refs])``: add the records, then ``steps`` gradient steps once the window
        holds ``min_positions``. Per learner: ``metrics`` (the steps' means; ``dropped`` records lost with a node)
        and ``weights`` (its new CPU ``state_dict``; None when it did not train)."""
        s = self.cfg.selfplay
        out = []
        for k, refs in batches:
            dropped = 0
            for ref in refs:
                try:
                    self.buffers[k].add(ray.get(ref))
                except (ObjectLostError, OwnerDiedError):
                    dropped += 1
            metrics: dict[str, float] = {"dropped": float(dropped)} if dropped else {}
            weights = None
            if len(self.buffers[k]) >= s.min_positions and steps > 0:
                metrics.update(train_on_window(self.learners[k], self.buffers[k], steps, self.cfg.agent.batch_size,
                                               self.rngs[k]))
                weights = to_cpu(self.learners[k].network.state_dict())
            out.append({"metrics": metrics, "weights": weights})
        return out

    def reset(self, k: int) -> None:
        """Learner ``k`` back to its initial weights, with a fresh optimiser and an empty window."""
        self.learners[k] = self._learner(self.initial[k])
        self.buffers[k] = self._buffer()

    def state_dict(self) -> list[dict[str, Any]]:
        """Per learner: ``learner`` (network, optimiser, version, on CPU), ``buffer`` and ``rng``."""
        return [{"learner": to_cpu(x.state_dict()), "buffer": b.state_dict(), "rng": r.bit_generator.state}
                for x, b, r in zip(self.learners, self.buffers, self.rngs, strict=True)]

    def load_state_dict(self, k: int, state: dict[str, Any]) -> None:
        """Learner ``k``'s ``learner`` and ``buffer`` state; its ``rng`` when given (absent: a one-process
        checkpoint)."""
        self.learners[k] = self._learner(self.initial[k])  # a reset may have replaced it: a fresh optimiser
        self.learners[k].load_state_dict(state["learner"])
        self.buffers[k] = self._buffer()
        self.buffers[k].load_state_dict(state["buffer"])
        if state.get("rng") is not None:
            self.rngs[k].bit_generator.state = state["rng"]
