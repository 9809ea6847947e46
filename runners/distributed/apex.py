"""Ape-X actors for the DQN family (Horgan et al. 2018, "Distributed Prioritized Experience Replay").

- ``ApexWorker``: a vector env and a CPU copy of the Q network acting with its own epsilon
  (``apex_epsilons``); every ``chunk_length`` steps it ships the chunk as numpy arrays to its replay shard,
  with initial priorities for PER computed locally (``PriorityCalculator``). At most ``max_inflight`` pushes
  are unacknowledged; beyond that it waits for the oldest (backpressure on a slow replay).
- ``ReplayShard``: an unchanged ``ReplayBuffer`` (fixed capacity) fed by its workers, each owning a block
  of the buffer's env slots; the learner samples it and sends priorities back.
- ``ApexLearner``: an unchanged ``DQNLearner`` (on the GPU when the actor got one) that samples the shards in
  turn, keeping ``prefetch`` requests of ``sample_batches`` batches in flight, and publishes its CPU
  parameters with one ``ray.put`` per call.

Deviations from the paper, on purpose:
- Initial priorities bootstrap from the worker's online copy (``max_a Q(s', a)``; it has no target network);
  C51 agents keep the buffer's max-priority insertion (a cross-entropy needs the target distribution).
- With several shards each shard normalises its own PER weights, and shards are sampled in turn.
- The learner keeps the single-process replay ratio unless ``--distributed.max-update-lag None``
  (``runners.distributed.apex_driver``).
- Memory cores (R2D2 in Ape-X form, Kapturowski et al. 2019): chunks carry the state each step was acted
  with, and the shard's ``SequenceReplay`` cuts the sequences; unlike R2D2's actors, workers compute no
  sequence priorities (new sequences enter at the maximal priority).
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

import numpy as np
import ray
import torch

from agents.dqn import DQNActor, DQNLearner, build_q_network
from agents.dqn.recurrent import RecurrentDQNLearner
from agents.normalize import RunningMeanStd
from agents.schedules import LinearSchedule
from agents.torsos.recurrent import flatten_state
from envs import make
from envs.base import EnvSpec
from replay import ReplayBuffer
from replay.sequence import SequenceReplay, stores_state
from replay.types import Batch, SequenceBatch, Transition
from runners.distributed.chunk import Chunk, PriorityCalculator
from runners.distributed.driver import LearnerReport, to_cpu
from runners.distributed.pool import OfferedParams, RayActor, WorkerStats
from runners.families.dqn import TrainConfig
from runners.local.envs import env_options, resolve_device


def apex_epsilons(base: float, alpha: float, n: int) -> list[float]:
    """Ape-X's per-worker epsilons ``base^(1 + alpha i / (n - 1))``; ``[base]`` for one worker."""
    if n == 1:
        return [base]
    return [base ** (1.0 + alpha * i / (n - 1)) for i in range(n)]


def worker_seed(seed: int, index: int, start_step: int, incarnation: int = 0) -> int:
    """A worker's env/exploration seed, derived from the run seed (distinct per worker, resume and restart)."""
    return int(np.random.SeedSequence([seed, index, start_step, incarnation]).generate_state(1)[0] >> 1)


class ApexWorker(RayActor):
    """An env-worker actor: acts with its own epsilon, ships chunks (and initial priorities) to replay."""

    def __init__(self, cfg: TrainConfig, spec: EnvSpec, index: int, num_envs: int, epsilon: float | None,
                 seed: int, replay: str) -> None:
        """
        Args:
            cfg: the run's config. spec: its env's spec.
            index: ``i``, the worker's index. num_envs: its sub-envs.
            epsilon: its fixed exploration epsilon (None: the agent's schedule).
            seed: its env and exploration seed.
            replay: the name of its replay shard actor.
        """
        torch.set_num_threads(1)  # many workers share a machine; small acting batches gain nothing from more
        if ray.get_runtime_context().was_current_actor_reconstructed:
            seed = worker_seed(seed, index, 0, os.getpid())  # a restart must not replay its first episodes
        d = cfg.distributed
        self.cfg, self.index, self.replay = cfg, index, ray.get_actor(replay)
        self.chunk_length, self.params_period, self.max_inflight = d.chunk_length, d.params_period, d.max_inflight
        self.env = make(cfg.env.id, num_envs, seed, **env_options(cfg))
        torch.manual_seed(seed)
        network = build_q_network(cfg.agent, cfg.torso, spec)
        self.actor = DQNActor(network, cfg.agent, seed=seed + 1, epsilon=epsilon)
        self.params = OfferedParams(self.actor)
        a = cfg.agent
        self.recurrent = network.is_recurrent
        self.priorities = PriorityCalculator(network, num_envs, a.n_step, a.gamma) \
            if a.prioritized and not a.distributional and not self.recurrent else None
        self.obs = self.env.reset()
        self.rnn_state: Any = None  # memory cores: the per-env state, None: initial
        self.first = np.ones(num_envs, dtype=bool)  # memory cores: obs starts an episode (its state is zeroed)
        self.ep_step = np.zeros(num_envs, dtype=np.int64)  # memory cores: episode step of obs (as the shard counts)
        self.since_pull = self.params_period  # pull at the first call
        self.fresh = True  # the shard must forget what an earlier incarnation left in these env slots
        self.inflight: deque[Any] = deque()

    def collect(self, version: int, params: list[Any]) -> WorkerStats:
        """Pull parameters if due, step ``chunk_length`` times, push the chunk; returns the stats."""
        start = time.perf_counter()
        if self.since_pull >= self.params_period and self.params.pull(version, params):
            self.since_pull = 0
        chunk, returns, lengths = self._run_chunk()
        prios = self.priorities(chunk) if self.priorities is not None else None
        while len(self.inflight) >= self.max_inflight:  # backpressure: never more than max_inflight unacked
            ray.get(self.inflight.popleft())
        self.inflight.append(self.replay.add.remote(self.index, self.fresh, chunk, prios))
        self.fresh = False
        steps = chunk.action.size
        self.since_pull += steps
        return WorkerStats(self.index, steps, tuple(returns), tuple(lengths), int(self.actor.version),
                           time.perf_counter() - start, len(self.inflight), float(self.actor.epsilon))

    def _run_chunk(self) -> tuple[Chunk, list[float], list[int]]:
        t_len, e, a = self.chunk_length, self.env.num_envs, self.cfg.agent
        obs = np.empty((t_len, *self.obs.shape), self.obs.dtype)
        action = np.empty((t_len, e), np.int64)
        reward = np.empty((t_len, e), np.float32)
        terminated, truncated = np.empty((t_len, e), bool), np.empty((t_len, e), bool)
        final_index: list[np.ndarray] = []
        final_obs: list[np.ndarray] = []
        returns: list[float] = []
        lengths: list[int] = []
        states: list[list[np.ndarray]] = []  # memory cores: state leaves given with obs[t], where a sequence starts
        state_index: list[np.ndarray] = []
        for t in range(t_len):
            obs[t] = self.obs
            if self.recurrent:
                given = self.rnn_state if self.rnn_state is not None else self.actor.network.initial_state(e)
                rows = np.flatnonzero(stores_state(self.ep_step, a.burn_in, a.sequence_period))
                if len(rows):
                    state_index.append(t * e + rows)
                    states.append([x[torch.as_tensor(rows)].numpy() for x in flatten_state(given)])
                action[t], self.rnn_state = self.actor.act(self.obs, given, self.first)
            else:
                action[t], _ = self.actor.act(self.obs)
            res = self.env.step(action[t])
            self.first = res.terminated | res.truncated
            self.ep_step = np.where(self.first, 0, self.ep_step + 1)
            reward[t] = np.clip(res.reward, -1.0, 1.0) if self.cfg.agent.reward_clip else res.reward
            terminated[t], truncated[t] = res.terminated, res.truncated
            ended = np.flatnonzero(res.terminated | res.truncated)
            if len(ended):
                final_index.append(t * e + ended)
                final_obs.append(res.next_obs[ended])
            for i in np.flatnonzero(res.episode_length > 0):  # real episode ends (not Atari life losses)
                returns.append(float(res.episode_return[i]))
                lengths.append(int(res.episode_length[i]))
            self.obs = res.obs
        index = np.concatenate(final_index) if final_index else np.zeros(0, np.int64)
        finals = np.concatenate(final_obs) if final_obs else np.zeros((0, *obs.shape[2:]), obs.dtype)
        state = tuple(np.concatenate(leaf) for leaf in zip(*states, strict=True)) if states else ()
        chunk = Chunk(obs, self.obs.copy(), action, reward, terminated, truncated, index, finals,
                      np.concatenate(state_index) if state_index else np.zeros(0, np.int64), state)
        return chunk, returns, lengths


def build_replay(cfg: TrainConfig, spec: EnvSpec, capacity: int, num_envs: int,
                 seed: int) -> ReplayBuffer | SequenceReplay:
    """The single-process runner's replay for ``num_envs`` env slots: ``capacity`` transitions in a
    ``ReplayBuffer``, or a ``SequenceReplay`` (R2D2) of ``capacity / sequence_period`` sequences for memory cores."""
    a = cfg.agent
    if cfg.torso.core != "none":
        shapes = [t.shape[1:] for t in flatten_state(build_q_network(a, cfg.torso, spec).initial_state(1))]
        return SequenceReplay(max(capacity // a.sequence_period, 1), spec.obs_shape, spec.obs_dtype, num_envs,
                              shapes, a.burn_in, a.sequence_length, a.sequence_period, prioritized=a.prioritized,
                              alpha=a.priority_exponent, eps=a.priority_eps, weight_form=a.weight_form, seed=seed)
    return ReplayBuffer(capacity=capacity, obs_shape=spec.obs_shape, obs_dtype=spec.obs_dtype, num_envs=num_envs,
                        frame_stack=spec.frame_stack, n_step=a.n_step, gamma=a.gamma, prioritized=a.prioritized,
                        alpha=a.priority_exponent, eps=a.priority_eps, weight_form=a.weight_form, seed=seed)


class ReplayShard(RayActor):
    """A replay actor: one ``ReplayBuffer`` (a ``SequenceReplay`` for memory cores); worker ``w`` owns env slots
    ``slots[w]``."""

    def __init__(self, cfg: TrainConfig, spec: EnvSpec, slots: dict[int, tuple[int, int]], capacity: int,
                 seed: int) -> None:
        self.slots = slots  # worker -> (first env slot, number of envs)
        self.buffer = build_replay(cfg, spec, capacity, sum(n for _, n in slots.values()), seed)
        self.mismatched = 0  # chunks whose worker-side priorities did not line up (kept at max priority)
        # --agent.obs-norm: statistics of every observation stored, until the learner takes them when it starts.
        self.obs_stats = RunningMeanStd(spec.obs_shape) if cfg.agent.obs_norm else None

    def add(self, worker: int, fresh: bool, chunk: Chunk, priorities: np.ndarray | None) -> int:
        """Store a worker's chunk step by step; returns the number of transitions written."""
        first, n = self.slots[worker]
        ids = np.arange(first, first + n)
        b = self.buffer
        if fresh:
            # A new worker incarnation starts new episodes in these slots.
            b.restart_envs(ids)
        next_obs = chunk.next_obs()
        state = chunk.dense_state(b.state_shapes) if isinstance(b, SequenceReplay) else []
        if self.obs_stats is not None:
            self.obs_stats.update(chunk.obs)
        before = b.total_added
        for t in range(chunk.action.shape[0]):
            if isinstance(b, SequenceReplay):
                b.add(chunk.obs[t], chunk.action[t], chunk.reward[t], next_obs[t], chunk.terminated[t],
                      chunk.truncated[t], [x[t] for x in state], env_ids=ids)
            else:
                b.add(Transition(chunk.obs[t], chunk.action[t], chunk.reward[t], next_obs[t], chunk.terminated[t],
                                 chunk.truncated[t]), env_ids=ids)
        written = b.total_added - before
        if priorities is not None:
            if len(priorities) == written:
                b.update_priorities((before + np.arange(written)) % b.capacity, priorities)
            else:
                self.mismatched += 1
        return written

    def take_obs_stats(self) -> dict[str, Any] | None:
        """The observation statistics gathered so far (``RunningMeanStd.state_dict``); gathering stops."""
        stats, self.obs_stats = self.obs_stats, None
        return stats.state_dict() if stats is not None else None

    def sample(self, count: int, batch_size: int, beta: float) -> tuple[list[Batch | SequenceBatch], int]:
        """``count`` batches (none while fewer than ``batch_size`` transitions are sampleable) and the size."""
        if len(self.buffer) < batch_size:
            return [], len(self.buffer)
        return [self.buffer.sample(batch_size, beta) for _ in range(count)], len(self.buffer)

    def update_priorities(self, index: np.ndarray, priorities: np.ndarray) -> None:
        self.buffer.update_priorities(index, priorities)

    def nbytes(self) -> int:
        return self.buffer.nbytes

    def state_dict(self) -> dict[str, Any]:
        return self.buffer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> str | None:
        """Restore a saved buffer; returns why not (another worker layout) instead of raising."""
        try:
            self.buffer.load_state_dict(state)
        except ValueError as e:
            return str(e).split(":")[0]
        return None


class ApexLearner(RayActor):
    """The learner actor: samples the replay shards, steps a ``DQNLearner``, sends priorities, publishes."""

    def __init__(self, cfg: TrainConfig, spec: EnvSpec, seed: int, threads: int) -> None:
        torch.set_num_threads(threads)
        torch.manual_seed(seed)  # the single-process runner's network initialisation
        self.cfg = cfg
        network = build_q_network(cfg.agent, cfg.torso, spec)
        learner_cls = RecurrentDQNLearner if network.is_recurrent else DQNLearner  # R2D2 learns from sequences
        self.learner = learner_cls(network, cfg.agent, resolve_device(cfg.runner.device), seed=seed + 1)
        a, r, starts = cfg.agent, cfg.runner, cfg.replay.learning_starts
        self.beta = LinearSchedule(a.beta_start, 1.0, max(r.total_steps - starts, 1), begin=starts)
        self.shards: list[Any] = []
        self.requests: deque[tuple[int, Any]] = deque()  # (shard, sample ref), oldest first
        self.ready: deque[tuple[int, Batch]] = deque()  # sampled batches not yet learned from
        self.sizes: list[int] = []
        self.turn = 0
        self.obs_stats_taken = not cfg.agent.obs_norm

    def device(self) -> str:
        """Where the learner's network lives (``cuda:0`` when the actor got a GPU)."""
        return str(self.learner.device)

    def set_shards(self, shards: list[Any]) -> None:
        self.shards, self.sizes = shards, [0] * len(shards)

    def publish(self) -> LearnerReport:
        """The current parameters as one object in the object store."""
        version, params = self.learner.get_params()
        return LearnerReport(version, [ray.put(to_cpu(params))], replay_size=sum(self.sizes))

    def _request(self, beta: float) -> None:
        d = self.cfg.distributed
        while len(self.requests) < d.prefetch:
            s = self.turn % len(self.shards)
            self.turn += 1
            self.requests.append((s, self.shards[s].sample.remote(d.sample_batches, self.cfg.agent.batch_size, beta)))

    def train(self, target: int, step: int) -> LearnerReport:
        """Update until ``target`` updates (or the replay runs dry), then publish the parameters."""
        start, waited = time.perf_counter(), 0.0
        beta = self.beta(step)
        metrics: dict[str, float] = {}
        prios: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        done_before, empty = self.learner.updates, 0
        while self.learner.updates < target:
            if not self.ready:
                self._request(beta)
                s, ref = self.requests.popleft()
                t0 = time.perf_counter()
                batches, self.sizes[s] = ray.get(ref)
                waited += time.perf_counter() - t0
                self._request(beta)
                self.ready.extend((s, b) for b in batches)
                empty = 0 if batches else empty + 1
                if empty > len(self.shards) + self.cfg.distributed.prefetch:
                    time.sleep(0.01)  # too little data yet (pushes still in flight): let the driver poll
                    break
                continue
            s, batch = self.ready.popleft()
            # Only now: the shards have stored (and counted) observations. Taken at the first train call, the
            # statistics could be empty while the first pushes were still in flight, and frozen that way.
            self._take_obs_stats()
            out = self.learner.step(batch)
            metrics = out.metrics
            if self.cfg.agent.prioritized and out.priorities is not None:
                idx, pr = prios.setdefault(s, ([], []))
                idx.append(batch.index)
                pr.append(out.priorities)
        for s, (idx, pr) in prios.items():  # one message per shard; ordered before our next sample requests
            self.shards[s].update_priorities.remote(np.concatenate(idx), np.concatenate(pr))
        seconds = time.perf_counter() - start
        done = self.learner.updates - done_before
        metrics = {**metrics, "dist/learner_ups": done / max(seconds, 1e-9),
                   "dist/learner_wait_frac": waited / max(seconds, 1e-9)}
        report = self.publish() if done else LearnerReport(self.learner.updates, None, replay_size=sum(self.sizes))
        return LearnerReport(report.updates, report.params, metrics, report.replay_size)

    def _take_obs_stats(self) -> None:
        """--agent.obs-norm: as in one process, statistics of the observations seen before learning starts,
        frozen from then on (a resumed learner has them already, and the shards stop gathering either way)."""
        if self.obs_stats_taken:
            return
        self.obs_stats_taken = True
        norms = [n.obs_norm for n in (self.learner.online, self.learner.target) if n.obs_norm is not None]
        gathered = ray.get([s.take_obs_stats.remote() for s in self.shards])
        if norms and float(norms[0].count) == 0:
            for stats in (g for g in gathered if g is not None):
                for norm in norms:
                    norm.merge(stats["mean"], stats["var"], stats["count"])

    def state_dict(self) -> dict[str, Any]:
        return to_cpu(self.learner.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state)
