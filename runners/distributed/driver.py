"""The driver side of the Ray runner, shared by the DQN family (Ape-X) and the on-policy family.

The driver never touches observations or batches: it hands each worker actor one ``collect`` call at a
time (K env steps, with a reference to the newest parameters), reads the small ``WorkerStats`` each call
returns, keeps at most one learner call in flight, and does what the single-process runner does around
them (episode logging, evaluation, checkpoints) through the same ``runners.local.loop.run``: a trainer here is a
``LoopTrainer`` whose ``env_step`` waits for the next worker or learner result.

A worker whose call fails because its process died (``ray.kill``, a crash, a lost node) is simply sent its
next call: Ray restarts the actor (``max_restarts``) and queues the call until it is back. Learner and
replay actors are not restarted (their state is the run's); checkpoints make the whole job resumable.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch

from envs.base import EnvSpec
from runners.distributed.pool import WorkerPool, WorkerStats, kill_actor
from runners.local.evaluate import EvalResult, due_evaluation
from runners.local.logging import Logger


@dataclass(frozen=True)
class LearnerReport:
    """What one learner call returns: its counters, metrics and, when it published, the new parameters.

    Attributes:
        updates: learner updates so far (the parameter version).
        params: ``[ref]`` of the published CPU ``state_dict`` (wrapped in a list so Ray passes the reference
            on instead of fetching it), or None when nothing was published.
        metrics: the last update's scalars and the learner's own rates.
        replay_size: transitions in replay (DQN family; 0 for on-policy learners).
        dropped: rollouts the learner could not use (lost with a node; on-policy).
    """

    updates: int
    params: list[Any] | None
    metrics: dict[str, float] = field(default_factory=dict)
    replay_size: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class Plan:
    """Where and how big the actors are, decided once Ray is up (``runners.distributed.train.plan``).

    Attributes:
        num_workers: env-worker actors. envs_per_worker: sub-envs each.
        worker_cpus: logical CPUs reserved per worker. learner_cpus / learner_gpus: for the learner actor.
        learner_threads: torch threads of the learner.
        node_id: the driver's node: a CPU learner is placed there when it has room (replay goes beside the
            learner).
        start_step: env steps already done (resume), mixed into worker seeds.
    """

    num_workers: int
    envs_per_worker: int
    worker_cpus: float
    learner_cpus: float
    learner_gpus: float
    learner_threads: int
    node_id: str
    start_step: int = 0

    def worker_options(self, max_restarts: int) -> dict[str, Any]:
        # SPREAD: on a cluster, workers go to different nodes first (env stepping is what scales out).
        return {"num_cpus": self.worker_cpus, "max_restarts": max_restarts, "scheduling_strategy": "SPREAD"}

    def learner_options(self) -> dict[str, Any]:
        if self.learner_gpus > 0:  # wherever the GPU is
            return {"num_cpus": self.learner_cpus, "num_gpus": self.learner_gpus}
        return {"num_cpus": self.learner_cpus, "scheduling_strategy": near(self.node_id)}


def near(node_id: str, soft: bool = True) -> Any:
    """Prefer ``node_id`` (soft: fall back to any node with room; note Ray ignores a soft preference for
    actors that reserve no resources, so pin those with ``soft=False``)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=soft)


def to_cpu(obj: Any) -> Any:
    """Tensors moved to the CPU (and detached), recursively, so a GPU learner's state unpickles anywhere."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


class LearnerView:
    """The driver's view of the learner actor: its version and newest published parameters.

    ``get_params`` is what ``runners.local.checkpoint.model_payload`` calls for ``model.pt``: the parameters the
    driver evaluated last, not whatever the learner holds by now.
    """

    def __init__(self) -> None:
        self.updates = 0
        self.params: list[Any] = []

    def take(self, report: LearnerReport) -> None:
        self.updates = report.updates
        if report.params is not None:
            self.params = report.params

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        return self.updates, ray.get(self.params[0])


class _ActorView:
    epsilon: float | None = None  # per-worker epsilons go to the metrics, not the progress bar


class DriverBase:
    """What both families' drivers share: the wait-and-take loop, counters, episode logging, worker metrics,
    evaluation, state.

    Subclasses build the actors (``pool``, ``learner_actor``) and implement ``learn``
    (``runners.local.loop.LoopTrainer``),
    ``take_worker``, ``dispatch`` and ``evaluate_params``.
    """

    learner_actor: Any
    learner_call: Any = None  # the learner's call in flight, if any

    def __init__(self, cfg: Any, logger: Logger, spec: EnvSpec, plan: Plan, video_dir: Path | None = None) -> None:
        self.cfg, self.logger, self.spec, self.plan, self.video_dir = cfg, logger, spec, plan, video_dir
        num_workers = plan.num_workers
        self.step = 0
        self.evals_done = 0
        self.episodes = 0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.last_eval: EvalResult | None = None
        self.metrics: dict[str, float] = {}
        self.learner_metrics: dict[str, float] = {}
        self.actor = _ActorView()
        self.learner = LearnerView()
        self.notes: list[str] = []  # messages for the console (e.g. a replay that could not be restored)
        self.worker_sps = [0.0] * num_workers
        self.worker_lag = [0] * num_workers
        self.worker_inflight = [0] * num_workers
        self.worker_epsilon: dict[int, float] = {}
        self.replay_size = 0
        self.dropped = 0
        self.pool: WorkerPool
        self.next_status = time.monotonic() + cfg.distributed.status_every

    # --- the loop (runners.local.loop.LoopTrainer) --------------------------------------------------------
    def env_step(self) -> None:
        """Wait for worker or learner results and take them; then give idle workers their next call."""
        self.dispatch()
        for ref in self.pool.wait(self.learner_call):
            if ref == self.learner_call:  # taken before dispatching, so new calls get the new parameters
                self.learner_call = None
                self.take_learner(ray.get(ref))
                continue
            i, stats, payload = self.pool.take(ref)
            if stats is not None:  # None: the worker died; it is sent a new call once Ray restarted it
                self.record(stats)
            self.take_worker(i, stats, payload)
        self.dispatch()
        self.refresh_metrics()

    def learn(self) -> None:
        raise NotImplementedError

    def take_worker(self, i: int, stats: WorkerStats | None, payload: Any) -> None:
        """Worker ``i``'s finished call (``stats`` None when it died during it; ``payload``: its second return)."""
        raise NotImplementedError

    def dispatch(self) -> None:
        """Give idle workers their next call, when the family's rules allow it."""
        raise NotImplementedError

    # --- results ----------------------------------------------------------------------------------
    def record(self, stats: WorkerStats) -> None:
        """Count a worker's steps and log its finished episodes (stamped with the step count after them)."""
        self.step += stats.steps
        for ret, length in zip(stats.returns, stats.lengths, strict=True):
            self.recent_returns.append(ret)
            self.episodes += 1
            self.logger.episode(self.step, ret, length)
        i = stats.worker
        self.worker_sps[i] = stats.steps / max(stats.seconds, 1e-9)
        self.worker_lag[i] = self.learner.updates - stats.version  # on-policy drivers overwrite it at learning
        self.worker_inflight[i] = stats.inflight
        if stats.epsilon is not None:
            self.worker_epsilon[i] = stats.epsilon

    def take_learner(self, report: LearnerReport) -> None:
        self.learner.take(report)
        self.learner_metrics = report.metrics
        self.replay_size = report.replay_size or self.replay_size
        self.dropped += report.dropped

    def dist_metrics(self) -> dict[str, float]:
        """Per-worker SPS, policy lag, queue sizes and replay size, for metrics.jsonl and wandb."""
        out = {f"dist/sps_w{i}": round(s, 1) for i, s in enumerate(self.worker_sps)}
        out.update({f"dist/epsilon_w{i}": e for i, e in self.worker_epsilon.items()})
        out.update({"dist/sps_workers": float(sum(self.worker_sps)),
                    "dist/policy_lag": float(np.mean(self.worker_lag)),
                    "dist/policy_lag_max": float(max(self.worker_lag)),
                    "dist/inflight_pushes": float(sum(self.worker_inflight)),
                    "dist/pending_collects": float(len(self.pool.pending)),
                    "dist/restarts": float(sum(self.pool.deaths)),
                    "dist/replay_size": float(self.replay_size),
                    "dist/dropped_rollouts": float(self.dropped)})
        return out

    def refresh_metrics(self) -> None:
        self.metrics = {**self.learner_metrics, **self.dist_metrics()}
        every = self.cfg.distributed.status_every
        if every > 0 and time.monotonic() >= self.next_status:
            self.next_status = time.monotonic() + every
            console = getattr(self.logger, "console", None)
            if console is not None:
                console.log(self.status_line())

    def status_line(self) -> str:
        sps = ", ".join(f"w{i} {s:,.0f}" for i, s in enumerate(self.worker_sps))
        return (f"ray @ {self.step:,} steps: SPS {sum(self.worker_sps):,.0f} ({sps}); policy lag "
                f"{np.mean(self.worker_lag):.1f} (max {max(self.worker_lag)}); learner updates "
                f"{self.learner.updates:,}; in-flight pushes {sum(self.worker_inflight)}; replay "
                f"{self.replay_size:,}; restarts {sum(self.pool.deaths)}; dropped rollouts {self.dropped}")

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate_params(self, params: dict[str, torch.Tensor], seed: int) -> EvalResult:
        raise NotImplementedError

    def maybe_evaluate(self, force: bool = False) -> None:
        """Evaluate the newest published parameters on the driver, on the single-process schedule and seeds."""
        due = due_evaluation(self.cfg.runner, self.step, self.evals_done, force)
        if due is None:
            return
        self.evals_done, seed = due
        _, params = self.learner.get_params()
        self.last_eval = self.evaluate_params(params, seed)
        self.logger.evaluation(self.step, self.last_eval)

    # --- state ------------------------------------------------------------------------------------
    def state_dict(self, with_replay: bool = False) -> dict[str, Any]:
        """Counters and the learner's state (taken between two learner calls, so it is consistent).

        Replay travels separately (``buffer``, see ``runners.local.checkpoint.save_trainer``); workers hold no
        state worth saving: on resume they start fresh episodes with the restored parameters.
        """
        return {
            "step": self.step, "evals_done": self.evals_done, "episodes": self.episodes,
            "recent_returns": list(self.recent_returns),
            "learner": ray.get(self.learner_actor.state_dict.remote()),
            "env_id": self.spec.env_id, "obs_shape": list(self.spec.obs_shape),
            "num_actions": self.spec.num_actions, "action_shape": list(self.spec.action_shape),
            "runner": "ray", "num_workers": len(self.pool.handles),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters and learner (then republish its parameters) before the first ``env_step``."""
        self.step = int(state["step"])
        self.evals_done = int(state["evals_done"])
        self.episodes = int(state["episodes"])
        self.recent_returns.extend(state["recent_returns"])
        ray.get(self.learner_actor.load_state_dict.remote(state["learner"]))
        self.take_learner(ray.get(self.learner_actor.publish.remote()))

    def core_actors(self) -> dict[str, Any]:
        """The actors whose state the run's checkpoints hold, by name (none of them is restarted)."""
        return {"learner": self.learner_actor}

    def close(self) -> None:
        """Kill every actor this trainer started (Ray itself may be shared, e.g. by tests)."""
        self.pool.kill()
        kill_actor(self.learner_actor)
