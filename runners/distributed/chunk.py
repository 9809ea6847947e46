"""What an Ape-X worker ships to replay (``Chunk``), and the initial PER priorities it computes for it
(``PriorityCalculator``); used by ``runners.distributed.apex``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from agents.dqn import QNetwork
from replay.nstep import NStepAccumulator


@dataclass(frozen=True)
class Chunk:
    """``T`` steps of a worker's ``E`` sub-envs, as shipped to replay.

    ``next_obs[t]`` equals ``obs[t + 1]`` except where an episode ended, so only those rows travel
    (``final_index`` into the flattened ``[T * E]`` steps, ``final_obs``), which halves the bytes. Memory
    cores' states travel the same way: only at the steps a sequence starts from (``replay.sequence.stores_state``),
    a ``1 / period`` share of the steps.
    """

    obs: np.ndarray  # [T, E, *obs_shape]
    last_obs: np.ndarray  # [E, *obs_shape] observation after the last step
    action: np.ndarray  # [T, E] int64
    reward: np.ndarray  # [T, E] float32, clipped when the agent clips rewards
    terminated: np.ndarray  # [T, E] bool
    truncated: np.ndarray  # [T, E] bool
    final_index: np.ndarray  # [K] int64 flat indices t * E + e of the steps that ended an episode
    final_obs: np.ndarray  # [K, *obs_shape] their final observations
    state_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # [J] flat t * E + e
    state: tuple[np.ndarray, ...] = ()  # memory cores: per state leaf [J, ...], the state given with those obs

    def dense_state(self, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        """Per state leaf ``[T, E, *shape]`` float32: the shipped rows, zeros elsewhere (never read)."""
        t_len, e = self.action.shape
        out = []
        for i, shape in enumerate(shapes):
            dense = np.zeros((t_len * e, *shape), np.float32)
            if self.state:  # () when no sequence starts in the chunk
                dense[self.state_index] = self.state[i]
            out.append(dense.reshape(t_len, e, *shape))
        return out

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
