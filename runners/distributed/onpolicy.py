"""The on-policy family (PPO, REINFORCE, GAIL's generator) on Ray: rollout workers, a learner actor, and their driver.

- ``PGWorker`` hosts an unchanged single-process ``PGTrainer`` on CPU (its vector env, ``PolicyActor`` and
  rollout collection) and returns one rollout per ``collect`` call, after pulling the newest parameters
  through a ``ParamsClient``.
- ``PGLearner`` hosts the unchanged ``PPOLearner`` / ``ReinforceLearner``. One update consumes one rollout
  from every worker, joined along the env axis in worker order (so an update sees the same ``[T, N]``
  batch as the single-process runner with ``N`` sub-envs, and per-env statistics such as the reward
  scaler's always see the same columns).
- ``OnPolicyTrainer`` is the driver.

GAIL (Ho & Ermon 2016): the reward model (discriminator, its optimiser and the demonstrations) lives in the
learner actor, beside the generator's learner. Workers collect with the env's rewards (which stay what is
logged and evaluated, as in one process); for each round the learner first takes the discriminator's steps on
the round's policy samples against expert samples, then relabels the round's rewards with it and runs the
PPO update on them: ``PGTrainer.learn``'s order, on the joined round. The discriminator so sees the behaviour
policy's samples (at most ``max_policy_lag`` updates old), which is what it must tell from the expert's. Its
state travels in checkpoints as ``reward_model``, as in one process. Behaviour-cloned initial weights
(``policy_init``) are loaded into the learner's network before its first publish, so every worker starts
from them.

Stale data, the rule: a rollout's policy lag is the learner's version when it is learned from minus the
version it was collected with. Rollouts with a lag above ``max_policy_lag`` are dropped and collected again;
the others are learned as they are, PPO's clipped importance ratio being taken against the behaviour
policy's log-probabilities stored in the rollout (REINFORCE has no correction: use ``max_policy_lag 0``
with it for the exact algorithm). With the default lag of 1, workers collect the next rollouts while the
learner updates on the previous ones ("one-step-off" PPO); with 0 they wait for each update (synchronous).

Memory is bounded: a worker gets its next ``collect`` only after its previous rollout was handed to the
learner, so at most two rollouts per worker exist at a time, and one learner call is in flight.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray.exceptions import ObjectLostError, OwnerDiedError

from agents.actor_critic import build_actor_critic
from agents.base import RewardModel
from agents.ppo import PPOLearner
from agents.reinforce import ReinforceLearner
from agents.torsos.recurrent import flatten_state, unflatten_state
from envs.base import EnvSpec
from replay.types import Rollout
from runners.distributed.apex import worker_seed
from runners.distributed.driver import DriverBase, LearnerReport, Plan, to_cpu
from runners.distributed.pool import OfferedParams, RayActor, WorkerPool, WorkerStats, started
from runners.families.pg import PGTrainConfig
from runners.local.envs import resolve_device
from runners.local.evaluate import EvalResult, evaluate_policy
from runners.local.logging import Logger
from runners.local.pg import PGTrainer


def concat_rollouts(rollouts: list[Rollout]) -> Rollout:
    """Rollouts of one policy joined along the env axis (into fresh, writable arrays).

    Rollouts of different lengths (REINFORCE's whole episodes) are padded at the end with masked-out steps.
    """
    t_len = max(r.num_steps for r in rollouts)

    def pad(x: np.ndarray) -> np.ndarray:
        extra = t_len - x.shape[0]
        return x if extra == 0 else np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)])

    def join(name: str) -> np.ndarray:
        return np.concatenate([pad(getattr(r, name)) for r in rollouts], axis=1)

    names = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "log_prob", "value", "mask")
    arrays = {name: join(name) for name in names}
    joined = Rollout(**arrays, last_obs=np.concatenate([r.last_obs for r in rollouts]))
    if rollouts[0].reset is None:
        return joined
    # Memory cores: start states are batch-first tensors ([N_w, ...] per leaf), joined along dim 0 like the envs.
    leaves = [flatten_state(r.initial_state) for r in rollouts]
    state = unflatten_state([torch.cat(ts) for ts in zip(*leaves, strict=True)], rollouts[0].initial_state)
    return replace(joined, initial_state=state, reset=join("reset"), final_value=join("final_value"),
                   last_value=np.concatenate([r.last_value for r in rollouts]))  # type: ignore[misc]


class _EpisodeLog:
    """A ``Logger`` that keeps the episodes a worker's ``PGTrainer`` reports, for its ``WorkerStats``."""

    def __init__(self) -> None:
        self.returns: list[float] = []
        self.lengths: list[int] = []

    def episode(self, step: int, ret: float, length: int) -> None:
        self.returns.append(ret)
        self.lengths.append(length)

    def progress(self, step: int, metrics: dict[str, float], epsilon: float | None, recent: Any) -> None:
        pass

    def evaluation(self, step: int, result: EvalResult) -> None:
        pass

    def close(self) -> None:
        pass


class PGWorker(RayActor):
    """A rollout-worker actor: the single-process ``PGTrainer``'s collection, with parameters from the learner."""

    def __init__(self, cfg: PGTrainConfig, index: int, num_envs: int, seed: int) -> None:
        if ray.get_runtime_context().was_current_actor_reconstructed:
            seed = worker_seed(seed, index, 0, os.getpid())  # a restart must not replay its first episodes
        self.index = index
        self.log = _EpisodeLog()
        # One torch thread: many workers share a machine and acting batches are small.
        # Its PPO learner is never stepped (only collection is used), so its minibatch split may be anything:
        # one, which fits any share of envs a memory core's per-column minibatches need.
        local = replace(cfg, env=replace(cfg.env, num_envs=num_envs), ppo=replace(cfg.ppo, num_minibatches=1),
                        runner=replace(cfg.runner, seed=seed, device="cpu", torch_threads=1))
        self.trainer = PGTrainer(local, self.log)
        self.params = OfferedParams(self.trainer.actor)

    def collect(self, version: int, params: list[Any]) -> tuple[WorkerStats, Rollout]:
        """Pull the offered parameters (when newer), collect one rollout; returns its stats and the rollout."""
        start = time.perf_counter()
        self.params.pull(version, params)
        before = self.trainer.step
        self.trainer.env_step()
        rollout, self.trainer.rollout = self.trainer.rollout, None
        assert rollout is not None
        stats = WorkerStats(self.index, self.trainer.step - before, tuple(self.log.returns), tuple(self.log.lengths),
                            int(self.trainer.actor.version), time.perf_counter() - start)
        self.log.returns, self.log.lengths = [], []
        return stats, rollout


class PGLearner(RayActor):
    """The learner actor: one policy-gradient update per round of rollouts, then a publish."""

    def __init__(self, cfg: PGTrainConfig, spec: EnvSpec, num_envs: int, seed: int, threads: int,
                 reward_model: RewardModel | None = None,
                 policy_init: dict[str, torch.Tensor] | None = None) -> None:
        """Build the network and learner as ``PGTrainer`` does.

        Args:
            reward_model: GAIL's discriminator (kept on the CPU it was built on); None: env rewards.
            policy_init: ``ActorCritic.policy_state_dict`` weights to start from (behaviour cloning).
        """
        torch.set_num_threads(threads)
        torch.manual_seed(seed)  # the single-process runner's network initialisation
        device = resolve_device(cfg.runner.device)
        value = cfg.algo == "ppo" or cfg.reinforce.baseline == "value"
        network = build_actor_critic(cfg.net, cfg.torso, spec, value=value).to(device)
        self.learner: PPOLearner | ReinforceLearner
        if cfg.algo == "ppo":
            per_round = cfg.ppo.rollout_length * num_envs
            self.learner = PPOLearner(network, cfg.ppo, num_envs, math.ceil(cfg.runner.total_steps / per_round),
                                      device, seed=seed + 1)
        else:
            self.learner = ReinforceLearner(network, cfg.reinforce, device)
        if policy_init is not None:
            self.learner.network.load_policy_state_dict(policy_init)
        self.reward_model = reward_model

    def device(self) -> str:
        """Where the learner's network lives (``cuda:0`` when the actor got a GPU)."""
        return str(next(self.learner.network.parameters()).device)

    def publish(self) -> LearnerReport:
        version, params = self.learner.get_params()
        return LearnerReport(version, [ray.put(to_cpu(params))])

    def update(self, refs: list[Any]) -> LearnerReport:
        """Learn from one round (``[ref]`` per worker, in worker order); a round with a lost rollout is dropped."""
        start = time.perf_counter()
        try:
            rollouts: list[Rollout] = ray.get(refs)
        except (ObjectLostError, OwnerDiedError):  # its node went away: the round no longer fits together
            return LearnerReport(self.learner.updates, None, dropped=len(refs))
        rollout = concat_rollouts(rollouts)
        if not rollout.mask.any():
            return LearnerReport(self.learner.updates, None)
        metrics: dict[str, float] = {}
        reward = None
        if self.reward_model is not None:  # PGTrainer.learn's order: discriminator steps, then relabel
            metrics.update(self.reward_model.update(rollout))
            reward = np.asarray(self.reward_model.reward(rollout.obs, rollout.action, rollout.next_obs), np.float32)
            metrics["model_reward_mean"] = float(reward[rollout.mask].mean())
        out = self.learner.update(rollout, reward)
        metrics.update(out.metrics)
        metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        metrics["dist/learner_seconds"] = time.perf_counter() - start
        report = self.publish()
        return LearnerReport(report.updates, report.params, metrics)

    def state_dict(self) -> dict[str, Any]:
        return to_cpu(self.learner.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state)

    def reward_model_state(self) -> dict[str, Any] | None:
        """The reward model's ``state_dict`` (None without one), for checkpoints."""
        return to_cpu(self.reward_model.state_dict()) if self.reward_model is not None else None

    def load_reward_model_state(self, state: dict[str, Any]) -> None:
        if self.reward_model is not None:
            self.reward_model.load_state_dict(state)


class OnPolicyTrainer(DriverBase):
    """PPO / REINFORCE on Ray; a ``runners.local.loop.LoopTrainer`` (see the module docstring for the lag rule)."""

    def __init__(self, cfg: PGTrainConfig, logger: Logger, spec: EnvSpec, plan: Plan,
                 video_dir: Path | None = None, reward_model: RewardModel | None = None,
                 policy_init: dict[str, torch.Tensor] | None = None) -> None:
        super().__init__(cfg, logger, spec, plan, video_dir)
        d, seed, n = cfg.distributed, cfg.runner.seed, plan.num_workers
        self.has_reward_model = reward_model is not None
        self.learner_actor = ray.remote(PGLearner).options(**plan.learner_options()).remote(
            cfg, spec, n * plan.envs_per_worker, seed, plan.learner_threads, reward_model, policy_init)
        worker = ray.remote(PGWorker).options(**plan.worker_options(d.max_restarts))
        self.pool = WorkerPool([worker.remote(cfg, w, plan.envs_per_worker, worker_seed(seed, w, plan.start_step))
                                for w in range(n)], d.max_restarts, d.restart_timeout, num_returns=2)
        self.ready: dict[int, tuple[int, Any]] = {}  # worker -> (version collected with, rollout ref)
        self.eval_network = build_actor_critic(cfg.net, cfg.torso, spec,
                                               value=cfg.algo == "ppo" or cfg.reinforce.baseline == "value")
        self.take_learner(started(self.learner_actor.publish.remote(), "learner", d.restart_timeout, self.close))

    def take_worker(self, i: int, stats: WorkerStats | None, payload: Any) -> None:
        if stats is not None:
            self.ready[i] = (stats.version, payload)  # the rollout's ref, with the version that collected it

    def learn(self) -> None:
        """Start an update once every worker's rollout is in (dropping those that have grown too stale)."""
        if self.learner_call is not None or len(self.ready) < len(self.pool.handles):
            return
        lag = self.cfg.distributed.max_policy_lag
        stale = [i for i, (v, _) in self.ready.items() if self.learner.updates - v > lag]
        for i in stale:
            del self.ready[i]
        self.dropped += len(stale)
        if not stale:
            for i, (v, _) in self.ready.items():
                self.worker_lag[i] = self.learner.updates - v  # the lag the rule is about: at learning time
            refs = [self.ready[i][1] for i in range(len(self.pool.handles))]
            self.learner_call = self.learner_actor.update.remote(refs)
            self.ready.clear()
        self.dispatch()

    def dispatch(self) -> None:
        # A rollout started now is learned after the update in flight (if any): lag 1 at least.
        if self.learner_call is not None and self.cfg.distributed.max_policy_lag < 1:
            return
        for i in range(len(self.pool.handles)):
            if i not in self.ready and not self.pool.busy(i) and self.pool.can_submit(i):
                self.pool.submit(i, self.learner.updates, self.learner.params)

    def dist_metrics(self) -> dict[str, float]:
        return {**super().dist_metrics(), "dist/ready_rollouts": float(len(self.ready))}

    def state_dict(self, with_replay: bool = False) -> dict[str, Any]:
        """``DriverBase``'s state plus the reward model's (under the single-process runner's key)."""
        state = super().state_dict(with_replay)
        state["reward_model"] = ray.get(self.learner_actor.reward_model_state.remote())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.has_reward_model and state.get("reward_model") is not None:
            ray.get(self.learner_actor.load_reward_model_state.remote(state["reward_model"]))

    def evaluate_params(self, params: dict[str, torch.Tensor], seed: int) -> EvalResult:
        self.eval_network.load_state_dict(params)
        r = self.cfg.runner
        return evaluate_policy(self.eval_network, self.cfg, r.eval_episodes, seed=seed, video_dir=self.video_dir,
                               step=self.step, progress=getattr(self.logger, "eval_progress", None))
