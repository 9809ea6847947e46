"""The Torso protocol: observation -> features, with recurrent state in the signature.

Feed-forward torsos return ``None`` state; LSTM/GRU/attention torsos return tensors. Heads and
losses only ever see ``features: [B, output_dim]``, so any torso fits any agent.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

RecurrentState = Any  # None | Tensor | tuple[Tensor, ...]


class Torso(nn.Module):
    """Base class for torsos.

    Subclasses set ``output_dim`` and implement ``forward``. ``obs_scale`` multiplies raw
    observations after the cast to float (1/255 for uint8 Atari frames), so replay can keep
    observations in their compact dtype.
    """

    output_dim: int
    is_recurrent: bool = False

    def __init__(self, obs_scale: float = 1.0) -> None:
        super().__init__()
        self.obs_scale = obs_scale

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        """Cast to float32 and scale; ``obs`` keeps its shape."""
        x = obs.float()
        if self.obs_scale != 1.0:
            x = x * self.obs_scale
        return x

    def initial_state(self, batch_size: int) -> RecurrentState:
        """Recurrent state for ``batch_size`` fresh sequences (None when feed-forward)."""
        return None

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        raise NotImplementedError
