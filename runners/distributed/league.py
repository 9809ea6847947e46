"""The league on Ray: league games on worker actors, the learners in a learner actor, the rules on the driver.

``arena league PRESET --runner ray --num-workers N [--ray-address X]`` lands here (the league family's
``ray_trainer``). It runs the single-process loop (``runners.league.run.run_league_local``: metrics, Elo
evaluation, checkpoints, ``--resume``, time limit, signals) around ``RayLeagueTrainer`` (a ``LeagueTrainer``) or,
for ``--league.agent ppo``, ``RayPPOLeagueTrainer`` (a ``PPOLeagueTrainer``): ``RayLeague`` gives either a
``play_round`` that plays every learner's games at once on the workers and trains every learner in the learner
actor. (This module, not ``runners.league.run``, holds ``run_league_ray``: only ``runners.distributed`` imports
Ray.) The league's rules (roles, snapshots, resets, pool, payoff, Elo) stay ``runners.league.base``'s.

One iteration:

1. Every learner's role chooses its opponent from the payoff matrix as it stands at the start of the iteration.
   In one process learners choose in turn, so a later learner's choice sees earlier learners' results of the
   same iteration; here no game has been played yet when the last learner chooses.
2. Every learner's ``games_per_iteration`` games (half as each colour against another player, all as both
   colours in self-play) are cut into tasks of ``--distributed.envs-per-worker`` games (by default
   ``ceil(games_per_iteration / num_workers)``; a PPO learner's games are one task, as its update takes them as
   one rollout) and played on the worker actors (``runners.distributed.league_actors``), each task with a seed
   drawn from the driver's rng. Weights travel through the object store: a pool snapshot is ``ray.put`` once
   when it is frozen (or, after a resume, when first played) and its ref kept, a current learner's weights are
   put once per iteration; workers reload only refs they do not hold.
3. The results go into the payoff matrix; the learner actor takes each learner's games by ref and trains it
   (AlphaZero: adds the positions to its window and takes its steps; PPO: one update); the driver loads the new
   weights into its CPU copy of each learner's network, which the evaluation, the snapshots and ``model.pt``
   use. Then ``LeagueBase.iterate`` snapshots and resets.

A dead worker is restarted by Ray (``--distributed.max-restarts``) and its task sent again; past the restarts or
``--distributed.restart-timeout`` the run saves a checkpoint and ends in one line, as when the learner actor dies
(then the last periodic checkpoint is kept). Checkpoints hold the single-process league's keys (each learner's
optimiser, window, generators fetched from the learner actor), so a Ray league resumes on Ray or in one process,
and a one-process league on Ray. Seeds come from the driver's rng, but a Ray league is not bit-reproducible (a
task sent again after a restart, thread counts), and a PPO learner samples its moves on the workers with task
seeds, not with the generator its checkpoint entry holds (which only a single-process resume uses).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

import ray
from rich.console import Console

from agents.alphazero.mcts import MCTS
from agents.errors import ConfigError
from replay.positions import PositionBuffer
from runners.distributed.driver import Plan
from runners.distributed.league_actors import (
    GameTask,
    GameTaskStats,
    LeagueLearnerActor,
    LeagueWorker,
    PPOLeagueLearnerActor,
    PPOLeagueWorker,
)
from runners.distributed.pool import LearnerAndWorkers, WorkerPool, started
from runners.distributed.selfplay import check_selfplay_config, running, selfplay_plan
from runners.distributed.train import ray_session
from runners.families.league import LeagueConfig
from runners.league.base import LeagueBase, Learner
from runners.league.checkpoint import save_league
from runners.league.ppo_trainer import PPOLeagueLearner, PPOLeagueTrainer, stream_seed
from runners.league.run import LeagueResult, run_league_local
from runners.league.trainer import LeagueLearner, LeagueTrainer

SEED_BOUND = 2**31  # task seeds drawn from the driver's rng
L = TypeVar("L", bound=Learner)


class RayLeague(LeagueBase[L], LearnerAndWorkers):
    """What a Ray league adds to its single-process trainer (the next base class: ``RayLeague[X], Trainer``):
    worker and learner actors, an iteration played on them, snapshots in the object store, checkpoint state from
    the learner actor. The driver's learners keep their network (the CPU copy that is evaluated, frozen and
    saved), role and clocks; their optimisers (and windows) in the driver go unused."""

    def __init__(self, cfg: LeagueConfig, plan: Plan) -> None:
        super().__init__(cfg)  # the single-process league's networks, built from the same seed
        self.plan = plan
        d = cfg.distributed
        self.pool_refs: dict[str, Any] = {}  # snapshot name -> object ref of its frozen weights (put once)
        self.checkpointed: int | None = None  # the iteration of the newest checkpoint state taken or restored
        self.worker_games = [0] * plan.num_workers  # games each worker delivered (this session)
        self.workers: WorkerPool | None = None
        self.learner_actor: Any = self._start_learner_actor()
        self.device = started(self.learner_actor.where.remote(), "learner", d.restart_timeout, self.close)
        worker = cast(Any, ray.remote(self._worker_class())).options(**plan.worker_options(d.max_restarts))
        self.workers = WorkerPool([worker.remote(cfg, w) for w in range(plan.num_workers)], d.max_restarts,
                                  d.restart_timeout, num_returns=2)
        for w, handle in enumerate(self.workers.handles):
            started(handle.node_id.remote(), f"league worker {w}", d.restart_timeout, self.close)

    # --- what each kind of learner provides -------------------------------------------------------
    def _start_learner_actor(self) -> Any:
        raise NotImplementedError

    def _worker_class(self) -> type:
        raise NotImplementedError

    def _games_per_task(self) -> int:
        return self.plan.envs_per_worker

    # --- one iteration ----------------------------------------------------------------------------
    def play_round(self) -> list[dict[str, Any]]:
        """Every learner's opponent first (from the payoff as the iteration starts), then all games at once."""
        chosen = [self.choose(learner) for learner in self.learners]
        rows = self._play_and_train_all([(learner, opponent) for learner, (_, opponent) in
                                         zip(self.learners, chosen, strict=True)])
        return [{**head, **row} for (head, _), row in zip(chosen, rows, strict=True)]

    def _play_and_train_all(self, pairs: list[tuple[L, str]]) -> list[dict[str, Any]]:
        """Each ``(learner, opponent)``'s games on the workers, recorded in the payoff matrix; then each learner's
        training in the learner actor. One row per pair, with the single-process league's keys."""
        s = self.cfg.selfplay
        n = s.games_per_iteration
        index = {x.name: k for k, x in enumerate(self.learners)}
        current = {x.name: [ray.put(x.net.state_dict())] for x, _ in pairs}  # put once for every game this round
        tasks: list[tuple[GameTask, list[Any], list[Any]]] = []
        for learner, opponent in pairs:
            selfplay = opponent == learner.name
            seats = [0] * n if selfplay else [0] * (n - n // 2) + [1] * (n // 2)
            theirs = [] if selfplay else self._opponent_ref(opponent, current)
            per = self._games_per_task()
            for a in range(0, n, per):
                task = GameTask(index[learner.name], tuple(seats[a:a + per]), selfplay,
                                int(self.rng.integers(SEED_BOUND)))
                tasks.append((task, current[learner.name], theirs))
        t0 = time.perf_counter()
        done = self._play(tasks)
        selfplay_s = time.perf_counter() - t0
        rows, batches = [], []
        for learner, opponent in pairs:
            mine = [done[t] for t, (task, _, _) in enumerate(tasks) if task.learner == index[learner.name]]
            stats = [st for st, _ in mine]
            wins, draws, losses = (sum(getattr(st, key) for st in stats) for key in ("wins", "draws", "losses"))
            self.payoff.record(learner.name, opponent, wins, draws, losses)  # a game against itself is ignored
            learner.games += n
            self.games += n
            moves, positions = sum(st.moves for st in stats), sum(st.positions for st in stats)
            rows.append({"games": n, "wins": wins, "draws": draws, "losses": losses, "positions": positions,
                         "game_length": moves / max(n, 1),
                         # the learner's positions per second of a worker's time (over its tasks)
                         "positions_per_s": positions / max(sum(st.seconds for st in stats), 1e-9),
                         "selfplay_s": selfplay_s})
            batches.append((index[learner.name], [ref for _, ref in mine]))
        reports = ray.get(self.learner_actor.train.remote(batches, s.train_steps_per_iteration))
        for (learner, _), row, report in zip(pairs, rows, reports, strict=True):
            row.update(report["metrics"])
            learner.steps += report["steps"]
            if report["weights"] is not None:
                learner.net.load_state_dict(report["weights"])
        return rows

    def _play(self, tasks: list[tuple[GameTask, list[Any], list[Any]]]) -> list[tuple[GameTaskStats, Any]]:
        """Every task on the workers, one call per worker at a time; a task whose worker died is sent again once
        Ray restarted it. Per task: its stats and the ref of its positions."""
        pool = self.workers
        assert pool is not None
        todo = deque(range(len(tasks)))
        running: dict[int, int] = {}  # worker -> task
        done: dict[int, tuple[GameTaskStats, Any]] = {}
        while len(done) < len(tasks):
            for i in range(len(pool.handles)):
                if todo and not pool.busy(i) and pool.can_submit(i):
                    running[i] = todo.popleft()
                    pool.submit(i, *tasks[running[i]])
            for ref in pool.wait():
                i, stats, record = pool.take(ref)  # WorkerLostError past the restarts
                t = running.pop(i)
                if stats is None:  # the worker died during the call: its task goes first to the next free worker
                    todo.appendleft(t)
                    continue
                done[t] = (cast(GameTaskStats, stats), record)
                self.worker_games[i] += cast(GameTaskStats, stats).games
        return [done[t] for t in range(len(tasks))]

    def _opponent_ref(self, opponent: str, current: dict[str, list[Any]]) -> list[Any]:
        """``[ref]`` of ``opponent``'s weights: a snapshot's (kept), or a current learner's (``current``: those put
        this round, to which a learner not among them is added)."""
        if opponent in self.pool:
            return self._weights_ref(opponent)
        if opponent not in current:
            current[opponent] = [ray.put(self.by_name[opponent].net.state_dict())]
        return current[opponent]

    def _weights_ref(self, snapshot: str) -> list[Any]:
        """``[ref]`` of a snapshot's frozen weights, put into the object store the first time it is asked for."""
        if snapshot not in self.pool_refs:
            self.pool_refs[snapshot] = ray.put(self.pool[snapshot])
        return [self.pool_refs[snapshot]]

    def snapshot(self, learner: L) -> str:
        name = super().snapshot(learner)
        self._weights_ref(name)  # put once, now: every later game against it reads this object
        return name

    def reset(self, learner: L) -> None:
        # The single-process trainer's reset (next in the MRO, not LeagueBase's abstract one): the driver's network
        # back to its initial weights.
        super().reset(learner)  # type: ignore[safe-super]
        ray.get(self.learner_actor.reset.remote(self.learners.index(learner)))

    def iteration_metrics(self) -> dict[str, float]:
        assert self.workers is not None
        return {"dist/restarts": float(sum(self.workers.deaths)),
                **{f"dist/games_w{i}": float(g) for i, g in enumerate(self.worker_games)}}

    # --- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The single-process league's keys, each learner's entry (optimiser, window, generators) from the learner
        actor."""
        self._held = cast(list[dict[str, Any]], ray.get(self.learner_actor.state_dict.remote()))
        try:  # what _learner_state reads while the base class assembles the state
            state = super().state_dict()
        finally:
            del self._held
        self.checkpointed = self.iteration
        return {**state, "runner": "ray"}

    def _learner_state(self, learner: L) -> dict[str, Any]:
        return self._held[self.learners.index(learner)]

    def _load_learner_state(self, learner: L, state: dict[str, Any]) -> None:
        """Into the learner actor, which answers with the weights for the driver's network."""
        weights = ray.get(self.learner_actor.load_state_dict.remote(self.learners.index(learner), state))
        learner.net.load_state_dict(weights)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.pool_refs = {}  # put again when first played
        self.checkpointed = self.iteration

    def worker_pool(self) -> WorkerPool | None:
        return self.workers


class RayLeagueTrainer(RayLeague[LeagueLearner], LeagueTrainer):
    """The AlphaZero league on Ray: ``LeagueWorker``s search, one ``LeagueLearnerActor`` holds every learner's
    optimiser and window (the driver's ``buffer`` is a one-position placeholder)."""

    def _start_learner_actor(self) -> Any:
        p = self.plan
        return cast(Any, ray.remote(LeagueLearnerActor)).options(**p.learner_options()).remote(
            self.cfg, [x.initial for x in self.learners], p.learner_threads, p.learner_gpus > 0)

    def _worker_class(self) -> type:
        return LeagueWorker

    def _buffer(self) -> PositionBuffer:
        return PositionBuffer(1, self.game.obs_shape, self.game.num_actions)  # the window is the learner actor's

    def play_and_train(self, learner: LeagueLearner, opponent: str, opponent_search: MCTS | None = None
                       ) -> dict[str, Any]:
        """One learner's games and training on the actors (``iterate`` plays every learner's at once)."""
        if opponent_search is not None:
            raise ConfigError("an opponent from outside the league (arena exploit) plays in one process only")
        return self._play_and_train_all([(learner, opponent)])[0]


class RayPPOLeagueTrainer(RayLeague[PPOLeagueLearner], PPOLeagueTrainer):
    """The PPO league on Ray: ``PPOLeagueWorker``s play a learner's games in one call, one
    ``PPOLeagueLearnerActor`` (on CPU: these networks are small) holds every learner's optimiser."""

    def _start_learner_actor(self) -> Any:
        p = replace(self.plan, learner_gpus=0.0)
        seeds = [stream_seed(self.cfg.selfplay.seed, k) for k in range(len(self.learners))]  # the agents' own
        return cast(Any, ray.remote(PPOLeagueLearnerActor)).options(**p.learner_options()).remote(
            self.cfg, [x.initial for x in self.learners], seeds, p.learner_threads)

    def _worker_class(self) -> type:
        return PPOLeagueWorker

    def _games_per_task(self) -> int:
        return self.cfg.selfplay.games_per_iteration  # one rollout per learner: its PPO update takes them at once

    def play_and_train(self, learner: PPOLeagueLearner, opponent: str) -> dict[str, Any]:
        """One learner's games and update on the actors (``iterate`` plays every learner's at once)."""
        return self._play_and_train_all([(learner, opponent)])[0]


def run_league_ray(cfg: LeagueConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None,
                   console: Console | None = None) -> LeagueResult:
    """``run_league`` on Ray: start or join Ray (``--ray-address``), start the actors, run the single-process
    loop around them; the actors are killed and Ray shut down (if this call started it) at the end."""
    console = console or Console(stderr=True)
    check_selfplay_config(cfg)  # before Ray starts: bad flags cost nothing
    if cfg.league.fixed_opponents:
        raise ConfigError("--league.fixed-opponents plays in one process only for now (drop --runner ray)")
    with ray_session(cfg.distributed):
        plan = selfplay_plan(cfg)
        trainer: RayLeagueTrainer | RayPPOLeagueTrainer = (
            RayPPOLeagueTrainer(cfg, plan) if cfg.league.agent == "ppo" else RayLeagueTrainer(cfg, plan))
        with running(trainer, lambda: save_league(trainer, run_dir, final=False), f"arena league --resume {run_dir}"):
            console.log(f"ray: {plan.num_workers} league workers x {plan.envs_per_worker} games per call "
                        f"({plan.worker_cpus:g} CPU each), {len(trainer.learners)} learners on {trainer.device}")
            return run_league_local(cfg, run_dir, resume=resume, stop_at=stop_at, console=console, trainer=trainer)
