"""Multi-layer perceptron torso for flat feature observations."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from agents.torsos.base import RecurrentState, Torso

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}
_FUNCTIONAL: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "tanh": torch.tanh, "elu": F.elu, "gelu": F.gelu}


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
        self._act = _FUNCTIONAL[activation]
        self._linears = [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        # The same computation as self.net(x), without a module call per layer: small MLPs (CartPole, one
        # env step per call) spend more time in Python call overhead than in arithmetic.
        x = self.prepare(obs).flatten(1)
        for linear in self._linears:
            x = self._act(F.linear(x, linear.weight, linear.bias))
        return x, state
