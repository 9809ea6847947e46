"""AlphaZero self-play on Ray: game-generating worker actors, a learner actor, and the driver between them.

``arena selfplay PRESET --runner ray --num-workers N [--ray-address X]`` lands here from
``runners.api.run_selfplay`` (the registry names ``run_selfplay_ray``). It runs the single-process loop
(``runners.selfplay.run.run_selfplay_local``: metrics, Elo evaluation, checkpoints, ``--resume``, time limit,
signals) around ``RaySelfPlayTrainer``: a ``SelfPlayTrainer`` whose ``iterate``
gathers games from the workers instead of playing them itself.

Layout (actors in ``runners.distributed.selfplay_actors``):

- **Workers** (``--num-workers``): each has a CPU copy of the network and its own batched MCTS over
  ``ceil(games_per_iteration / N)`` games per call (``--distributed.envs-per-worker`` sets it; batched
  inference in each worker, no shared inference actor, which only pays once the network is too big for a
  worker's CPU). Before each call it pulls the offered parameters through a ``ParamsClient`` when they are
  newer, so pulls happen every batch of games.
- **Learner**: one actor (with a GPU when the cluster has one and ``--distributed.learner-gpus`` > 0) that
  holds the position window and trains on it.
- **Driver** (this module): one iteration gathers at least ``games_per_iteration`` games from the workers,
  hands their record refs to the learner's ``train`` call (``train_steps_per_iteration`` steps, as in one
  process) and waits for it, while the workers already play the next batch with the parameters they have:
  games are at most one iteration behind the learner ("one-step-off"; ``--distributed.max-policy-lag 0``
  makes workers wait for every update, the single-process schedule). After the update the driver copies
  the new parameters into its own network, which the Elo evaluation, gating and ``model.pt`` use exactly
  as the single-process runner's.

Bounded memory: one ``collect`` call per worker at a time, and a worker whose finished batch the learner has
not taken yet gets no new call, so at most two batches per worker exist; one learner call in flight; one
live parameter object per publish.

Gating (``--selfplay.gating``) runs on the driver as in one process: workers are offered the best network,
and a trained candidate replaces it after winning its match. Checkpoints hold the single-process runner's
keys (learner, window, driver rng, Elo history), so a Ray run resumes on Ray or in one process; workers'
search rngs are not saved (fresh seeds on resume and restart), so a Ray run is not bit-reproducible.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np
import ray
import torch
from ray.exceptions import RayError
from rich.console import Console

from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.network import build_policy_value_net
from agents.errors import ConfigError, RunAbortedError
from envs.games import make_game
from runners.distributed.apex import worker_seed
from runners.distributed.driver import LearnerReport, Plan
from runners.distributed.pool import (
    LearnerAndWorkers,
    WorkerLostError,
    WorkerPool,
    dead_actors,
    kill_actor,
    lost_state_message,
    started,
)
from runners.distributed.selfplay_actors import GameBatchStats, SelfPlayLearner, SelfPlayWorker
from runners.distributed.train import check_resources, fit_resources, ray_session
from runners.families.league import LeagueConfig
from runners.families.selfplay import SelfPlayConfig
from runners.selfplay.checkpoint import save_selfplay
from runners.selfplay.run import SelfPlayResult, run_selfplay_local
from runners.selfplay.trainer import SelfPlayTrainer


def check_selfplay_config(cfg: SelfPlayConfig | LeagueConfig) -> None:
    """Reject what Ray self-play (or the Ray league) cannot run, before Ray starts: one-line ``ConfigError`` (an
    unknown game or torso: the error of building the network)."""
    check_resources(cfg.distributed)
    s = cfg.selfplay
    if s.games_per_iteration < 1 or s.train_steps_per_iteration < 0:
        raise ConfigError("--selfplay.games-per-iteration must be >= 1 and --selfplay.train-steps-per-iteration >= 0")
    if cfg.distributed.max_policy_lag < 0 or cfg.distributed.envs_per_worker < 0:
        raise ConfigError("--distributed.max-policy-lag and --distributed.envs-per-worker must be >= 0")
    build_policy_value_net(make_game(cfg.game), cfg.torso, cfg.agent.value_hidden)  # an unknown game or torso


def selfplay_plan(cfg: SelfPlayConfig | LeagueConfig) -> Plan:
    """Actor sizes that fit the cluster; ``envs_per_worker`` is the games each worker plays per call
    (``--distributed.envs-per-worker``, by default ``games_per_iteration`` shared out among the workers)."""
    d, s = cfg.distributed, cfg.selfplay
    worker_cpus, learner_gpus = fit_resources(d, "auto")
    threads = max(1, int(d.learner_cpus), s.torch_threads)  # the learner uses the CPUs it reserved
    games = d.envs_per_worker or math.ceil(s.games_per_iteration / d.num_workers)  # one iteration per round
    return Plan(d.num_workers, games, worker_cpus, d.learner_cpus, learner_gpus, threads,
                ray.get_runtime_context().get_node_id())


class RaySelfPlayTrainer(SelfPlayTrainer, LearnerAndWorkers):
    """``SelfPlayTrainer`` with its games from worker actors and its learner in an actor.

    It does not call ``SelfPlayTrainer.__init__``: the learner, its optimiser and the position window live in
    the learner actor, and each worker has its own MCTS. What it keeps is what the inherited ``evaluate`` (Elo
    against the anchors) and ``gate`` use: the game, a CPU copy of the newest parameters (``net``), the best
    network when gating, the driver's rng and the Elo bookkeeping.
    """

    def __init__(self, cfg: SelfPlayConfig, plan: Plan) -> None:
        s = cfg.selfplay
        if s.torch_threads > 0:
            torch.set_num_threads(s.torch_threads)
        self.cfg, self.plan = cfg, plan
        self.game = make_game(cfg.game)
        torch.manual_seed(s.seed)
        self.net = build_policy_value_net(self.game, cfg.torso, cfg.agent.value_hidden).eval()
        self.best = copy.deepcopy(self.net).eval() if s.gating else None
        self.rng = np.random.default_rng(s.seed)
        self.evaluator = NetworkEvaluator(self.best if self.best is not None else self.net)  # gate() clears it
        self.iteration = 0
        self.games = 0
        self.elo_history: list[dict[str, Any]] = []
        self.anchor_results: dict[str, list[int]] = {}
        self.grown_anchors: list[str] = []  # the inherited evaluate grows them (runners.selfplay.anchors)
        self.learner_actor: Any = cast(Any, ray.remote(SelfPlayLearner)).options(**plan.learner_options()).remote(
            cfg, plan.learner_threads, plan.learner_gpus > 0)
        self.pool: WorkerPool | None = None  # started by the first iterate: seeds mix in a resumed iteration
        self.ready: dict[int, tuple[GameBatchStats, Any]] = {}  # worker -> (stats, record ref) not yet learned
        self.learner_call: Any = None
        self.report: LearnerReport | None = None  # the last train call's, until iterate logs it
        self.gate_score: float | None = None
        self.offer: tuple[int, list[Any]] = (0, [])  # (version, [params ref]) the workers play with
        self.updates = 0
        self.dropped = 0
        self.checkpointed: int | None = None  # the iteration of the newest checkpoint state taken or restored
        self.worker_version = [0] * plan.num_workers
        self.worker_gps = [0.0] * plan.num_workers  # games per second of each worker's last call
        self.worker_games = [0] * plan.num_workers  # games each worker delivered (this session)
        self._take_report(started(self.learner_actor.publish.remote(), "learner", cfg.distributed.restart_timeout,
                                  lambda: kill_actor(self.learner_actor)), gate=False)

    # --- one iteration ----------------------------------------------------------------------------
    def iterate(self) -> dict[str, float]:
        """Gather ``games_per_iteration`` games, let the learner add and train on them, take its parameters."""
        s = self.cfg.selfplay
        if self.pool is None:
            self._start_workers()
        t0 = time.perf_counter()
        while sum(stats.games for stats, _ in self.ready.values()) < s.games_per_iteration:
            self._pump()
        batches = [self.ready.pop(i) for i in sorted(self.ready)]
        selfplay_s = time.perf_counter() - t0
        self.learner_call = self.learner_actor.train.remote([ref for _, ref in batches],
                                                            s.train_steps_per_iteration)
        lags = [self.updates - stats.version for stats, _ in batches]
        self._dispatch()  # the next batches start now (one-step-off), unless max-policy-lag is 0
        while self.learner_call is not None:
            self._pump()
        assert self.report is not None
        report, self.report = self.report, None
        games = sum(stats.games for stats, _ in batches)
        positions = sum(stats.positions for stats, _ in batches)
        self.games += games
        metrics: dict[str, float] = {
            "games": float(self.games), "game_length": positions / max(games, 1),
            # the workers' summed rate while playing (the driver's waits and evaluations aside)
            "positions_per_s": sum(b.positions / max(b.seconds, 1e-9) for b, _ in batches),
            "first_player_score": float(sum(b.first_player_score * b.games for b, _ in batches) / max(games, 1)),
            "selfplay_s": selfplay_s, **report.metrics}
        if self.gate_score is not None:
            metrics["gate_score"], self.gate_score = self.gate_score, None
        metrics.update(self.dist_metrics(lags))
        self.iteration += 1
        metrics["iteration"] = float(self.iteration)
        return metrics

    def _start_workers(self) -> None:
        d, p, seed = self.cfg.distributed, self.plan, self.cfg.selfplay.seed
        worker = ray.remote(SelfPlayWorker).options(**p.worker_options(d.max_restarts))
        self.pool = WorkerPool([worker.remote(self.cfg, w, p.envs_per_worker, worker_seed(seed, w, self.iteration))
                                for w in range(p.num_workers)], d.max_restarts, d.restart_timeout, num_returns=2)

    def _pump(self) -> None:
        """Wait for worker batches or the learner's report and take them; then restart idle workers."""
        assert self.pool is not None
        for ref in self.pool.wait(self.learner_call):
            if ref == self.learner_call:  # taken before dispatching, so new calls get the new parameters
                self.learner_call = None
                self.report = ray.get(ref)
                self.gate_score = self._take_report(self.report, gate=True)
                continue
            i, stats, record = self.pool.take(ref)
            if stats is None:  # the worker died during the call; it gets a new one once Ray restarted it
                continue
            batch = cast(GameBatchStats, stats)
            self.ready[i] = (batch, record)
            self.worker_version[i] = batch.version
            self.worker_gps[i] = batch.games / max(batch.seconds, 1e-9)
            self.worker_games[i] += batch.games
        self._dispatch()

    def _dispatch(self) -> None:
        """A ``collect`` call for every idle worker whose last batch the learner has taken."""
        assert self.pool is not None
        if self.learner_call is not None and self.cfg.distributed.max_policy_lag < 1:
            return  # synchronous: the next games wait for the parameters of the update in flight
        for i in range(len(self.pool.handles)):
            if i not in self.ready and not self.pool.busy(i) and self.pool.can_submit(i):
                self.pool.submit(i, *self.offer)

    def _take_report(self, report: LearnerReport, gate: bool) -> float | None:
        """New parameters into the driver's network and the workers' offer (after gating, when on)."""
        self.updates = report.updates
        self.dropped += report.dropped
        if report.params is None:
            return None
        self.net.load_state_dict(ray.get(report.params[0]))
        if self.best is None:
            self.offer = (report.updates, report.params)
            return None
        if not gate:  # a (re)published state: workers play the best network, whatever the learner holds
            self.offer = (report.updates, [ray.put(self.best.state_dict())])
            return None
        score = self.gate()
        if score >= self.cfg.selfplay.gate_win_rate:  # gate() made the candidate the best
            self.offer = (report.updates, [ray.put(self.best.state_dict())])
        return score

    def dist_metrics(self, lags: list[int]) -> dict[str, float]:
        """Per-worker games/s and parameter versions, policy lag, restarts and learner updates."""
        assert self.pool is not None
        out = {f"dist/games_per_s_w{i}": round(g, 2) for i, g in enumerate(self.worker_gps)}
        out.update({f"dist/version_w{i}": float(v) for i, v in enumerate(self.worker_version)})
        out.update({f"dist/games_w{i}": float(g) for i, g in enumerate(self.worker_games)})
        out.update({"dist/policy_lag": float(np.mean(lags)) if lags else 0.0,
                    "dist/policy_lag_max": float(max(lags, default=0)),
                    "dist/learner_updates": float(self.updates), "dist/restarts": float(sum(self.pool.deaths)),
                    "dist/dropped_batches": float(self.dropped), "dist/pending_collects": float(len(self.pool.pending)),
                    "dist/ready_batches": float(len(self.ready))})
        return out

    # --- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The single-process trainer's keys (learner and window from the learner actor) plus the learner's rng."""
        if self.learner_call is not None:  # only after a lost worker: wait for the learner alone, take no games
            ref, self.learner_call = self.learner_call, None
            self.report = ray.get(ref)
            self.gate_score = self._take_report(self.report, gate=True)
        learner = ray.get(self.learner_actor.state_dict.remote())
        self.checkpointed = self.iteration
        return {"iteration": self.iteration, "games": self.games, "learner": learner["learner"],
                "best": self.best.state_dict() if self.best is not None else None,
                "rng": self.rng.bit_generator.state, "buffer": learner["buffer"], "learner_rng": learner["rng"],
                "elo_history": self.elo_history, "anchor_results": self.anchor_results,
                "grown_anchors": self.grown_anchors, "game": self.game.name, "obs_shape": list(self.game.obs_shape),
                "num_actions": self.game.num_actions, "runner": "ray"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters, driver rng, best network and the learner actor, then republish (before iterating)."""
        self.iteration, self.games = int(state["iteration"]), int(state["games"])
        ray.get(self.learner_actor.load_state_dict.remote(
            {"learner": state["learner"], "buffer": state["buffer"], "rng": state.get("learner_rng")}))
        if self.best is not None and state["best"] is not None:
            self.best.load_state_dict(state["best"])
        self.rng.bit_generator.state = state["rng"]
        self.elo_history = list(state["elo_history"])
        self.anchor_results = {k: list(v) for k, v in state["anchor_results"].items()}
        self.grown_anchors = [str(a) for a in state.get("grown_anchors", [])]
        self._take_report(ray.get(self.learner_actor.publish.remote()), gate=False)
        self.checkpointed = self.iteration

    def worker_pool(self) -> WorkerPool | None:
        return self.pool


@contextmanager
def running(trainer: Any, save: Callable[[], None], resume: str) -> Iterator[None]:
    """A Ray run of iterations (self-play, the league) inside the block, ending in one line, its actors killed at
    the end (``trainer.close()``). Workers lost past their restarts save a checkpoint first (``save``: the learner
    actor still holds its state); a dead actor holding the run's state (``trainer.core_actors()``) leaves the last
    periodic checkpoint as it is. ``resume``: the command that resumes."""
    try:
        try:
            yield
        except WorkerLostError as e:  # the learner lives on: keep what it holds
            save()
            raise RunAbortedError(f"{e} (checkpoint saved at iteration {trainer.iteration}: {resume})") from None
    except RayError:  # the save above included: a dead learner took the window with it
        dead = dead_actors(trainer.core_actors())
        if not dead:
            raise
        raise RunAbortedError(lost_state_message(dead, trainer.checkpointed, "iteration", resume)) from None
    finally:
        trainer.close()


def run_selfplay_ray(cfg: SelfPlayConfig, run_dir: Path, resume: bool = False, stop_at: int | None = None,
                     console: Console | None = None) -> SelfPlayResult:
    """``run_selfplay`` on Ray: start or join Ray, start the actors, run the single-process loop around them."""
    console = console or Console(stderr=True)
    check_selfplay_config(cfg)  # before Ray starts: bad flags cost nothing
    with ray_session(cfg.distributed):
        plan = selfplay_plan(cfg)
        trainer = RaySelfPlayTrainer(cfg, plan)
        with running(trainer, lambda: save_selfplay(trainer, run_dir, final=False),
                     f"arena selfplay --resume {run_dir}"):
            console.log(f"ray: {plan.num_workers} self-play workers x {plan.envs_per_worker} games "
                        f"({plan.worker_cpus:g} CPU each), learner on "
                        f"{ray.get(trainer.learner_actor.device.remote())}")
            return run_selfplay_local(cfg, run_dir, resume=resume, stop_at=stop_at, console=console, trainer=trainer)
