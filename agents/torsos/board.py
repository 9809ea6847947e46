"""Residual tower over board planes, after AlphaZero (Silver et al. 2018, "A general reinforcement learning
algorithm that masters chess, shogi, and Go through self-play").

Deviations: the tower output is flattened and handed to the heads as features (the protocol every torso
follows) instead of AlphaZero's 1x1-conv heads; ``head_channels`` plays the role of those 1x1 convs, so
the flat width stays small (``head_channels * H * W``). Boards are tiny, so no striding or pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.torsos.base import RecurrentState, Torso


class _Block(nn.Module):
    """conv-BN-ReLU-conv-BN + skip, ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class BoardResNet(Torso):
    """``obs [B, C, H, W] -> conv stem -> blocks x residual -> 1x1 conv(head_channels) -> [B, head_channels*H*W]``."""

    def __init__(self, obs_shape: tuple[int, ...], channels: int = 64, blocks: int = 4,
                 head_channels: int = 8) -> None:
        super().__init__()
        c, h, w = obs_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            *[_Block(channels) for _ in range(blocks)],
            nn.Conv2d(channels, head_channels, 1, bias=False), nn.BatchNorm2d(head_channels), nn.ReLU(),
            nn.Flatten(),
        )
        self.output_dim = head_channels * h * w

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        return self.net(self.prepare(obs)), state  # [B, head_channels * H * W]
