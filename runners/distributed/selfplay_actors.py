"""The Ray actors of distributed AlphaZero self-play: game-generating workers and the learner.

- ``SelfPlayWorker``: a CPU copy of the policy-value network (one torch thread) behind a ``NetworkEvaluator``
  and its own batched MCTS. One ``collect`` call pulls the offered parameters through a ``ParamsClient``
  (when newer than its copy), plays ``games`` games at once with the single-process runner's
  ``play_selfplay_games`` (every search round evaluates the leaves of all its games in one network call),
  adds the symmetric copies when the config asks for them, and returns the positions as one ``GameRecord``
  with a small ``GameBatchStats``.
- ``SelfPlayLearner``: the ``AlphaZeroLearner`` (network, optimiser; on a GPU when the actor got one) and the
  ``PositionBuffer`` window. One ``train`` call adds an iteration's game records (fetched from the workers'
  object refs: the driver never touches positions) and takes ``train_steps_per_iteration`` gradient steps
  once the window holds ``min_positions``, then publishes its parameters with one ``ray.put``.
"""

from __future__ import annotations

import math
import os
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
from agents.base import RecurrentState
from envs.games import make_game
from replay.positions import PositionBuffer
from replay.types import GameRecord
from runners.distributed.apex import worker_seed
from runners.distributed.driver import LearnerReport, to_cpu
from runners.distributed.pool import OfferedParams, RayActor
from runners.families.selfplay import SelfPlayConfig
from runners.selfplay.trainer import augment, play_selfplay_games


@dataclass(frozen=True)
class GameBatchStats:
    """What one ``collect`` call reports to the driver (the positions travel as a separate object).

    Attributes:
        worker: the worker's index.
        games: games played. positions: moves played (before symmetry augmentation).
        mean_length: mean game length in moves.
        first_player_score: mean result of player 0 (1 win, 0 draw, -1 loss).
        version: learner version of the parameters the games were played with.
        seconds: wall time of the call.
    """

    worker: int
    games: int
    positions: int
    mean_length: float
    first_player_score: float
    version: int
    seconds: float


class NetworkActor:
    """The ``agents.base.Actor`` a worker's ``ParamsClient`` keeps current: its network behind the evaluator.

    Self-play acts through MCTS, not through ``act``; ``act`` (the raw policy's argmax, legality unchecked) only
    completes the protocol. ``update_params`` goes through ``NetworkEvaluator.load_weights``, which clears the
    evaluation cache the old weights filled.
    """

    def __init__(self, evaluator: NetworkEvaluator) -> None:
        self.evaluator = evaluator
        self.version = -1

    def act(self, obs: np.ndarray, state: RecurrentState = None) -> tuple[np.ndarray, RecurrentState]:
        with torch.inference_mode():
            logits, _ = self.evaluator.model(torch.as_tensor(obs, dtype=torch.float32))
        return logits.argmax(-1).numpy(), None

    def update_params(self, version: int, params: dict[str, torch.Tensor]) -> None:
        self.evaluator.load_weights(params)
        self.version = version


class SelfPlayWorker(RayActor):
    """A game-generating actor: batched MCTS over ``games`` games per call, with parameters from the driver."""

    def __init__(self, cfg: SelfPlayConfig, index: int, games: int, seed: int) -> None:
        if ray.get_runtime_context().was_current_actor_reconstructed:
            seed = worker_seed(seed, index, 0, os.getpid())  # a restart must not replay its first games
        torch.set_num_threads(1)  # many workers share a machine; a search round's batch is small
        self.cfg, self.index, self.games = cfg, index, games
        self.game = make_game(cfg.game)
        net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        self.evaluator = NetworkEvaluator(net)
        self.rng = np.random.default_rng(seed)
        self.mcts = MCTS(cfg.mcts, self.evaluator, self.rng)
        self.actor = NetworkActor(self.evaluator)
        # Pulls happen between game batches (every ``games`` games), and only when the offer is newer.
        self.params = OfferedParams(self.actor)

    def collect(self, version: int, params: list[Any]) -> tuple[GameBatchStats, GameRecord]:
        """Pull the offered parameters (``[ref]`` of a CPU ``state_dict``) when newer, play one batch of games."""
        start = time.perf_counter()
        self.params.pull(version, params)
        s = self.cfg.selfplay
        record, stats = play_selfplay_games(self.game, self.mcts, self.games, s.temperature_moves, self.rng,
                                            s.random_opening_moves)
        if s.augment:  # here, not in the learner: the symmetry work scales out with the workers
            record = augment(self.game, record)
        return GameBatchStats(self.index, stats.games, stats.positions, stats.mean_length, stats.first_player_score,
                              self.actor.version, time.perf_counter() - start), record


class SelfPlayLearner(RayActor):
    """The learner actor: the position window, gradient steps on it, and parameter publishes."""

    def __init__(self, cfg: SelfPlayConfig, threads: int, use_gpu: bool) -> None:
        s = cfg.selfplay
        torch.set_num_threads(threads)
        self.cfg = cfg
        game = make_game(cfg.game)
        torch.manual_seed(s.seed)  # the single-process runner's network initialisation
        net = build_policy_value_net(game, cfg.torso, cfg.agent.value_hidden).eval()
        device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
        self.learner = AlphaZeroLearner(net, cfg.agent, device)
        self.buffer = PositionBuffer(s.replay_window, game.obs_shape, game.num_actions)
        self.rng = np.random.default_rng([s.seed, 1])  # minibatch sampling (the driver's rng does gating)

    def device(self) -> str:
        """Where the learner's network lives (``cuda:0`` when the actor got a GPU)."""
        return str(next(self.learner.network.parameters()).device)

    def publish(self) -> LearnerReport:
        version, params = self.learner.get_params()
        return LearnerReport(version, [ray.put(to_cpu(params))], replay_size=len(self.buffer))

    def train(self, refs: list[Any], steps: int) -> LearnerReport:
        """Add the records behind ``refs`` (``[ref]`` per game batch), then ``steps`` updates and a publish.

        Training waits until the window holds ``min_positions`` (no publish before: the parameters did not
        change). A record lost with its node is skipped and counted in ``dropped``.
        """
        dropped = 0
        for ref in refs:
            try:
                self.buffer.add(ray.get(ref))
            except (ObjectLostError, OwnerDiedError):
                dropped += 1
        s = self.cfg.selfplay
        metrics: dict[str, float] = {"positions": float(self.buffer.added)}
        if len(self.buffer) < s.min_positions or steps <= 0:
            return LearnerReport(self.learner.version, None, metrics, len(self.buffer), dropped)
        start = time.perf_counter()
        outs = [self.learner.step(self.buffer.sample(self.cfg.agent.batch_size, self.rng)) for _ in range(steps)]
        for key in outs[0].metrics:
            value = float(np.mean([o.metrics[key] for o in outs]))
            if math.isfinite(value):
                metrics[key] = value
        metrics["train_s"] = time.perf_counter() - start
        report = self.publish()
        return LearnerReport(report.updates, report.params, metrics, len(self.buffer), dropped)

    def state_dict(self) -> dict[str, Any]:
        """Network, optimiser and version (``learner``), the window (``buffer``) and the sampling rng, on CPU."""
        return {"learner": to_cpu(self.learner.state_dict()), "buffer": self.buffer.state_dict(),
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.buffer.load_state_dict(state["buffer"])
        if state.get("rng") is not None:  # absent in a single-process checkpoint resumed on Ray
            self.rng.bit_generator.state = state["rng"]
