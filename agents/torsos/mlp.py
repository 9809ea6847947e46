"""Multi-layer perceptron torso for flat feature observations."""

from __future__ import annotations

import math

import torch
from torch import nn

from agents.torsos.base import RecurrentState, Torso

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}


class MLPTorso(Torso):
    """``obs [B, *shape] -> flatten -> (Linear, act) x len(hidden) -> [B, hidden[-1]]``."""

    def __init__(self, obs_shape: tuple[int, ...], hidden: tuple[int, ...], activation: str = "relu",
                 obs_scale: float = 1.0) -> None:
        super().__init__(obs_scale)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(obs_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        self.net = nn.Sequential(*layers)
        self.output_dim = width

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        return self.net(self.prepare(obs)), state
