"""Distributed training on Ray: env-worker actors feeding a learner actor, on one machine or a cluster.

``arena train PRESET --runner ray --num-workers N [--ray-address auto|HOST:PORT]`` lands here from
``runners.api.train``. This module starts or joins Ray, checks the config and the cluster's resources,
builds the family's driver and runs it in the single-process runner's own loop (``runners.local.loop.run``:
evaluation, target return, checkpoints, SIGINT/SIGTERM), so run directories, metrics, checkpoints and
``--resume`` work as in one process.

- DQN family (Ape-X, Horgan et al. 2018): ``runners.distributed.apex`` (actors; what they ship in
  ``runners.distributed.chunk``) and ``runners.distributed.apex_driver`` (driver).
- PPO, REINFORCE and GAIL's generator (the discriminator lives with the learner):
  ``runners.distributed.onpolicy``.
- What both share: the driver's loop, metrics, evaluation and state (``runners.distributed.driver``), the worker
  pool with restarts and the actors' parameter pulls (``runners.distributed.pool``).
- AlphaZero self-play (``arena selfplay PRESET --runner ray``): ``runners.distributed.selfplay``, which uses
  ``ray_session`` and ``fit_resources`` from here.
- Joining a cluster at ``--ray-address`` fast and in one line when nobody answers: ``runners.distributed.connect``.

Faults: a lost worker ends the run with a fresh checkpoint (``WorkerLostError``); a dead learner or replay
shard took state no checkpoint can hold, so the run ends keeping the last periodic checkpoint. Both are a
one-line ``RunAbortedError`` with the ``--resume`` command.

Memory-core torsos run on Ray too: DQN-family workers ship their recurrent states with each chunk and
the replay actors cut R2D2 sequences from them; PPO/REINFORCE rollouts carry their start states and reset
flags, joined along the env axis. Only runners/distributed/ imports ray. Not distributed: behaviour
cloning (no env steps to spread; refused with a one-line ``ConfigError``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import ray
import torch
from ray.exceptions import RayError
from rich.console import Console

from agents.base import RewardModel
from agents.errors import ConfigError, RunAbortedError
from envs.make import spec_for
from runners.distributed.connect import check_reachable, quiet_stderr
from runners.distributed.driver import DriverBase, Plan
from runners.distributed.pool import WorkerLostError, dead_actors, error_line, lost_state_message
from runners.families.distributed import ApexConfig, DistributedConfig
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.local import signals
from runners.local.checkpoint import load_trainer_state, save_trainer
from runners.local.dqn import validate_dqn
from runners.local.envs import env_options
from runners.local.imitation import gail_setup
from runners.local.logging import NullLogger
from runners.local.loop import RunResult, run
from runners.local.pg import validate_pg
from runners.local.plot import plot_runs
from runners.local.resume import check_fits
from runners.local.train import open_run_dir, print_summary, run_logger, summary


def check_resources(d: DistributedConfig) -> None:
    """The checks every family shares: worker count, restarts and resource requests (one-line ``ConfigError``)."""
    if d.num_workers < 1:
        raise ConfigError(f"--num-workers must be >= 1, got {d.num_workers}")
    if d.max_restarts < -1:
        raise ConfigError("--distributed.max-restarts must be >= -1 (-1: unlimited)")
    for name in ("worker_cpus", "learner_cpus", "learner_gpus"):
        value = getattr(d, name)
        if value < 0 or (value > 1 and value != int(value)):
            raise ConfigError(f"--distributed.{name.replace('_', '-')} must be >= 0, and whole above 1 "
                              f"(Ray's rule for fractional resources), got {value}")
    if d.learner_cpus <= 0:
        raise ConfigError("--distributed.learner-cpus must be > 0")


def check_config(cfg: Any) -> None:
    """Reject what the Ray runner cannot run, before Ray starts (one-line ``ConfigError``)."""
    if not isinstance(cfg, (TrainConfig, PGTrainConfig)):
        raise ConfigError(f"{type(cfg).__name__}: arena train runs the DQN family, PPO/REINFORCE and GAIL on Ray "
                          "(AlphaZero self-play: arena selfplay PRESET --runner ray)")
    d = cfg.distributed
    if isinstance(cfg, PGTrainConfig) and cfg.imitation == "bc":
        raise ConfigError("--imitation bc takes no env steps, so there is nothing to spread over Ray workers; "
                          "use --runner local")
    check_resources(d)
    if d.envs_per_worker < 0:
        raise ConfigError("--distributed.envs-per-worker must be >= 0 (0: share --env.num-envs out)")
    if isinstance(d, ApexConfig):  # the DQN family; every field's own range is checked by validate_config
        if not 1 <= d.replay_shards <= d.num_workers:
            raise ConfigError(f"--distributed.replay-shards must be in [1, --num-workers] = [1, {d.num_workers}]")
        if isinstance(cfg, TrainConfig) and cfg.replay.capacity // d.replay_shards < cfg.agent.batch_size:
            raise ConfigError("--replay.capacity / --distributed.replay-shards must hold at least one batch")


@contextmanager
def ray_session(d: DistributedConfig) -> Iterator[bool]:
    """Ray for the run: used as is when the caller already started it (tests, notebooks); else started
    locally or joined at ``ray_address``, and shut down (for a cluster: disconnected) at the end.

    Yields whether this call initialised Ray.
    """
    if d.ray_address is not None:
        check_reachable(d.ray_address)
    if ray.is_initialized():
        yield False
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": d.log_to_driver,
                              "logging_level": logging.WARNING}
    if d.ray_address is None:
        # "local": a new private instance. Without it ray.init() joins RAY_ADDRESS or the latest `ray start`
        # cluster on this machine, which is what --ray-address auto asks for, not the default.
        kwargs["address"] = "local"
        # Ray starts its worker processes at niceness 15 (below the driver and any other job on the machine);
        # arena's workers are the run's main work, so they run at the driver's priority unless told otherwise.
        os.environ.setdefault("RAY_worker_niceness", "0")
        kwargs["num_cpus"] = d.num_cpus or os.cpu_count() or 1
        if d.object_store_gb is not None:
            kwargs["object_store_memory"] = int(d.object_store_gb * 1e9)
    else:
        kwargs["address"] = d.ray_address
    try:
        # Joining: Ray's C++ core logs every failed attempt to reach the cluster; the error below says it in one line.
        with quiet_stderr() if d.ray_address is not None else nullcontext():
            owned_signals = signals.installed()
            ray.init(**kwargs)
    except SystemExit as e:  # ray.init's own SIGTERM handler (sys.exit(15)) fired while Ray was starting
        if owned_signals and e.code == signal.SIGTERM:
            raise signals.SignalExit(signal.SIGTERM) from None
        raise
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"--ray-address {d.ray_address}" if d.ray_address else "a local Ray instance"
        raise ConfigError(f"cannot start or join {where}: {str(e).splitlines()[0]}") from None
    if owned_signals:  # ray.init's SIGTERM handler exits with code 15; arena's exits 143 (and saves in the loop)
        signals.install()
    try:
        yield True
    finally:
        ray.shutdown()


def fit_resources(d: DistributedConfig, device: str) -> tuple[float, float]:
    """``(worker_cpus, learner_gpus)`` that fit the cluster Ray reports, or a ``ConfigError`` that says what to
    lower. ``device`` is the learner's (``auto``, ``cpu`` or ``cuda...``); learner_gpus is 0 for a CPU learner."""
    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 0.0)), float(total.get("GPU", 0.0))
    use_gpu = d.learner_gpus > 0 and device != "cpu" and gpus >= d.learner_gpus
    if device.startswith("cuda") and not use_gpu:
        raise ConfigError(f"--runner.device {device}: the Ray cluster has {gpus:g} GPU(s) (the learner asks for "
                          f"--distributed.learner-gpus {d.learner_gpus:g}); use --runner.device auto or cpu")
    worker_cpus = d.worker_cpus
    if worker_cpus == 0:  # an equal share of what the learner leaves, at most one each (Ray's 1e-4 precision)
        worker_cpus = min(1.0, math.floor((cpus - d.learner_cpus) / d.num_workers * 1e4) / 1e4)
    need = d.learner_cpus + d.num_workers * worker_cpus
    if worker_cpus <= 0 or need > cpus + 1e-6:
        raise ConfigError(f"{d.num_workers} workers x {worker_cpus:g} CPUs + the learner's {d.learner_cpus:g} need "
                          f"{need:g} CPUs, the Ray cluster has {cpus:g}: lower --num-workers, "
                          "--distributed.worker-cpus (fractions allowed) or --distributed.learner-cpus")
    return worker_cpus, d.learner_gpus if use_gpu else 0.0


def plan(cfg: TrainConfig | PGTrainConfig, start_step: int = 0) -> Plan:
    """Actor sizes that fit the cluster Ray reports, or a ``ConfigError`` that says what to lower."""
    d = cfg.distributed
    worker_cpus, learner_gpus = fit_resources(d, cfg.runner.device)
    envs = d.envs_per_worker or max(1, math.ceil(cfg.env.num_envs / d.num_workers))
    threads = max(1, int(d.learner_cpus), cfg.runner.torch_threads)  # the learner uses the CPUs it reserved
    return Plan(d.num_workers, envs, worker_cpus, d.learner_cpus, learner_gpus, threads,
                ray.get_runtime_context().get_node_id(), start_step)


def build_trainer(cfg: TrainConfig | PGTrainConfig, logger: Any = None, video_dir: Path | None = None,
                  start_step: int = 0, reward_model: RewardModel | None = None,
                  policy_init: dict[str, torch.Tensor] | None = None) -> DriverBase:
    """Check ``cfg`` against its env and the cluster and start the family's actors (Ray must be up).

    A GAIL config without ``reward_model`` gets one from ``gail_setup`` (demonstrations, discriminator and,
    with ``--gail.bc-pretrain-steps``, behaviour-cloned initial policy weights), as in one process.
    """
    from runners.distributed.apex_driver import ApexTrainer
    from runners.distributed.onpolicy import OnPolicyTrainer

    check_config(cfg)
    spec = spec_for(cfg.env.id, **env_options(cfg))
    logger = logger or NullLogger()
    if isinstance(cfg, PGTrainConfig):
        p = plan(cfg, start_step)
        # The learner's update sees every worker's envs side by side (recurrent PPO splits them by column).
        validate_pg(dataclasses.replace(cfg, env=dataclasses.replace(
            cfg.env, num_envs=p.num_workers * p.envs_per_worker)), spec)
        if cfg.imitation == "gail" and reward_model is None:
            reward_model, bc_init = gail_setup(cfg)
            policy_init = policy_init if policy_init is not None else bc_init
        return OnPolicyTrainer(cfg, logger, spec, p, video_dir, reward_model, policy_init)
    if reward_model is not None or policy_init is not None:
        raise ValueError("a reward model or initial policy weights need a policy-gradient config")
    validate_dqn(cfg, spec)
    return ApexTrainer(cfg, logger, spec, plan(cfg, start_step), video_dir)


def train_distributed(cfg: TrainConfig | PGTrainConfig, run_dir: Path, resume: bool = False,
                      stop_at: int | None = None, console: Console | None = None,
                      reward_model: RewardModel | None = None,
                      policy_init: dict[str, torch.Tensor] | None = None) -> RunResult:
    """The DQN, policy-gradient and imitation families' Ray trainer (``runners.api.train`` with ``--runner ray``):
    the same run directory, logs, checkpoints and summary as in one process.

    ``reward_model`` and ``policy_init`` are ``train``'s (GAIL); ``policy_init`` is ignored on resume, where the
    checkpoint holds the weights.
    """
    console = console or Console(stderr=True)
    check_config(cfg)  # before demonstrations load or Ray starts: bad flags cost nothing
    if isinstance(cfg, PGTrainConfig) and cfg.imitation == "gail" and reward_model is None:
        # The discriminator travels to the learner actor, which relabels rewards (runners/distributed/onpolicy.py).
        reward_model, bc_init = gail_setup(cfg, console)
        policy_init = policy_init if policy_init is not None else bc_init
    if cfg.runner.torch_threads > 0:  # the driver evaluates; torch's default (a thread per core) is slow there
        torch.set_num_threads(cfg.runner.torch_threads)
    state = load_trainer_state(run_dir, lambda ckpt: check_fits(cfg, ckpt, run_dir)) if resume else None
    video_dir = run_dir / "videos" if cfg.log.video else None
    with ray_session(cfg.distributed):
        try:
            trainer = build_trainer(cfg, NullLogger(), video_dir, start_step=int(state["step"]) if state else 0,
                                    reward_model=reward_model, policy_init=None if resume else policy_init)
        except RayError as e:  # the actors' own start-up failures are one line already (pool.started)
            raise RunAbortedError(f"Ray failed while starting the run's actors: {error_line(e)}") from None
        try:
            try:
                config, env_spec = open_run_dir(trainer, cfg, run_dir, state, resume)
            except RayError as e:
                raise RunAbortedError(f"Ray failed while restoring {run_dir}'s checkpoint into the actors: "
                                      f"{error_line(e)}") from None
            logger = run_logger(cfg, run_dir, config, env_spec, trainer.step, console)
            trainer.logger = logger
            try:
                for note in trainer.notes:
                    console.log(note)
                p = trainer.plan
                console.log(f"ray: {p.num_workers} workers x {p.envs_per_worker} envs ({p.worker_cpus:g} CPU each), "
                            f"learner on {ray.get(trainer.learner_actor.device.remote())}; run directory {run_dir}")
                saved_at = [int(state["step"])] if state is not None else []  # the newest checkpoint's step

                def save(t: DriverBase, final: bool) -> None:
                    save_trainer(t, run_dir, final, config, env_spec)
                    saved_at[:] = [t.step]

                try:
                    try:
                        result = run(trainer, save, stop_at=stop_at)
                    except WorkerLostError as e:  # learner and replay live on: keep what they learned
                        save(trainer, False)
                        raise RunAbortedError(f"{e} (checkpoint saved at step {trainer.step:,}: arena train "
                                              f"--resume {run_dir})") from None
                except RayError:
                    # A dead learner or replay shard took state no checkpoint can hold now: the last periodic one
                    # stays as it is (a save would fail before writing anything). Any other Ray error is a bug.
                    dead = dead_actors(trainer.core_actors())
                    if not dead:
                        raise
                    raise RunAbortedError(lost_state_message(dead, saved_at[0] if saved_at else None, "step",
                                                             f"arena train --resume {run_dir}")) from None
                curve = plot_runs([run_dir], run_dir / "learning_curve.png", title=f"{cfg.preset} on {cfg.env.id}")
                logger.finish(summary(result), [curve, run_dir / "checkpoints" / "model.pt"])
            finally:
                logger.close()
        finally:
            trainer.close()
    print_summary(console, cfg, run_dir, result)
    return result
