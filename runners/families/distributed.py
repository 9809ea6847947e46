"""Where a run executes (one process, or Ray actors) and how the Ray runner is laid out, per family: the DQN
family's ``ApexConfig`` and the policy-gradient and self-play families' ``OnPolicyRayConfig`` extend the shared
``DistributedConfig``, so each command's ``--help`` lists only the options that apply. Each nests in its family's
config as ``distributed``; tyro builds
``--distributed.*`` from it (``arena train PRESET --runner ray --num-workers N --ray-address X`` are
shorthands for ``--distributed.kind``, ``--distributed.num-workers`` and ``--distributed.ray-address``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal

from agents.constraints import MAX_COUNT, AllowInf, Ge, Gt, Interval


@dataclass(frozen=True)
class DistributedConfig:
    """Runner choice and the Ray runner's layout, resources and fault tolerance: what every family shares."""

    kind: Literal["local", "ray"] = "local"
    """Runner: local (one process, runners/local/) or ray (worker actors feeding a learner actor)."""
    num_workers: Annotated[int, Ge(1)] = 2
    """Ray: env-worker actors, each with its own vector env and CPU copy of the policy."""
    ray_address: str | None = None
    """Ray: None starts a local Ray instance (shut down at the end); auto or HOST:PORT joins a running cluster
    (started with `ray start --head`), which keeps running afterwards."""
    num_cpus: Annotated[int, Ge(1)] | None = None
    """Ray, local instance only: logical CPUs Ray may schedule on (None: os.cpu_count())."""
    object_store_gb: Annotated[float, Gt(0)] | None = None
    """Ray, local instance only: object store size in GB (None: Ray's default, 30% of RAM)."""
    envs_per_worker: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 0
    """Sub-envs per worker (0: --env.num-envs shared out among the workers, at least 1 each)."""
    worker_cpus: Annotated[float, Ge(0)] = 0.0
    """Logical CPUs reserved per worker for Ray's scheduler (0: an equal share of what the learner leaves,
    at most 1). Fractions are allowed; each worker runs torch with one thread either way."""
    learner_cpus: Annotated[float, Gt(0)] = 1.0
    """Logical CPUs reserved for the learner actor (its torch threads, unless --runner.torch-threads is set)."""
    learner_gpus: Annotated[float, Ge(0)] = 1.0
    """GPUs for the learner when the cluster has one and --runner.device is not cpu (0: always CPU)."""
    max_restarts: Annotated[int, Ge(-1)] = 5
    """Restarts Ray grants each worker actor after it dies (-1: unlimited); past it the run stops."""
    restart_timeout: Annotated[float, Gt(0), AllowInf] = 120.0
    """Seconds an actor may take to start, and a dead worker to come back (Ray restarting it, maybe on another
    node), before the run stops (inf: wait for ever)."""
    log_to_driver: bool = False
    """Ray: forward the actors' stdout and stderr to this console (debugging)."""
    status_every: Annotated[float, Ge(0)] = 30.0
    """Seconds between console lines with per-worker SPS, policy lag, queue and replay sizes (0: never)."""


@dataclass(frozen=True)
class OnPolicyRayConfig(DistributedConfig):
    """The Ray runner for families whose workers act with recent parameters: policy gradients and self-play."""

    max_policy_lag: Annotated[int, Ge(0)] = 1
    """Rollouts (self-play: game batches) collected more than this many learner updates ago are dropped and recollected;
    younger ones are learned with PPO's importance ratio against the behaviour policy (0: synchronous)."""


@dataclass(frozen=True)
class ApexConfig(DistributedConfig):
    """The Ray runner for the DQN family (Ape-X, Horgan et al. 2018): chunks to sharded replay, sampled by the
    learner, with per-worker epsilons."""

    chunk_length: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 32
    """DQN family: steps per sub-env a worker collects before shipping them to replay in one message."""
    params_period: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 64
    """Env steps of a worker (summed over its sub-envs) between parameter pulls; pulls happen between chunks
    (on-policy workers pull before every rollout)."""
    publish_every: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 100
    """DQN family: learner updates between parameter publishes (one ray.put each) and per learner call."""
    max_inflight: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 2
    """DQN family: unacknowledged replay pushes per worker; a worker waits on its oldest before sending more."""
    prefetch: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 2
    """DQN family: sample requests the learner keeps in flight to hide replay latency."""
    sample_batches: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 4
    """DQN family: batches per sample request (and per priority update message)."""
    replay_shards: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 1
    """DQN family: replay actors; worker i feeds shard i mod shards, and the learner samples them in turn."""
    epsilon: Annotated[float, Interval(ge=0, le=1)] | None = 0.4
    """DQN family: Ape-X exploration, worker i acts with epsilon^(1 + alpha i / (N - 1)) (the base epsilon when
    N = 1); None: every worker follows the agent's own epsilon schedule over its own steps."""
    epsilon_alpha: Annotated[float, Ge(0)] = 7.0
    """DQN family: alpha of the Ape-X epsilons (Horgan et al. 2018 use epsilon 0.4, alpha 7)."""
    max_update_lag: Annotated[int, Ge(0)] | None = 1_000
    """DQN family: the learner keeps the single-process replay ratio (one update per --runner.train-every env
    steps); workers pause while it is more than this many updates behind. None: workers never pause
    (Ape-X's free-running actors; the learner never exceeds the ratio)."""


RAY_OPTIONS = frozenset(f.name for c in (ApexConfig, OnPolicyRayConfig) for f in dataclasses.fields(c))
"""Every family's Ray option names: a run saved when all families shared one set lists them all."""
