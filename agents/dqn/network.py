"""The DQN-family network: any torso + a (dueling / noisy / C51) Q head."""

from __future__ import annotations

import torch
from torch import nn

from agents.dqn.config import DQNConfig
from agents.heads import NoisyLinear, QHead
from agents.normalize import ObsNormalizer
from agents.torsos import Torso, TorsoConfig, build_torso
from agents.torsos.base import RecurrentState
from agents.torsos.recurrent import SequenceTorso
from envs.base import EnvSpec


class QNetwork(nn.Module):
    """``obs -> torso -> head``. ``forward`` returns ``[B, A, K]`` (logits when distributional, Q when K=1)."""

    support: torch.Tensor  # [K] atom values (C51); unused otherwise

    def __init__(self, torso: Torso, num_actions: int, cfg: DQNConfig, obs_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.torso = torso
        self.distributional = cfg.distributional
        atoms = cfg.num_atoms if cfg.distributional else 1
        self.head = QHead(torso.output_dim, num_actions, atoms, cfg.dueling, cfg.dueling_aggregation,
                          cfg.head_hidden, cfg.noisy, cfg.noisy_sigma0)
        # Only when asked: the state_dict keys (and so older checkpoints) stay as they were without it.
        self.obs_norm = ObsNormalizer(obs_shape, True) if cfg.obs_norm else None
        self.register_buffer("support", torch.linspace(cfg.v_min, cfg.v_max, atoms) if cfg.distributional
                             else torch.zeros(1))

    @property
    def is_recurrent(self) -> bool:
        return self.torso.is_recurrent

    def initial_state(self, batch_size: int) -> RecurrentState:
        """The torso's fresh state for ``batch_size`` rows (None when feed-forward)."""
        return self.torso.initial_state(batch_size)

    def forward(self, obs: torch.Tensor, state: RecurrentState = None,
                reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """``obs [B, ...]`` (and for memory torsos the state and ``reset [B]`` episode-start flags)."""
        if self.obs_norm is not None:
            obs = self.obs_norm(obs)
        if self.torso.is_recurrent:
            features, state = self.torso(obs, state, reset)  # type: ignore[call-arg]  # SequenceTorso
        else:
            features, state = self.torso(obs, state)  # [B, F]
        return self.head(features), state  # [B, A, K]

    def forward_sequence(self, obs: torch.Tensor, state: RecurrentState = None,
                         reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """Memory torsos: ``obs [T, B, ...]``, ``reset [T, B]`` -> ``([T, B, A, K], final state)``."""
        if not isinstance(self.torso, SequenceTorso):
            raise TypeError("forward_sequence needs a memory torso (--torso.core lstm | gru | attention)")
        if self.obs_norm is not None:
            obs = self.obs_norm(obs)
        features, state = self.torso.forward_sequence(obs, state, reset)  # [T, B, F]
        t, b = features.shape[:2]
        return self.head(features.flatten(0, 1)).unflatten(0, (t, b)), state

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        """Expected Q ``[B, A]`` from ``forward``'s ``[B, A, K]``."""
        if self.distributional:
            return (torch.softmax(out, dim=-1) * self.support).sum(-1)
        return out.squeeze(-1)

    def reset_noise(self, generator: torch.Generator | None) -> None:
        for m in self.modules():
            if isinstance(m, NoisyLinear):
                m.reset_noise(generator)


def build_q_network(cfg: DQNConfig, torso_cfg: TorsoConfig, spec: EnvSpec) -> QNetwork:
    return QNetwork(build_torso(torso_cfg, spec), spec.num_actions, cfg, tuple(spec.obs_shape))
