"""Convolutional torsos for channels-first image observations.

- ``NatureCNN``: Mnih et al. 2015, "Human-level control through deep reinforcement learning".
- ``ImpalaResNet``: Espeholt et al. 2018, "IMPALA" (15-layer residual network).
- ``SmallCNN``: Young & Tian 2019, "MinAtar" (one 3x3 conv with 16 channels for 10x10 boards).
"""

from __future__ import annotations

import torch
from torch import nn

from agents.torsos.base import RecurrentState, Torso


def _flat_size(net: nn.Module, obs_shape: tuple[int, ...]) -> int:
    with torch.no_grad():
        return int(net(torch.zeros(1, *obs_shape)).shape[1])


class _ConvTorso(Torso):
    """Shared tail: conv stack -> flatten -> optional Linear(fc) + ReLU."""

    def _finish(self, conv: nn.Module, obs_shape: tuple[int, ...], fc: int) -> None:
        # channels-last convolutions are about 20% faster on CPU (oneDNN) and on GPU tensor cores.
        self.conv = nn.Sequential(conv, nn.Flatten()).to(
            memory_format=torch.channels_last)  # type: ignore[call-overload]
        flat = _flat_size(self.conv, obs_shape)
        self.fc = nn.Sequential(nn.Linear(flat, fc), nn.ReLU()) if fc > 0 else nn.Identity()
        self.output_dim = fc if fc > 0 else flat

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        # obs: [B, C, H, W] -> features [B, output_dim]
        # Reorder while still uint8 (4x fewer bytes); the float cast keeps the channels-last layout.
        x = self.prepare(obs.contiguous(memory_format=torch.channels_last))
        return self.fc(self.conv(x)), state


class NatureCNN(_ConvTorso):
    """Conv(32, 8, s4) -> Conv(64, 4, s2) -> Conv(64, 3, s1) -> [Linear(fc)]; 84x84 input gives 3136."""

    def __init__(self, obs_shape: tuple[int, ...], fc: int = 512, obs_scale: float = 1.0) -> None:
        super().__init__(obs_scale)
        c = obs_shape[0]
        conv = nn.Sequential(
            nn.Conv2d(c, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
        )
        self._finish(conv, obs_shape, fc)


class SmallCNN(_ConvTorso):
    """Conv(16, 3, s1) -> [Linear(fc)], the MinAtar paper's network body."""

    def __init__(self, obs_shape: tuple[int, ...], fc: int = 128, channels: int = 16,
                 obs_scale: float = 1.0) -> None:
        super().__init__(obs_scale)
        conv = nn.Sequential(nn.Conv2d(obs_shape[0], channels, 3, stride=1), nn.ReLU())
        self._finish(conv, obs_shape, fc)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class ImpalaResNet(_ConvTorso):
    """Three stages of (conv 3x3, max-pool 3 s2, two residual blocks), channels (16, 32, 32)."""

    def __init__(self, obs_shape: tuple[int, ...], channels: tuple[int, ...] = (16, 32, 32), fc: int = 256,
                 obs_scale: float = 1.0) -> None:
        super().__init__(obs_scale)
        layers: list[nn.Module] = []
        c_in = obs_shape[0]
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1),
                       _ResidualBlock(c), _ResidualBlock(c)]
            c_in = c
        layers.append(nn.ReLU())
        self._finish(nn.Sequential(*layers), obs_shape, fc)
