"""The Ray actors of the league: game workers, and one learner actor that holds all the learners.

- ``LeagueWorker`` (AlphaZero learners): two CPU policy-value networks (the learner's side and the opponent's
  side, one torch thread) behind their own ``NetworkEvaluator``s. One ``collect`` call plays a ``GameTask`` (some
  of one learner's games of the iteration, with their seats and a seed) with the single-process league's
  ``play_games``: each side searches with its own network, only the learner's own moves become targets (every
  move in self-play). ``PPOLeagueWorker`` (``--league.agent ppo``): two masked actor-critics sampling their
  moves (``agents.ppo.games.play_recorded``), a learner's games in one call (its PPO update takes them as one
  rollout). The weights come as object refs (``[ref]``, so Ray hands the reference over instead of fetching
  it): a pool snapshot is put once when it is frozen, so every game against it reads the same object; a worker
  fetches a ref only when it differs from the one it holds.
- ``LeagueLearnerActor`` / ``PPOLeagueLearnerActor``: every learner's optimiser and network (on a GPU when the
  AlphaZero actor got one), with its ``PositionBuffer`` window and minibatch rng (AlphaZero), in one actor:
  learners train one after another, as in one process, and one actor is the simplest to checkpoint and restore.
  One ``train`` call fetches each learner's games by ref (the driver never touches positions), trains it and
  returns its new CPU weights."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import ray
import torch
from ray.exceptions import ObjectLostError, OwnerDiedError

from agents.alphazero.agent import AlphaZeroLearner
from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS
from agents.alphazero.network import build_policy_value_net
from agents.ppo.games import GamePolicy, PPOGameLearner, RecordedGames, build_game_network, play_recorded
from envs.games import make_game
from replay.positions import PositionBuffer
from replay.types import GameRecord
from runners.distributed.driver import to_cpu
from runners.distributed.pool import RayActor
from runners.families.league import LeagueConfig
from runners.league.ppo_trainer import ROW_METRICS
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


class TwoSidedWorker(RayActor):
    """A game-playing actor with the learner's side (0) and the opponent's side (1), each holding the weights of
    one object ref."""

    def __init__(self, cfg: LeagueConfig, index: int) -> None:
        torch.set_num_threads(1)  # many workers share a machine; a batch of positions is small
        self.cfg, self.index = cfg, index
        self.game = make_game(cfg.game)
        self.loaded: list[Any] = [None, None]  # the ref each side's weights came from (None: none yet)

    def _set_weights(self, side: int, weights: Weights) -> None:
        raise NotImplementedError

    def _load(self, side: int, params: list[Any]) -> None:
        """Side ``side``'s weights from ``params`` (``[ref]``), fetched only when the ref is new to this worker."""
        if params[0] != self.loaded[side]:
            self._set_weights(side, ray.get(params[0]))
            self.loaded[side] = params[0]

    def _stats(self, task: GameTask, results: np.ndarray, positions: int, moves: int, start: float
               ) -> GameTaskStats:
        """The call's stats; ``results`` ``[n, 2]``: every game's returns (player 0, player 1)."""
        score = results[np.arange(len(task.seats)), list(task.seats)]  # [n] the learner's result in each game
        return GameTaskStats(self.index, len(task.seats), int((score > 0).sum()), int((score == 0).sum()),
                             int((score < 0).sum()), positions, moves, time.perf_counter() - start)


class LeagueWorker(TwoSidedWorker):
    """A learner's games against its opponent, both sides searching with their own network."""

    def __init__(self, cfg: LeagueConfig, index: int) -> None:
        super().__init__(cfg, index)
        self.evaluators = [NetworkEvaluator(build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden)
                                            .eval()) for _ in range(2)]

    def _set_weights(self, side: int, weights: Weights) -> None:
        self.evaluators[side].load_weights(weights)  # clears the evaluations of the old weights

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
        positions = len(record)
        if positions and s.augment:  # here, not in the learner: the symmetry work scales out with the workers
            record = augment(self.game, record)
        return self._stats(task, results, positions, round(stats.mean_length * n), start), record


class PPOLeagueWorker(TwoSidedWorker):
    """A PPO learner's games against its opponent, both sides sampling their masked policies (no search)."""

    def __init__(self, cfg: LeagueConfig, index: int) -> None:
        super().__init__(cfg, index)
        self.nets = [build_game_network(self.game, cfg.net, cfg.torso).eval() for _ in range(2)]

    def _set_weights(self, side: int, weights: Weights) -> None:
        self.nets[side].load_state_dict(weights)

    def collect(self, task: GameTask, mine: list[Any], theirs: list[Any]) -> tuple[GameTaskStats, RecordedGames]:
        """Play ``task``: the learner's moves as one rollout (both seats' in self-play) and the results."""
        start = time.perf_counter()
        self._load(0, mine)
        opponent = None
        if not task.selfplay:
            self._load(1, theirs)
            opponent = GamePolicy(self.nets[1], task.seed + 1)
        played = play_recorded(self.game, GamePolicy(self.nets[0], task.seed), opponent, task.seats)
        return self._stats(task, played.results, int(played.rollout.mask.sum()), int(played.lengths.sum()),
                           start), played


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
        holds ``min_positions``. Per learner: ``metrics`` (the steps' means; ``dropped`` records lost with a node),
        ``steps`` taken and ``weights`` (its new CPU ``state_dict``; None when it did not train)."""
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
            if len(self.buffers[k]) >= s.min_positions and steps > 0:
                metrics.update(train_on_window(self.learners[k], self.buffers[k], steps, self.cfg.agent.batch_size,
                                               self.rngs[k]))
                out.append({"metrics": metrics, "steps": steps,
                            "weights": to_cpu(self.learners[k].network.state_dict())})
            else:
                out.append({"metrics": metrics, "steps": 0, "weights": None})
        return out

    def reset(self, k: int) -> None:
        """Learner ``k`` back to its initial weights, with a fresh optimiser and an empty window."""
        self.learners[k] = self._learner(self.initial[k])
        self.buffers[k] = self._buffer()

    def state_dict(self) -> list[dict[str, Any]]:
        """Per learner, its checkpoint entry: ``learner`` (network, optimiser, version, on CPU), ``buffer`` and the
        minibatch rng (``ray_rng``; a single-process league ignores it)."""
        return [{"learner": to_cpu(x.state_dict()), "buffer": b.state_dict(), "ray_rng": r.bit_generator.state}
                for x, b, r in zip(self.learners, self.buffers, self.rngs, strict=True)]

    def load_state_dict(self, k: int, state: dict[str, Any]) -> Weights:
        """Learner ``k``'s checkpoint entry (``ray_rng`` absent: a single-process checkpoint, the rng stays);
        returns its network's CPU weights."""
        self.learners[k] = self._learner(self.initial[k])  # a reset may have replaced it: a fresh optimiser
        self.learners[k].load_state_dict(state["learner"])
        self.buffers[k] = self._buffer()
        self.buffers[k].load_state_dict(state["buffer"])
        if state.get("ray_rng") is not None:
            self.rngs[k].bit_generator.state = state["ray_rng"]
        return cast(Weights, to_cpu(self.learners[k].network.state_dict()))


class PPOLeagueLearnerActor(RayActor):
    """Every PPO learner's network and optimiser (the single-process league's ``PPOGameLearner``s)."""

    def __init__(self, cfg: LeagueConfig, initial: list[Weights], seeds: list[int], threads: int) -> None:
        """``initial``: every learner's initial weights in learner order; ``seeds``: their optimiser streams."""
        torch.set_num_threads(threads)
        game = make_game(cfg.game)
        self.initial = initial
        self.agents = [PPOGameLearner(game, cfg.net, cfg.torso, cfg.ppo, total_updates=cfg.selfplay.iterations,
                                      seed=seed) for seed in seeds]
        for agent, weights in zip(self.agents, initial, strict=True):
            agent.network.load_state_dict(weights)

    def where(self) -> str:
        return "cpu"

    def train(self, batches: list[tuple[int, list[Any]]], steps: int) -> list[dict[str, Any]]:
        """One PPO update per ``(learner, [ref of its games])``; ``steps`` is unused (a PPO update takes its
        epochs of minibatches). Per learner: the row's ``metrics``, minibatch ``steps`` and new ``weights``."""
        out = []
        for k, refs in batches:
            (played,) = ray.get(refs)
            metrics = self.agents[k].train(played).metrics
            out.append({"metrics": {key: metrics[key] for key in ROW_METRICS if key in metrics},
                        "steps": int(metrics["minibatch_updates"]),
                        "weights": to_cpu(self.agents[k].network.state_dict())})
        return out

    def reset(self, k: int) -> None:
        """Learner ``k`` back to its initial weights with a fresh optimiser."""
        self.agents[k].network.load_state_dict(self.initial[k])
        self.agents[k].fresh_optimizer()

    def state_dict(self) -> list[dict[str, Any]]:
        """Per learner, its checkpoint entry (``agent``: network, optimiser, generators)."""
        return [{"agent": to_cpu(a.state_dict())} for a in self.agents]

    def load_state_dict(self, k: int, state: dict[str, Any]) -> Weights:
        """Learner ``k``'s checkpoint entry; returns its network's CPU weights."""
        self.agents[k].load_state_dict(state["agent"])
        return cast(Weights, to_cpu(self.agents[k].network.state_dict()))
