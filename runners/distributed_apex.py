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
  (``runners.distributed_apex_driver``).
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import torch

from agents.dqn import DQNActor, DQNLearner, QNetwork, build_q_network
from agents.params import ParamsClient
from agents.schedules import LinearSchedule
from envs import make
from envs.base import EnvSpec
from replay import ReplayBuffer
from replay.nstep import NStepAccumulator
from replay.types import Batch, Transition
from runners.config import TrainConfig
from runners.distributed_driver import LearnerReport, WorkerStats, to_cpu
from runners.loop import env_options, resolve_device


def apex_epsilons(base: float, alpha: float, n: int) -> list[float]:
    """Ape-X's per-worker epsilons ``base^(1 + alpha i / (n - 1))``; ``[base]`` for one worker."""
    if n == 1:
        return [base]
    return [base ** (1.0 + alpha * i / (n - 1)) for i in range(n)]


def worker_seed(seed: int, index: int, start_step: int, incarnation: int = 0) -> int:
    """A worker's env/exploration seed, derived from the run seed (distinct per worker, resume and restart)."""
    return int(np.random.SeedSequence([seed, index, start_step, incarnation]).generate_state(1)[0] >> 1)


@dataclass(frozen=True)
class Chunk:
    """``T`` steps of a worker's ``E`` sub-envs, as shipped to replay.

    ``next_obs[t]`` equals ``obs[t + 1]`` except where an episode ended, so only those rows travel
    (``final_index`` into the flattened ``[T * E]`` steps, ``final_obs``), which halves the bytes.
    """

    obs: np.ndarray  # [T, E, *obs_shape]
    last_obs: np.ndarray  # [E, *obs_shape] observation after the last step
    action: np.ndarray  # [T, E] int64
    reward: np.ndarray  # [T, E] float32, clipped when the agent clips rewards
    terminated: np.ndarray  # [T, E] bool
    truncated: np.ndarray  # [T, E] bool
    final_index: np.ndarray  # [K] int64 flat indices t * E + e of the steps that ended an episode
    final_obs: np.ndarray  # [K, *obs_shape] their final observations

    def next_obs(self) -> np.ndarray:
        """``[T, E, *obs_shape]`` observation after each step (the final one at episode ends)."""
        nxt = np.concatenate([self.obs[1:], self.last_obs[None]], axis=0)
        flat = nxt.reshape(-1, *nxt.shape[2:])
        flat[self.final_index] = self.final_obs
        return nxt


class PriorityCalculator:
    """Initial PER priorities ``|R + gamma^k max_a Q(s_{t+k}, a) - Q(s_t, a_t)|`` at the worker.

    A private ``NStepAccumulator`` sees the worker's steps in the order its replay shard will, so it emits
    the same n-step transitions in the same order as the shard writes them: priority ``j`` of a chunk
    belongs to the shard's ``j``-th new transition. Observations enter it as refs into a small ring of
    per-step Q values (``n + 1`` steps deep: pending steps are at most ``n - 1`` old).
    """

    def __init__(self, network: QNetwork, num_envs: int, n_step: int, gamma: float) -> None:
        self.network, self.num_envs = network, num_envs
        self.acc = NStepAccumulator(num_envs, n_step, gamma)
        self.depth = n_step + 1
        self.q_taken = np.zeros(self.depth * num_envs, np.float64)  # [depth * E] Q(s_t, a_t)
        self.bootstrap = np.zeros(self.depth * num_envs, np.float64)  # [depth * E] max_a Q(s_{t+1}, a)
        self.t = 0

    def reset(self) -> None:
        """Forget pending steps (a fresh worker: the shard forgets its envs' too)."""
        self.acc.q_len[:] = 0

    def __call__(self, chunk: Chunk) -> np.ndarray:
        t_len, e = chunk.action.shape
        with torch.no_grad():
            both = np.concatenate([chunk.obs, chunk.next_obs()]).reshape(2 * t_len * e, *chunk.obs.shape[2:])
            out, _ = self.network(torch.as_tensor(both))
            q = self.network.q_values(out).double().numpy()  # [2 T E, A]
        q_taken = q[np.arange(t_len * e), chunk.action.reshape(-1)].reshape(t_len, e)
        bootstrap = q[t_len * e:].max(axis=1).reshape(t_len, e)
        envs = np.arange(e)
        tds = []
        for t in range(t_len):
            refs = (self.t % self.depth) * e + envs
            self.q_taken[refs], self.bootstrap[refs] = q_taken[t], bootstrap[t]
            out_t = self.acc.step(envs, refs, chunk.action[t], chunk.reward[t], refs, chunk.terminated[t],
                                  chunk.truncated[t])
            tds.append(out_t.reward + out_t.discount * self.bootstrap[out_t.ref_next_obs]
                       - self.q_taken[out_t.ref_obs])
            self.t += 1
        return np.abs(np.concatenate(tds)).astype(np.float32)


class ApexWorker:
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
        self.offer: tuple[int, list[Any]] = (0, [])
        self.client = ParamsClient(self.actor, lambda: (self.offer[0], ray.get(self.offer[1][0])))
        a = cfg.agent
        self.priorities = PriorityCalculator(network, num_envs, a.n_step, a.gamma) \
            if a.prioritized and not a.distributional else None
        self.obs = self.env.reset()
        self.since_pull = self.params_period  # pull at the first call
        self.fresh = True  # the shard must forget what an earlier incarnation left in these env slots
        self.inflight: deque[Any] = deque()

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def collect(self, version: int, params: list[Any]) -> WorkerStats:
        """Pull parameters if due, step ``chunk_length`` times, push the chunk; returns the stats."""
        start = time.perf_counter()
        if self.since_pull >= self.params_period and params:
            self.offer = (version, params)
            if self.client.update(version):
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
        t_len, e = self.chunk_length, self.env.num_envs
        obs = np.empty((t_len, *self.obs.shape), self.obs.dtype)
        action = np.empty((t_len, e), np.int64)
        reward = np.empty((t_len, e), np.float32)
        terminated, truncated = np.empty((t_len, e), bool), np.empty((t_len, e), bool)
        final_index: list[np.ndarray] = []
        final_obs: list[np.ndarray] = []
        returns: list[float] = []
        lengths: list[int] = []
        for t in range(t_len):
            obs[t] = self.obs
            action[t], _ = self.actor.act(self.obs)
            res = self.env.step(action[t])
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
        chunk = Chunk(obs, self.obs.copy(), action, reward, terminated, truncated, index, finals)
        return chunk, returns, lengths


def build_replay(cfg: TrainConfig, spec: EnvSpec, capacity: int, num_envs: int, seed: int) -> ReplayBuffer:
    """The single-process runner's ``ReplayBuffer`` for ``num_envs`` env slots."""
    a = cfg.agent
    return ReplayBuffer(capacity=capacity, obs_shape=spec.obs_shape, obs_dtype=spec.obs_dtype, num_envs=num_envs,
                        frame_stack=spec.frame_stack, n_step=a.n_step, gamma=a.gamma, prioritized=a.prioritized,
                        alpha=a.priority_exponent, eps=a.priority_eps, weight_form=a.weight_form, seed=seed)


class ReplayShard:
    """A replay actor: one ``ReplayBuffer``; worker ``w`` owns env slots ``slots[w]``."""

    def __init__(self, cfg: TrainConfig, spec: EnvSpec, slots: dict[int, tuple[int, int]], capacity: int,
                 seed: int) -> None:
        self.slots = slots  # worker -> (first env slot, number of envs)
        self.buffer = build_replay(cfg, spec, capacity, sum(n for _, n in slots.values()), seed)
        self.mismatched = 0  # chunks whose worker-side priorities did not line up (kept at max priority)

    def add(self, worker: int, fresh: bool, chunk: Chunk, priorities: np.ndarray | None) -> int:
        """Store a worker's chunk step by step; returns the number of transitions written."""
        first, n = self.slots[worker]
        ids = np.arange(first, first + n)
        b = self.buffer
        if fresh:
            # A new worker incarnation starts new episodes in these slots.
            b.restart_envs(ids)
        next_obs = chunk.next_obs()
        before = b.total_added
        for t in range(chunk.action.shape[0]):
            b.add(Transition(chunk.obs[t], chunk.action[t], chunk.reward[t], next_obs[t], chunk.terminated[t],
                             chunk.truncated[t]), env_ids=ids)
        written = b.total_added - before
        if priorities is not None:
            if len(priorities) == written:
                b.update_priorities((before + np.arange(written)) % b.capacity, priorities)
            else:
                self.mismatched += 1
        return written

    def sample(self, count: int, batch_size: int, beta: float) -> tuple[list[Batch], int]:
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


class ApexLearner:
    """The learner actor: samples the replay shards, steps a ``DQNLearner``, sends priorities, publishes."""

    def __init__(self, cfg: TrainConfig, spec: EnvSpec, seed: int, threads: int) -> None:
        torch.set_num_threads(threads)
        torch.manual_seed(seed)  # the single-process runner's network initialisation
        self.cfg = cfg
        self.learner = DQNLearner(build_q_network(cfg.agent, cfg.torso, spec), cfg.agent,
                                  resolve_device(cfg.runner.device), seed=seed + 1)
        a, r, starts = cfg.agent, cfg.runner, cfg.replay.learning_starts
        self.beta = LinearSchedule(a.beta_start, 1.0, max(r.total_steps - starts, 1), begin=starts)
        self.shards: list[Any] = []
        self.requests: deque[tuple[int, Any]] = deque()  # (shard, sample ref), oldest first
        self.ready: deque[tuple[int, Batch]] = deque()  # sampled batches not yet learned from
        self.sizes: list[int] = []
        self.turn = 0

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

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

    def state_dict(self) -> dict[str, Any]:
        return to_cpu(self.learner.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state)
