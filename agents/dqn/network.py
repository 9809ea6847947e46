"""The DQN-family network: any torso + a (dueling / noisy / C51) Q head."""

from __future__ import annotations

import torch
from torch import nn

from agents.dqn.config import DQNConfig
from agents.heads import NoisyLinear, QHead
from agents.torsos import Torso, TorsoConfig, build_torso
from agents.torsos.base import RecurrentState
from envs.base import EnvSpec


class QNetwork(nn.Module):
    """``obs -> torso -> head``. ``forward`` returns ``[B, A, K]`` (logits when distributional, Q when K=1)."""

    support: torch.Tensor  # [K] atom values (C51); unused otherwise

    def __init__(self, torso: Torso, num_actions: int, cfg: DQNConfig) -> None:
        super().__init__()
        self.torso = torso
        self.distributional = cfg.distributional
        atoms = cfg.num_atoms if cfg.distributional else 1
        self.head = QHead(torso.output_dim, num_actions, atoms, cfg.dueling, cfg.dueling_aggregation,
                          cfg.head_hidden, cfg.noisy, cfg.noisy_sigma0)
        self.register_buffer("support", torch.linspace(cfg.v_min, cfg.v_max, atoms) if cfg.distributional
                             else torch.zeros(1))

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        features, state = self.torso(obs, state)  # [B, F]
        return self.head(features), state  # [B, A, K]

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
    return QNetwork(build_torso(torso_cfg, spec), spec.num_actions, cfg)
