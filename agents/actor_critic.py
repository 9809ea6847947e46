"""The policy-gradient network (any torso -> policy head, optional value head) and the actor that samples it.

Shared or separate torsos: with ``shared`` one torso feeds both heads (the Atari setting of Mnih et al.
2016 and Schulman et al. 2017); otherwise the critic gets its own copy of the torso architecture (the
MuJoCo setting). Orthogonal initialisation (Saxe et al. 2014) with gains sqrt(2) for hidden layers, 0.01
for the policy head and 1 for the value head follows the PPO implementations (OpenAI Baselines, CleanRL;
Andrychowicz et al. 2021, "What Matters in On-Policy RL", recommend the small policy-head scale).

With a memory core (``TorsoConfig.core``) the network is recurrent: ``step`` and ``sequence`` thread a state
``(actor state, critic state)`` (critic state None when shared) and reset flags (true where an observation
is an episode's first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.distributions import ActionDistribution, CategoricalHead, PolicyHead, build_policy_head
from agents.normalize import ObsNormalizer
from agents.returns import next_values
from agents.torsos import RecurrentState, SequenceTorso, Torso, TorsoConfig, build_torso
from envs.base import EnvSpec
from replay.types import Rollout


@dataclass(frozen=True)
class ActorCriticConfig:
    """The policy network: torso sharing, initialisation, Gaussian std, observation normalisation."""

    shared: bool = False
    """One torso for the policy and value heads (Atari); otherwise the critic has its own torso."""
    ortho_init: bool = True
    """Orthogonal initialisation: gain sqrt(2) in the torso, 0.01 on the policy head, 1 on the value head."""
    log_std_init: float = 0.0
    """Initial log standard deviation of a Gaussian policy (continuous actions)."""
    obs_norm: bool = False
    """Normalise observations by running mean and variance (saved with the network), clipped to +-10."""


class ActorCritic(nn.Module):
    """``obs -> (action distribution, value)``; ``value`` is None when built without a critic."""

    def __init__(self, actor_torso: Torso, critic_torso: Torso | None, head: PolicyHead, value_head: nn.Linear | None,
                 obs_norm: ObsNormalizer) -> None:
        super().__init__()
        self.obs_norm = obs_norm
        self.actor_torso = actor_torso
        self.critic_torso = critic_torso  # None: shared with the actor (or no critic at all)
        self.head = head
        self.value_head = value_head

    @property
    def has_value(self) -> bool:
        return self.value_head is not None

    @property
    def is_recurrent(self) -> bool:
        """The torsos carry memory: act with ``step``, learn with ``sequence``."""
        return self.actor_torso.is_recurrent

    def initial_state(self, batch_size: int) -> RecurrentState:
        """``(actor state, critic state)`` for ``batch_size`` fresh episodes (critic None when shared)."""
        critic = self.critic_torso.initial_state(batch_size) if self.critic_torso is not None else None
        return self.actor_torso.initial_state(batch_size), critic

    def sequence(self, obs: torch.Tensor, state: RecurrentState, reset: torch.Tensor | None,
                 ) -> tuple[ActionDistribution, torch.Tensor | None, RecurrentState]:
        """Recurrent pass over ``obs [T, B, ...]`` from ``state`` with ``reset [T, B]``.

        Returns:
            ``(distribution over the T * B actions (time-major), [T * B] values or None, final state)``.
        """
        x = self.obs_norm(obs) if self.obs_norm.enabled else obs
        actor_state, critic_state = state
        features, actor_state = _sequence_torso(self.actor_torso).forward_sequence(x, actor_state, reset)  # [T, B, F]
        dist = self.head(features.flatten(0, 1))
        if self.value_head is None:
            return dist, None, (actor_state, critic_state)
        if self.critic_torso is not None:
            features, critic_state = _sequence_torso(self.critic_torso).forward_sequence(x, critic_state, reset)
        return dist, self.value_head(features.flatten(0, 1)).squeeze(-1), (actor_state, critic_state)

    def step(self, obs: torch.Tensor, state: RecurrentState, reset: torch.Tensor | None,
             ) -> tuple[ActionDistribution, torch.Tensor | None, RecurrentState]:
        """One recurrent step: ``obs [B, ...]``, ``reset [B]`` -> ``(distribution, [B] values or None, state)``."""
        return self.sequence(obs.unsqueeze(0), state, None if reset is None else reset.unsqueeze(0))

    def forward(self, obs: torch.Tensor, legal_mask: torch.Tensor | None = None,
                ) -> tuple[ActionDistribution, torch.Tensor | None]:
        """``obs [B, *obs_shape]`` -> (distribution over ``B`` actions, ``[B]`` values or None).

        ``legal_mask [B, A]`` (bool, categorical policies only) gives illegal actions probability 0.
        """
        x = self.obs_norm(obs) if self.obs_norm.enabled else obs
        features, _ = self.actor_torso(x)  # [B, F]
        dist = self.head(features) if legal_mask is None else self._masked_head(features, legal_mask)
        if self.value_head is None:
            return dist, None
        if self.critic_torso is not None:
            features, _ = self.critic_torso(x)
        return dist, self.value_head(features).squeeze(-1)  # [B]

    def _masked_head(self, features: torch.Tensor, legal_mask: torch.Tensor) -> ActionDistribution:
        if not isinstance(self.head, CategoricalHead):
            raise ValueError("a legal-action mask needs a categorical policy (discrete actions)")
        return self.head(features, legal_mask)

    POLICY_PREFIXES = ("obs_norm.", "actor_torso.", "head.")

    def policy_state_dict(self) -> dict[str, torch.Tensor]:
        """The policy's part of ``state_dict`` (observation statistics, actor torso, policy head): what
        behaviour cloning trains and what a PPO run can start from."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(self.POLICY_PREFIXES)}

    def load_policy_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy a ``policy_state_dict`` in (in place, so flat optimiser buffers stay valid); the critic is kept.

        Raises:
            ValueError: keys that are not policy keys, or missing policy keys (another architecture).
        """
        own = self.policy_state_dict()
        extra, missing = set(state) - set(own), set(own) - set(state)
        if extra or missing:
            raise ValueError(f"policy weights do not fit this network (unexpected {sorted(extra)[:3]}, "
                             f"missing {sorted(missing)[:3]})")
        self.load_state_dict(state, strict=False)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B]`` state values (the actor head is skipped when the torsos are separate)."""
        if self.value_head is None:
            raise ValueError("this network has no value head")
        x = self.obs_norm(obs) if self.obs_norm.enabled else obs
        torso = self.critic_torso if self.critic_torso is not None else self.actor_torso
        features, _ = torso(x)
        return self.value_head(features).squeeze(-1)


def _ortho_(module: nn.Module, gain: float) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            # Through a contiguous copy: conv torsos keep channels-last weights, which orthogonal_ cannot view.
            w = torch.empty(m.weight.shape)
            nn.init.orthogonal_(w, gain)
            with torch.no_grad():
                m.weight.copy_(w)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def build_actor_critic(cfg: ActorCriticConfig, torso_cfg: TorsoConfig, spec: EnvSpec,
                       value: bool = True) -> ActorCritic:
    """The network for ``spec``: categorical or Gaussian head, with a value head when ``value``."""
    actor_torso = build_torso(torso_cfg, spec)
    critic_torso = build_torso(torso_cfg, spec) if value and not cfg.shared else None
    head = build_policy_head(actor_torso.output_dim, spec, cfg.log_std_init)
    value_head = nn.Linear(actor_torso.output_dim, 1) if value else None
    if cfg.ortho_init:
        for torso in (actor_torso, critic_torso):
            if torso is not None:
                _ortho_(torso, math.sqrt(2.0))
        _ortho_(head, 0.01)
        if value_head is not None:
            _ortho_(value_head, 1.0)
    obs_norm = ObsNormalizer(spec.obs_shape, cfg.obs_norm)
    return ActorCritic(actor_torso, critic_torso, head, value_head, obs_norm)


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state: RecurrentState) -> RecurrentState:
    """``fn`` applied to every tensor of a (nested tuple) recurrent state; None stays None."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    return tuple(map_state(fn, s) for s in state)


@dataclass(frozen=True)
class ActOutput:
    """What acting on ``N`` observations returns.

    Attributes:
        action: ``[N]`` int64 or ``[N, d]`` float32 (unclipped samples; the env clips).
        log_prob: ``[N]`` float32 log-probability of ``action`` under the acting policy.
        value: ``[N]`` float32 ``V(obs)`` (zeros without a critic).
    """

    action: np.ndarray
    log_prob: np.ndarray
    value: np.ndarray


class PolicyActor:
    """Samples (or, ``greedy``, takes the mode of) an ``ActorCritic``'s policy: one network call per step.

    A recurrent network's state (``self.state``, one row per sub-env) is carried from step to step;
    ``step(obs, reset)`` zeroes the rows whose observation starts an episode, and ``begin_episodes``
    forgets the state (fresh envs).
    """

    def __init__(self, network: ActorCritic, seed: int = 0, greedy: bool = False) -> None:
        self.network = network
        self.device = next(network.parameters()).device
        self.greedy = greedy
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.version = 0
        self.epsilon: float | None = None  # no epsilon-greedy exploration (the logger omits it)
        self.state: RecurrentState = None  # recurrent networks only; None: initial state at the next step

    def begin_episodes(self) -> None:
        """Forget the recurrent state: the next ``step`` starts every row from the initial state."""
        self.state = None

    def _recurrent_call(self, obs: torch.Tensor, reset: np.ndarray | None,
                        ) -> tuple[ActionDistribution, torch.Tensor | None]:
        if self.state is None or _state_rows(self.state) != obs.shape[0]:
            self.state = self.network.initial_state(obs.shape[0])
        r = None if reset is None else torch.as_tensor(reset, device=self.device)
        dist, value, self.state = self.network.step(obs, self.state, r)
        return dist, value

    def value(self, obs: np.ndarray, reset: np.ndarray | None = None) -> np.ndarray:
        """``[N]`` ``V(obs)`` from the carried state, which is left as it is (the bootstrap of a rollout)."""
        with torch.no_grad():
            x = torch.as_tensor(obs, device=self.device)
            if self.state is None:
                self.state = self.network.initial_state(x.shape[0])
            r = None if reset is None else torch.as_tensor(reset, device=self.device)
            _, value, _ = self.network.step(x, self.state, r)
        assert value is not None
        return value.float().cpu().numpy()

    def step(self, obs: np.ndarray, reset: np.ndarray | None = None) -> ActOutput:
        """Act on ``obs [N, *obs_shape]``; ``reset [N]`` (recurrent networks) marks episodes' first observations."""
        if self.network.is_recurrent:
            # no_grad, not inference_mode: the carried state is stored as a rollout's start and re-used in autograd.
            with torch.no_grad():
                dist, value = self._recurrent_call(torch.as_tensor(obs, device=self.device), reset)
                action = dist.mode() if self.greedy else dist.sample(self.generator)
                log_prob = dist.log_prob(action)
            return self._output(obs.shape[0], action, log_prob, value)
        with torch.inference_mode():
            dist, value = self.network(torch.as_tensor(obs, device=self.device))
            action = dist.mode() if self.greedy else dist.sample(self.generator)
            log_prob = dist.log_prob(action)
        return self._output(obs.shape[0], action, log_prob, value)

    @staticmethod
    def _output(n: int, action: torch.Tensor, log_prob: torch.Tensor, value: torch.Tensor | None) -> ActOutput:
        a = action.cpu().numpy()
        return ActOutput(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64),
                         log_prob.float().cpu().numpy(),
                         value.float().cpu().numpy() if value is not None else np.zeros(n, np.float32))

    def act(self, obs: np.ndarray, state: Any = None) -> tuple[np.ndarray, Any]:
        """The ``Actor`` protocol: actions only."""
        return self.step(obs).action, state

    def update_params(self, version: int, params: dict[str, torch.Tensor]) -> None:
        self.network.load_state_dict(params)
        self.version = version

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"generator": self.generator.get_state(), "version": self.version}
        if self.state is not None:
            out["recurrent_state"] = map_state(lambda t: t.detach().cpu().clone(), self.state)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.version = int(state["version"])
        self.state = map_state(lambda t: t.to(self.device), state.get("recurrent_state"))


def _state_rows(state: RecurrentState) -> int:
    """The batch size of a recurrent state (every tensor is batch-first; -1 when it holds none)."""
    if isinstance(state, torch.Tensor):
        return int(state.shape[0])
    for s in state if isinstance(state, tuple) else ():
        rows = _state_rows(s)
        if rows >= 0:
            return rows
    return -1


def _sequence_torso(torso: Torso) -> SequenceTorso:
    if not isinstance(torso, SequenceTorso):
        raise TypeError(f"{type(torso).__name__} is feed-forward; recurrent passes need a memory core")
    return torso


def rollout_next_values(network: ActorCritic, rollout: Rollout, device: torch.device) -> np.ndarray:
    """``[T, N]`` ``V(next_obs[t])`` for GAE and bootstrapped returns, with one critic call.

    Recurrent rollouts bring the bootstrap values computed while acting (``last_value``, ``final_value``),
    since they depend on the recurrent state at that step.

    Only the observations that need a fresh value are evaluated: ``last_obs`` and the final observations
    of truncated episodes; inside episodes ``V(next_obs[t]) = rollout.value[t + 1]``.
    """
    ended = rollout.terminated | rollout.truncated
    if rollout.last_value is not None:
        assert rollout.final_value is not None
        return next_values(rollout.value, rollout.last_value, ended, rollout.final_value)
    n = rollout.num_envs
    flat_next = rollout.next_obs.reshape(-1, *rollout.next_obs.shape[2:])  # [T*N, *obs_shape]
    idx = np.flatnonzero(rollout.truncated)  # flat indices into [T*N]
    obs = np.concatenate([rollout.last_obs, flat_next[idx]]) if len(idx) else rollout.last_obs
    with torch.inference_mode():
        v = network.value(torch.as_tensor(obs, device=device)).float().cpu().numpy()
    final = np.zeros(rollout.reward.size, dtype=np.float32)
    final[idx] = v[n:]
    return next_values(rollout.value, v[:n], ended, final.reshape(rollout.reward.shape))
