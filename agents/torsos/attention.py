"""Attention torsos: a causal memory over the agent's last K steps, and a board encoder for AlphaZero.

- Vaswani et al. 2017, "Attention is all you need" (scaled dot-product multi-head attention).
- Dai et al. 2019, "Transformer-XL": per-layer memory of past steps carried as state, relative positions.
- Parisotto et al. 2020, "Stabilizing transformers for reinforcement learning" (GTrXL): pre-layer-norm
  blocks, ReLU on each sublayer's output and a GRU-type gate in place of the residual sum (``gated=True``).

``AttentionTorso``: ``obs -> feature torso -> Linear(dim) -> L blocks -> LayerNorm -> [B, dim]``. Each block
at step t attends to its own input at steps t-K+1..t of the same episode (K = ``memory``). The state carries,
for every layer, that layer's inputs at the last K-1 steps, so acting is one step in, one step out, and
``forward_sequence`` over T steps gives the same outputs and final state as T calls of ``forward``.

Deviations and choices:
- As in Transformer-XL, the window is per layer: layer l sees K steps of layer l-1's outputs, so the stack's
  receptive field is ``layers * (K - 1) + 1`` steps (exactly K with one layer).
- Relative positions: the score of query t and key s gains ``q_t . W_l r(t - s) / sqrt(d_head)`` with
  ``r(age)`` a sinusoidal table or a learned embedding of the age 0..K-1 (Transformer-XL's position term,
  without its global biases u, v). Positions only ever enter through ages, so streaming and parallel agree.
- ``F.scaled_dot_product_attention`` gets the boolean mask (window, causality, episode, validity) folded into
  an additive float mask (-inf where blocked) that also carries the position term.
- Gradients flow through the given sequence and into the given state (memory); GTrXL stops them at the
  memory, which callers get by detaching the state between sequences (``detach_state``).
- ``BoardAttentionTorso``: non-causal attention over the H*W cells, learned absolute position per cell,
  mean-pooled; no BatchNorm, so evaluation does not depend on the batch (the MCTS evaluator's batches vary).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from agents.torsos.base import RecurrentState, Torso
from agents.torsos.recurrent import SequenceTorso, check_feature, sequence_features

Positions = Literal["sinusoidal", "learned"]


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """``[length, dim]``: sin on even channels, cos on odd, wavelengths 2*pi .. 10000*2*pi (Vaswani et al.)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


class _Gate(nn.Module):
    """GTrXL's GRU-type gate ``g(x, y)``; the bias ``b_g = 2`` starts it near the identity ``g(x, y) = x``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w = nn.Linear(dim, 3 * dim)  # W_r, W_z, W_g applied to the sublayer output y
        self.u_rz = nn.Linear(dim, 2 * dim, bias=False)  # U_r, U_z applied to the residual stream x
        self.u_g = nn.Linear(dim, dim, bias=False)
        self.b_g = nn.Parameter(torch.full((dim,), 2.0))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        wr, wz, wg = self.w(y).chunk(3, dim=-1)
        ur, uz = self.u_rz(x).chunk(2, dim=-1)
        r = torch.sigmoid(wr + ur)
        z = torch.sigmoid(wz + uz - self.b_g)
        h = torch.tanh(wg + self.u_g(r * x))
        return (1 - z) * x + z * h


class _Block(nn.Module):
    """Pre-LN block: ``x + Attn(LN x)`` then ``+ MLP(LN .)``; with ``gated``, ``g(x, ReLU(sublayer))`` instead."""

    def __init__(self, dim: int, heads: int, gated: bool, dropout: float, relative: bool) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention dim {dim} is not divisible by {heads} heads")
        self.heads, self.dropout, self.gated = heads, dropout, gated
        self.norm_attn, self.norm_mlp = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.pos = nn.Linear(dim, dim, bias=False) if relative else None  # W_l: age table -> per-head keys
        self.gate_attn = _Gate(dim) if gated else None
        self.gate_mlp = _Gate(dim) if gated else None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # [B, T, D] -> [B, H, T, D/H]

    def forward(self, context: torch.Tensor, n_query: int, mask: torch.Tensor | None = None,
                ages: torch.Tensor | None = None, table: torch.Tensor | None = None) -> torch.Tensor:
        """Queries are the last ``n_query`` rows of ``context``.

        Args:
            context: ``[B, Tk, D]`` block inputs of the keys (memory then new steps).
            n_query: number of new steps Tq at the end of ``context``.
            mask: ``[B, Tq, Tk]`` bool, true where query may attend to key (None: all).
            ages: ``[Tq, Tk]`` long, query time minus key time clamped to 0..K-1 (with ``table``).
            table: ``[K, D]`` age embeddings r(0..K-1).

        Returns:
            ``[B, Tq, D]``: the block outputs of the queries.
        """
        x = context[:, -n_query:]  # [B, Tq, D]
        h = self.norm_attn(context)
        q = self._split(self.q(h[:, -n_query:]))  # [B, H, Tq, dh]
        k, v = (self._split(t) for t in self.kv(h).chunk(2, dim=-1))  # [B, H, Tk, dh]
        bias: torch.Tensor | None = None
        if self.pos is not None and ages is not None and table is not None:
            p = self._split(self.pos(table).unsqueeze(0))[0]  # [H, K, dh]
            qp = q @ p.transpose(-1, -2) / math.sqrt(q.shape[-1])  # [B, H, Tq, K]: q_t . W r(age)
            bias = qp.gather(-1, ages.expand(*qp.shape[:2], *ages.shape))  # [B, H, Tq, Tk]
        if mask is not None:
            blocked = ~mask.unsqueeze(1)  # [B, 1, Tq, Tk]
            bias = (torch.zeros_like(blocked, dtype=q.dtype) if bias is None else bias).masked_fill(
                blocked, float("-inf"))
        drop = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)  # [B, H, Tq, dh]
        a = F.dropout(self.out(a.transpose(1, 2).flatten(2)), drop, self.training)  # [B, Tq, D]
        x = self.gate_attn(x, torch.relu(a)) if self.gate_attn is not None else x + a
        m = F.dropout(self.mlp(self.norm_mlp(x)), drop, self.training)
        return self.gate_mlp(x, torch.relu(m)) if self.gate_mlp is not None else x + m


class AttentionTorso(SequenceTorso):
    """Causal attention memory over the last ``memory`` (K) steps of the episode, on any feed-forward torso.

    State: ``(memory [B, layers, K-1, dim], valid [B, K-1] bool)``: each layer's inputs at the previous K-1
    steps, oldest first, and whether each slot is a step of the current episode (invalid slots are zeros).
    ``initial_state`` is zeros and all-invalid.
    """

    def __init__(self, feature: Torso, dim: int = 128, heads: int = 4, layers: int = 2, memory: int = 16,
                 positions: Positions = "sinusoidal", gated: bool = True, dropout: float = 0.0) -> None:
        """Build the attention core on ``feature``.

        Args:
            feature: feed-forward torso giving ``[B, feature.output_dim]``.
            dim: model width (output features ``[B, dim]``); divisible by ``heads``.
            heads: attention heads.
            layers: attention blocks.
            memory: K, the steps each block attends to (the current one and K-1 before it).
            positions: ``"sinusoidal"`` or ``"learned"`` embedding of a key's age 0..K-1.
            gated: GTrXL gates instead of residual sums.
            dropout: on attention weights and sublayer outputs, in training mode only (RL usually wants 0).
        """
        super().__init__()
        check_feature(feature)
        if memory < 1:
            raise ValueError(f"attention memory must be at least 1 step, got {memory}")
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"unknown attention positions '{positions}'; choose sinusoidal or learned")
        self.feature = feature
        self.dim, self.layers, self.memory = dim, layers, memory
        self.embed = nn.Linear(feature.output_dim, dim)
        self.blocks = nn.ModuleList(_Block(dim, heads, gated, dropout, relative=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.table: torch.Tensor
        if positions == "learned":
            self.table = nn.Parameter(torch.randn(memory, dim) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_table(memory, dim), persistent=False)
        self.output_dim = dim

    def initial_state(self, batch_size: int) -> RecurrentState:
        """``(zeros [B, layers, K-1, dim], all-false valid [B, K-1])``."""
        p = self._param()
        m = self.memory - 1
        return (torch.zeros(batch_size, self.layers, m, self.dim, device=p.device, dtype=p.dtype),
                torch.zeros(batch_size, m, device=p.device, dtype=torch.bool))

    def forward_sequence(self, obs: torch.Tensor, state: RecurrentState = None,
                         reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """All T steps in parallel: ``obs [T, B, ...]``, ``reset [T, B]`` bool.

        Step t attends to steps t-K+1..t of its own episode, the state's memory prepended to the sequence.

        Returns:
            ``(features [T, B, dim], final state)``, the state equal to what T calls of ``forward`` leave.
        """
        t, b = obs.shape[:2]
        x = self.embed(sequence_features(self.feature, obs)).transpose(0, 1)  # [B, T, D]
        memory, valid = self.initial_state(b) if state is None else state  # [B, L, M, D], [B, M]
        m = memory.shape[2]
        # Episode index of each new step (a reset starts a new one); memory slots belong to episode 0.
        rst = torch.zeros(b, t, dtype=torch.bool, device=x.device) if reset is None else reset.bool().T
        ep = torch.cat([torch.zeros_like(valid, dtype=torch.long), rst.long().cumsum(1)], dim=1)  # [B, M+T]
        key_ok = torch.cat([valid, torch.ones_like(rst)], dim=1)  # [B, M+T]
        # Times: memory slots -m..-1, new steps 0..T-1; age = query time - key time.
        q_time = torch.arange(t, device=x.device)
        k_time = torch.arange(-m, t, device=x.device)
        age = q_time[:, None] - k_time[None, :]  # [T, M+T]
        window = (age >= 0) & (age < self.memory)
        mask = window & key_ok[:, None, :] & (ep[:, None, :] == ep[:, m:, None])  # [B, T, M+T]
        ages = age.clamp(0, self.memory - 1)
        # Slots kept for the next call: the last M steps, valid when in the episode of the last step.
        keep = (key_ok & (ep == ep[:, -1:]))[:, -m:] if m else valid  # [B, M]
        new_memory = []
        for i, block in enumerate(self.blocks):
            context = torch.cat([memory[:, i], x], dim=1)  # [B, M+T, D]
            new_memory.append(context[:, context.shape[1] - m:] * keep[..., None].to(x.dtype))
            x = block(context, t, mask, ages, self.table)  # [B, T, D]
        return self.norm(x).transpose(0, 1), (torch.stack(new_memory, dim=1), keep)


class BoardAttentionTorso(Torso):
    """``obs [B, C, H, W]`` -> cells ``[B, H*W, C]`` -> Linear(dim) + position -> L blocks -> mean -> ``[B, dim]``."""

    def __init__(self, obs_shape: tuple[int, ...], dim: int = 64, heads: int = 4, layers: int = 2,
                 gated: bool = False) -> None:
        """Board encoder for AlphaZero-style networks.

        Args:
            obs_shape: ``(C, H, W)`` board planes.
            dim: model width and output features.
            heads: attention heads (divide ``dim``).
            layers: attention blocks.
            gated: GTrXL gates instead of residual sums.
        """
        super().__init__()
        c, h, w = obs_shape
        self.embed = nn.Linear(c, dim)
        self.position = nn.Parameter(torch.randn(h * w, dim) * 0.02)  # one learned embedding per cell
        self.blocks = nn.ModuleList(_Block(dim, heads, gated, 0.0, relative=False) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.output_dim = dim

    def forward(self, obs: torch.Tensor, state: RecurrentState = None) -> tuple[torch.Tensor, RecurrentState]:
        x = self.embed(self.prepare(obs).flatten(2).transpose(1, 2)) + self.position  # [B, H*W, dim]
        for block in self.blocks:
            x = block(x, x.shape[1])
        return self.norm(x).mean(dim=1), state  # [B, dim]
