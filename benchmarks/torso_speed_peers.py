"""The networks benchmarks/torso_speed.py times: ``Impl``, the interface every implementation under test
offers (a streaming step for acting, a sequence pass for learning), and the plain-PyTorch peers arena's torsos
are compared against: the same feature layers as ``nn.Sequential``; a per-step ``nn.LSTMCell`` / ``nn.GRUCell``
loop; one fused ``nn.LSTM`` / ``nn.GRU`` call; a causal ``nn.TransformerEncoder`` acting on a window of steps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from envs.base import EnvSpec


class Impl(nn.Module):
    """One network under test: a streaming step for acting and a sequence pass for learning."""

    out_dim: int
    handles_resets: bool = True

    def initial_state(self, batch: int) -> Any:
        return None

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        """``obs [T, B, ...]`` -> ``[T, B, out_dim]`` from a zero state."""
        raise NotImplementedError


def peer_feature(kind: str, spec: EnvSpec) -> tuple[nn.Module, int]:
    """The same layers as arena's feature torso, as a plain ``nn.Sequential`` (contiguous memory format)."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(spec.obs_shape[0], 128), nn.ReLU(),
                             nn.Linear(128, 128), nn.ReLU()), 128
    c, h, w = spec.obs_shape
    return nn.Sequential(nn.Conv2d(c, 16, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(16 * (h - 2) * (w - 2), 128), nn.ReLU()), 128


class PeerFF(Impl):
    def __init__(self, feature: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.feature, self.out_dim = feature, out_dim

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        return self.feature(obs.float()), None

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        return self.feature(obs.flatten(0, 1).float()).unflatten(0, obs.shape[:2])


class PeerRNN(PeerFF):
    """Feature layers, then an LSTM / GRU state ``(h, c)`` or ``h``, each ``[B, hidden]``."""

    def __init__(self, feature: nn.Module, kind: str, hidden: int) -> None:
        super().__init__(feature, hidden)
        self.lstm = kind == "lstm"

    def initial_state(self, batch: int) -> Any:
        h = torch.zeros(batch, self.out_dim)
        return (h, h.clone()) if self.lstm else h


class PeerCellLoop(PeerRNN):
    """Feature layers, then one ``nn.LSTMCell`` / ``nn.GRUCell`` call per time step."""

    def __init__(self, feature: nn.Module, width: int, kind: str, hidden: int = 128) -> None:
        super().__init__(feature, kind, hidden)
        self.cell: nn.LSTMCell | nn.GRUCell = (nn.LSTMCell if self.lstm else nn.GRUCell)(width, hidden)

    def _cell(self, x: torch.Tensor, state: Any, reset: torch.Tensor | None) -> Any:
        if reset is not None:
            keep = (~reset).float()[:, None]  # [B, 1]
            state = (state[0] * keep, state[1] * keep) if self.lstm else state * keep
        return self.cell(x, state)

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        state = self._cell(self.feature(obs.float()), state, reset)
        return (state[0] if self.lstm else state), state

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        x = super().sequence(obs, None)  # [T, B, F]
        state, outs = self.initial_state(obs.shape[1]), []
        for t in range(obs.shape[0]):
            state = self._cell(x[t], state, None if reset is None else reset[t])
            outs.append(state[0] if self.lstm else state)
        return torch.stack(outs)


class PeerFused(PeerRNN):
    """Feature layers, then one ``nn.LSTM`` / ``nn.GRU`` call over the whole sequence (no resets inside it)."""

    handles_resets = False

    def __init__(self, feature: nn.Module, width: int, kind: str, hidden: int = 128) -> None:
        super().__init__(feature, kind, hidden)
        self.rnn: nn.LSTM | nn.GRU = (nn.LSTM if self.lstm else nn.GRU)(width, hidden)

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        keep = (~reset).float()[None, :, None]  # [1, B, 1]
        x = self.feature(obs.float())[None]
        if self.lstm:
            out, (h, c) = self.rnn(x, (state[0][None] * keep, state[1][None] * keep))
            return out[0], (h[0], c[0])
        out, h = self.rnn(x, state[None] * keep)
        return out[0], h[0]

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        return self.rnn(super().sequence(obs, None))[0]


class PeerTransformer(PeerFF):
    """Feature layers -> Linear -> ``nn.TransformerEncoder`` (causal) -> LayerNorm; acts on a K-step window."""

    handles_resets = False

    def __init__(self, feature: nn.Module, width: int, dim: int, heads: int, layers: int, window: int) -> None:
        super().__init__(feature, dim)
        self.embed = nn.Linear(width, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm, self.window = nn.LayerNorm(dim), window

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.norm(self.encoder(x, mask=mask, is_causal=True))  # [B, T, D]

    def initial_state(self, batch: int) -> Any:
        return torch.zeros(batch, self.window, self.out_dim)  # the last K embedded steps

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        x = self.embed(self.feature(obs.float()))
        window = torch.cat([state[:, 1:], x[:, None]], dim=1)  # [B, K, D]
        return self._encode(window)[:, -1], window

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        x = self.embed(super().sequence(obs, None)).transpose(0, 1)  # [B, T, D]
        return self._encode(x).transpose(0, 1)
