"""The steps REINFORCE learns from, evaluated by a feed-forward or a recurrent policy.

A rollout's learnable steps are the ``M`` masked entries of its ``[T, N]`` arrays (whole episodes). A
feed-forward network sees them as one flat batch ``[M, *obs_shape]`` (``FlatSteps``). A recurrent network
(memory core) must see them in order: ``SequenceSteps`` unrolls it over the ``[T', N]`` columns from the
rollout's stored start state with its reset flags (as recurrent PPO does, ``ActorCritic.sequence``), then
picks the ``M`` masked outputs. ``T'`` is the last row holding a masked step: the steps after it belong to
episodes that were dropped, and a causal network's outputs before them do not depend on them.

Both expose the same three passes, each returning tensors over the ``M`` steps in time-major order
(``valid``, the flat indices of ``mask.reshape(-1)``):

- ``policy()``: log-probabilities of the taken actions, entropies, and values when the torso is shared;
- ``values()``: the critic's values (separate critic torso);
- ``episode_log_prob(rows)``: log-probabilities of one episode's steps (rows of ``[M]``), recomputed
  from that episode alone, for the per-episode gradient-variance diagnostic.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.actor_critic import ActorCritic, map_state
from agents.distributions import ActionDistribution
from agents.torsos import RecurrentState, SequenceTorso, Torso

PolicyOutputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]  # log_prob [M], entropy [M], value [M]


class FlatSteps:
    """The ``M`` masked steps as one batch, for a feed-forward network."""

    def __init__(self, network: ActorCritic, obs: np.ndarray, action: np.ndarray, valid: np.ndarray,
                 device: torch.device) -> None:
        """
        Args:
            network: a feed-forward actor-critic.
            obs: ``[T, N, *obs_shape]`` rollout observations.
            action: ``[T, N]`` or ``[T, N, d]`` rollout actions.
            valid: ``[M]`` flat (time-major) indices of the masked steps.
            device: torch device of the network.
        """
        self.network, self.device = network, device
        self.obs = torch.as_tensor(obs.reshape(-1, *obs.shape[2:])[valid], device=device)  # [M, *obs_shape]
        self.action = torch.as_tensor(action.reshape(-1, *action.shape[2:])[valid], device=device)  # [M(, d)]

    def policy(self) -> PolicyOutputs:
        dist, value = self.network(self.obs)
        return dist.log_prob(self.action), dist.entropy(), value

    def values(self) -> torch.Tensor:
        return self.network.value(self.obs)  # [M]

    def episode_log_prob(self, rows: np.ndarray) -> torch.Tensor:
        sel = torch.as_tensor(rows, device=self.device)
        dist, _ = self.network(self.obs[sel])
        return dist.log_prob(self.action[sel])  # [len(rows)]


def _sequence_torso(torso: Torso | None) -> SequenceTorso:
    if not isinstance(torso, SequenceTorso):
        raise TypeError("a recurrent pass needs a torso with a memory core")
    return torso


class SequenceSteps:
    """The ``[T', N]`` columns of a rollout, unrolled by a recurrent network from the stored start state."""

    def __init__(self, network: ActorCritic, obs: np.ndarray, action: np.ndarray, reset: np.ndarray,
                 initial_state: RecurrentState, valid: np.ndarray, device: torch.device) -> None:
        """
        Args:
            network: a recurrent actor-critic.
            obs: ``[T, N, *obs_shape]`` rollout observations.
            action: ``[T, N]`` or ``[T, N, d]`` rollout actions.
            reset: ``[T, N]`` bool, ``obs[t, n]`` starts an episode (the state row is zeroed before step t).
            initial_state: the acting network's state before step 0 (``(actor, critic)``, ``N`` rows each).
            valid: ``[M]`` flat (time-major) indices of the masked steps, sorted.
            device: torch device of the network.
        """
        self.network, self.device = network, device
        n = obs.shape[1]
        t_used = int(valid[-1]) // n + 1 if len(valid) else 0  # T': rows up to the last masked step
        self.num_envs = n
        self.obs = torch.as_tensor(obs[:t_used], device=device)  # [T', N, *obs_shape]
        self.action = torch.as_tensor(action[:t_used], device=device)  # [T', N(, d)]
        self.reset = torch.as_tensor(reset[:t_used], device=device)  # [T', N]
        self.start = map_state(lambda t: t.to(device), initial_state)
        self.valid_np = valid
        self.valid = torch.as_tensor(valid, device=device)  # [M] into [T' * N], time-major like the pass

    def _x(self, obs: torch.Tensor) -> torch.Tensor:
        net = self.network
        return net.obs_norm(obs) if net.obs_norm.enabled else obs

    def _actor(self, obs: torch.Tensor, state: RecurrentState, reset: torch.Tensor) -> ActionDistribution:
        """The policy over ``obs [T, B, ...]`` from the actor state ``state``: ``T * B`` distributions."""
        features, _ = _sequence_torso(self.network.actor_torso).forward_sequence(self._x(obs), state, reset)
        return self.network.head(features.flatten(0, 1))  # over [T * B], time-major

    def policy(self) -> PolicyOutputs:
        net = self.network
        value: torch.Tensor | None = None
        if net.has_value and net.critic_torso is None:  # shared torso: one pass gives both heads
            dist, value, _ = net.sequence(self.obs, self.start, self.reset)
        else:  # a separate critic learns in its own steps: leave it out of the policy's pass
            dist = self._actor(self.obs, self.start[0], self.reset)
        log_prob = dist.log_prob(self.action.flatten(0, 1))[self.valid]  # [M]
        entropy = dist.entropy()[self.valid]  # [M]
        return log_prob, entropy, None if value is None else value[self.valid]

    def values(self) -> torch.Tensor:
        net = self.network
        if net.value_head is None:
            raise ValueError("this network has no value head")
        torso = _sequence_torso(net.critic_torso if net.critic_torso is not None else net.actor_torso)
        state = self.start[1] if net.critic_torso is not None else self.start[0]
        features, _ = torso.forward_sequence(self._x(self.obs), state, self.reset)  # [T', N, F]
        return net.value_head(features.flatten(0, 1)).squeeze(-1)[self.valid]  # [M]

    def episode_log_prob(self, rows: np.ndarray) -> torch.Tensor:
        """Log-probabilities of one episode's steps (``rows`` of ``[M]``, one column, contiguous in time),
        unrolled over that episode alone from the state its column had there (the stored start state at
        ``t = 0``; a reset zeroes it at a later episode start)."""
        flat = self.valid_np[rows]  # [L] into [T' * N]
        t, col = flat // self.num_envs, int(flat[0] % self.num_envs)
        t0, t1 = int(t.min()), int(t.max()) + 1
        c = torch.as_tensor([col], device=self.device)
        state = map_state(lambda s: s[c], self.start[0])
        dist = self._actor(self.obs[t0:t1, col:col + 1], state, self.reset[t0:t1, col:col + 1])  # over [t1 - t0]
        log_prob = dist.log_prob(self.action[t0:t1, col])
        return log_prob[torch.as_tensor(t - t0, device=self.device)]  # [L]
