"""``ApexTrainer``: the driver of a distributed DQN-family run (actors in ``runners.distributed.apex``).

One loop turn (``env_step`` then ``learn``, called by ``runners.local.loop.run``):

1. wait for any worker's ``collect`` or the learner's ``train`` call to finish; count the worker's steps and
   log its episodes, take the learner's new version, parameters and metrics;
2. keep the learner busy: one ``train`` call at a time, each up to ``publish_every`` updates towards what the
   single-process replay ratio owes (``updates_owed``), so learning follows the preset's tuned cadence;
3. give every idle worker its next ``collect`` with the newest parameters, unless the learner is more than
   ``max_update_lag`` updates behind (then workers wait: a slow learner never makes memory grow, and the
   replay ratio stays what the preset was tuned for).

Memory is bounded everywhere: one call per worker, ``max_inflight`` pushes per worker, ``prefetch`` sample
requests, one learner call, a fixed replay capacity, one live parameter object per publish.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import ray
import torch

from agents.dqn import build_q_network
from envs.base import EnvSpec
from runners.distributed.apex import ApexLearner, ApexWorker, ReplayShard, apex_epsilons, worker_seed
from runners.distributed.driver import DriverBase, Plan, near
from runners.distributed.pool import WorkerPool, WorkerStats, kill_actor, kill_actors, started
from runners.families.dqn import TrainConfig
from runners.local.evaluate import EvalResult, evaluate
from runners.local.logging import Logger


class ReplayView:
    """What ``runners.local.checkpoint.save_trainer`` needs of a replay buffer, over the shards."""

    def __init__(self, shards: list[Any]) -> None:
        self.shards = shards
        self.nbytes = sum(ray.get([s.nbytes.remote() for s in shards]))  # fixed at construction

    def state_dict(self) -> dict[str, Any]:
        return {"shards": ray.get([s.state_dict.remote() for s in self.shards])}


class ApexTrainer(DriverBase):
    """Ape-X for the DQN family on Ray; a ``runners.local.loop.LoopTrainer``."""

    def __init__(self, cfg: TrainConfig, logger: Logger, spec: EnvSpec, plan: Plan,
                 video_dir: Path | None = None) -> None:
        super().__init__(cfg, logger, spec, plan, video_dir)
        d, seed = cfg.distributed, cfg.runner.seed
        self.learner_actor = ray.remote(ApexLearner).options(**plan.learner_options()).remote(
            cfg, spec, seed, plan.learner_threads)
        # Replay lives beside the learner: sampling is the busiest path.
        learner_node = started(self.learner_actor.node_id.remote(), "learner", d.restart_timeout,
                               lambda: kill_actor(self.learner_actor))
        n, e, shards = plan.num_workers, plan.envs_per_worker, d.replay_shards
        slots: list[dict[int, tuple[int, int]]] = [{} for _ in range(shards)]
        for w in range(n):
            own = slots[w % shards]
            own[w] = (len(own) * e, e)
        # Named, so that workers look their shard up: a restarted actor's constructor arguments are re-resolved,
        # and an actor handle among them would not outlive the first start (ray-project/ray#53727).
        token = uuid.uuid4().hex[:12]
        self.shard_names = [f"arena-replay-{token}-{s}" for s in range(shards)]
        self.shards: list[Any] = [ray.remote(ReplayShard).options(
            num_cpus=0, name=self.shard_names[s], scheduling_strategy=near(learner_node, soft=False)).remote(
            cfg, spec, slots[s], cfg.replay.capacity // shards, seed + 3 + 7919 * s) for s in range(shards)]
        self.buffer = ReplayView(self.shards)
        started(self.learner_actor.set_shards.remote(self.shards), "replay", d.restart_timeout,
                lambda: kill_actors([self.learner_actor, *self.shards]))
        eps = apex_epsilons(d.epsilon, d.epsilon_alpha, n) if d.epsilon is not None else [None] * n
        worker = ray.remote(ApexWorker).options(**plan.worker_options(d.max_restarts))
        self.pool = WorkerPool([worker.remote(cfg, spec, w, e, eps[w], worker_seed(seed, w, plan.start_step),
                                              self.shard_names[w % shards]) for w in range(n)],
                               d.max_restarts, d.restart_timeout)
        self.idle = set(range(n))  # workers without a collect call (not started yet, or waiting on the learner)
        self.eval_network = build_q_network(cfg.agent, cfg.torso, spec)
        self.take_learner(ray.get(self.learner_actor.publish.remote()))

    def updates_owed(self) -> int:
        """The single-process cadence: one update per ``train_every`` env steps after ``learning_starts``."""
        starts = self.cfg.replay.learning_starts
        return 0 if self.step < starts else (self.step - starts) // self.cfg.runner.train_every + 1

    def learner_behind(self) -> bool:
        lag = self.cfg.distributed.max_update_lag
        return lag is not None and self.updates_owed() - self.learner.updates > lag

    def take_worker(self, i: int, stats: WorkerStats | None, payload: Any) -> None:
        self.idle.add(i)  # a dead worker's next call waits in Ray until the actor is restarted

    def learn(self) -> None:
        """Keep one learner call in flight while updates are owed."""
        owed = self.updates_owed()
        if self.learner_call is None and owed > self.learner.updates:
            target = min(owed, self.learner.updates + self.cfg.distributed.publish_every)
            self.learner_call = self.learner_actor.train.remote(target, self.step)

    def dispatch(self) -> None:
        if self.learner_behind():
            return
        for i in sorted(self.idle):
            if self.pool.can_submit(i):
                self.pool.submit(i, self.learner.updates, self.learner.params)
                self.idle.discard(i)

    def dist_metrics(self) -> dict[str, float]:
        return {**super().dist_metrics(), "dist/waiting_workers": float(len(self.idle))}

    def evaluate_params(self, params: dict[str, torch.Tensor], seed: int) -> EvalResult:
        self.eval_network.load_state_dict(params)
        r = self.cfg.runner
        return evaluate(self.eval_network, self.cfg, r.eval_episodes, r.eval_epsilon, seed=seed,
                        video_dir=self.video_dir, step=self.step, progress=getattr(self.logger, "eval_progress", None))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Counters and learner (``DriverBase``), then each shard's replay when the layout still fits."""
        super().load_state_dict(state)
        saved = state.get("replay")
        if saved is None:
            return
        shards = saved.get("shards", [saved])  # a single-process checkpoint holds one plain buffer
        if len(shards) != len(self.shards):
            self.notes.append(f"replay was saved as {len(shards)} shard(s), this run has {len(self.shards)}: "
                              "refilling it")
            return
        errors = ray.get([s.load_state_dict.remote(x) for s, x in zip(self.shards, shards, strict=True)])
        if any(errors):
            self.notes.append(f"replay does not fit this worker layout ({next(e for e in errors if e)}): "
                              "refilling it")

    def core_actors(self) -> dict[str, Any]:
        return {**super().core_actors(), **{f"replay shard {s}": h for s, h in enumerate(self.shards)}}

    def close(self) -> None:
        super().close()
        for s in self.shards:
            try:
                ray.kill(s, no_restart=True)
            except Exception:  # already gone
                pass
