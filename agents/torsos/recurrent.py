"""LSTM / GRU memory cores on top of a feed-forward feature torso.

- LSTM: Hochreiter & Schmidhuber 1997, "Long short-term memory". GRU: Cho et al. 2014.
- The DRQN / R2D2 arrangement (Hausknecht & Stone 2015; Kapturowski et al. 2019, "Recurrent experience
  replay in distributed reinforcement learning"): ``obs -> feature torso -> recurrent core -> features``.

Two call forms share one implementation of the maths (``forward`` is ``forward_sequence`` with T = 1):

- streaming, for actors: ``forward(obs [B, ...], state, reset [B]) -> (features [B, hidden], state)``;
- sequence, for learners: ``forward_sequence(obs [T, B, ...], state, reset [T, B]) -> ([T, B, hidden], state)``.

``reset[t, b]`` is true where ``obs[t, b]`` is the first observation of an episode: row b's state is zeroed
before step t, so episode boundaries inside a replayed sequence or a rollout are respected.

Truncated backpropagation through time: gradients flow through the whole given sequence and into the
given initial state. Callers that carry state from one sequence into the next must ``detach`` it (see
``detach_state``); R2D2-style replay stores the actor's state at the sequence start and may refresh it by
a no-grad burn-in prefix.

Deviation, for speed: the core is ``nn.LSTM`` / ``nn.GRU`` run over the spans between time steps where some
row resets (one cuDNN call per span instead of one cell call per step); the result is the same as stepping
a cell one step at a time.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from agents.torsos.base import RecurrentState, Torso

CoreKind = Literal["lstm", "gru"]


def detach_state(state: RecurrentState) -> RecurrentState:
    """``state`` with every tensor detached (truncated BPTT between sequences); tuples keep their structure."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


class SequenceTorso(Torso):
    """A torso with memory: ``forward_sequence`` over ``[T, B, ...]``; ``forward`` is its T = 1 case.

    Subclasses implement ``initial_state`` and ``forward_sequence``. Every state tensor is batch-first
    (``[B, ...]``), so replay can store and index states like observations.
    """

    is_recurrent = True

    def forward(self, obs: torch.Tensor, state: RecurrentState = None,
                reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """One step: ``obs [B, ...]``, ``reset [B]`` bool (None: no row starts an episode).

        Returns:
            ``(features [B, output_dim], new state)``; ``state`` None means ``initial_state(B)``.
        """
        out, state = self.forward_sequence(obs.unsqueeze(0), state, None if reset is None else reset.unsqueeze(0))
        return out[0], state

    def forward_sequence(self, obs: torch.Tensor, state: RecurrentState = None,
                         reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """``obs [T, B, ...]``, ``reset [T, B]`` bool -> ``(features [T, B, output_dim], final state)``."""
        raise NotImplementedError

    def _param(self) -> torch.Tensor:
        return next(self.parameters())


def sequence_features(feature: Torso, obs: torch.Tensor) -> torch.Tensor:
    """Run a feed-forward ``feature`` torso on all ``T * B`` observations at once: ``[T, B, ...] -> [T, B, F]``."""
    t, b = obs.shape[:2]
    x, _ = feature(obs.flatten(0, 1))  # [T*B, F]
    return x.reshape(t, b, -1)


def check_feature(feature: Torso) -> None:
    if feature.is_recurrent:
        raise ValueError("a memory core needs a feed-forward feature torso, got a recurrent one")


class RecurrentTorso(SequenceTorso):
    """``obs -> feature torso -> LSTM | GRU (hidden) -> [B, hidden]``.

    State: ``(h, c)`` for the LSTM, ``h`` for the GRU, each ``[B, hidden]``; ``initial_state`` is zeros.
    """

    def __init__(self, feature: Torso, kind: CoreKind = "lstm", hidden: int = 128) -> None:
        """Wrap ``feature`` (an MLP or CNN torso; it applies its own ``obs_scale``).

        Args:
            feature: feed-forward torso giving ``[B, feature.output_dim]``.
            kind: ``"lstm"`` or ``"gru"``.
            hidden: width of the recurrent state and of the output features.
        """
        super().__init__()
        check_feature(feature)
        if kind not in ("lstm", "gru"):
            raise ValueError(f"unknown recurrent core '{kind}'; choose lstm or gru")
        self.feature = feature
        self.kind = kind
        self.hidden = hidden
        self.core: nn.LSTM | nn.GRU = (nn.LSTM if kind == "lstm" else nn.GRU)(feature.output_dim, hidden)
        self.output_dim = hidden

    def initial_state(self, batch_size: int) -> RecurrentState:
        """Zeros: ``(h, c)`` each ``[B, hidden]`` (LSTM) or ``h [B, hidden]`` (GRU)."""
        p = self._param()
        h = torch.zeros(batch_size, self.hidden, device=p.device, dtype=p.dtype)
        return (h, h.clone()) if self.kind == "lstm" else h

    def forward_sequence(self, obs: torch.Tensor, state: RecurrentState = None,
                         reset: torch.Tensor | None = None) -> tuple[torch.Tensor, RecurrentState]:
        """Unroll the core over ``obs [T, B, ...]``, zeroing state rows where ``reset [T, B]`` before each step.

        Returns:
            ``(features [T, B, hidden], final state)``; gradients flow through all T steps and into ``state``.
        """
        t, b = obs.shape[:2]
        x = sequence_features(self.feature, obs)  # [T, B, F]
        if state is None:
            state = self.initial_state(b)
        # nn.LSTM / nn.GRU keep a leading num_layers axis: [1, B, hidden].
        hs: tuple[torch.Tensor, ...] = tuple(s.unsqueeze(0) for s in ((state,) if self.kind == "gru" else state))
        # Spans start at t = 0 and at every step where some row resets; inside a span no state is zeroed, so
        # one core call covers it. T = 1 (acting) skips the host sync of .tolist().
        starts = [0]
        if reset is not None and t > 1:
            starts += (reset[1:].any(dim=1).nonzero().flatten() + 1).tolist()
        if 2 * len(starts) > t:
            # Acting (T = 1) or resets at most steps (short episodes): one fused cell call per step costs less
            # than nn.LSTM's per-call overhead (2x faster acting at batch 1 on CPU).
            return self._cell_loop(x, hs, reset)
        outs = []
        for i, s in enumerate(starts):
            e = starts[i + 1] if i + 1 < len(starts) else t
            if reset is not None:
                keep = (~reset[s].bool()).to(x.dtype)[None, :, None]  # [1, B, 1]
                hs = tuple(h * keep for h in hs)
            if self.kind == "lstm":
                out, (h, c) = self.core(x[s:e], (hs[0], hs[1]))
                hs = (h, c)
            else:
                out, h = self.core(x[s:e], hs[0])
                hs = (h,)
            outs.append(out)  # [e - s, B, hidden]
        features = outs[0] if len(outs) == 1 else torch.cat(outs)
        final = hs[0][0] if self.kind == "gru" else (hs[0][0], hs[1][0])
        return features, final

    def _cell_loop(self, x: torch.Tensor, hs: tuple[torch.Tensor, ...],
                   reset: torch.Tensor | None) -> tuple[torch.Tensor, RecurrentState]:
        """The same recurrence one step at a time with the core's own weights: ``x [T, B, F]``, ``hs`` each
        ``[1, B, hidden]`` -> ``([T, B, hidden], final state)``."""
        core = self.core
        weights: list[torch.Tensor] = [getattr(core, n) for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                                                   "bias_hh_l0")]
        h = hs[0][0]  # [B, hidden]
        c = hs[1][0] if self.kind == "lstm" else h
        outs = []
        for i in range(x.shape[0]):
            if reset is not None:
                keep = (~reset[i].bool()).to(x.dtype)[:, None]  # [B, 1]
                h = h * keep
                c = c * keep if self.kind == "lstm" else h
            if self.kind == "lstm":
                h, c = torch.lstm_cell(x[i], (h, c), *weights)
            else:
                h = torch.gru_cell(x[i], h, *weights)
            outs.append(h)
        features = torch.stack(outs)
        return features, ((h, c) if self.kind == "lstm" else h)


def flatten_state(state: RecurrentState) -> list[torch.Tensor]:
    """The tensors of a (nested tuple) state in depth-first order, e.g. ``(h, c) -> [h, c]``; None -> []."""
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in flatten_state(s)]


def unflatten_state(tensors: list[torch.Tensor], like: RecurrentState) -> RecurrentState:
    """Inverse of ``flatten_state``: ``tensors`` put back into the structure of ``like``."""
    it = iter(tensors)

    def build(s: RecurrentState) -> RecurrentState:
        if s is None:
            return None
        if isinstance(s, torch.Tensor):
            return next(it)
        return tuple(build(x) for x in s)

    out = build(like)
    if next(it, None) is not None:
        raise ValueError("more state tensors than the structure holds")
    return out
