"""Pluggable torsos chosen by config: ``TorsoConfig(kind=...)`` -> ``build_torso(cfg, spec)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from agents.constraints import MAX_COUNT, MAX_WIDTH, Interval
from agents.errors import ConfigError
from agents.torsos.attention import AttentionTorso, BoardAttentionTorso
from agents.torsos.base import RecurrentState, Torso
from agents.torsos.board import BoardResNet
from agents.torsos.cnn import ImpalaResNet, NatureCNN, SmallCNN
from agents.torsos.mlp import ACTIVATIONS, MLPTorso
from agents.torsos.recurrent import RecurrentTorso, SequenceTorso, detach_state
from envs.base import EnvSpec

TorsoKind = Literal["auto", "mlp", "nature_cnn", "impala", "small_cnn", "resnet", "board_attention"]
CoreKind = Literal["none", "lstm", "gru", "attention"]


@dataclass(frozen=True)
class TorsoConfig:
    """Which network body turns observations into features."""

    kind: TorsoKind = "auto"
    """Torso: mlp (flat features), nature_cnn (Atari), impala (ResNet), small_cnn (MinAtar), resnet (board games,
    AlphaZero tower), board_attention (board games, self-attention over cells); auto picks by env."""
    hidden: tuple[Annotated[int, Interval(ge=1, le=MAX_WIDTH)], ...] = (128, 128)
    """MLP layer widths."""
    activation: str = "relu"
    """MLP activation: relu, tanh, elu or gelu."""
    fc: Annotated[int, Interval(ge=0, le=MAX_WIDTH)] = 512
    """Width of the fully connected layer after a CNN (0: none, the head sees conv features)."""
    channels: Annotated[int, Interval(ge=1, le=MAX_WIDTH)] = 64
    """resnet: channels of the residual tower."""
    blocks: Annotated[int, Interval(ge=0, le=1_000)] = 4
    """resnet: number of residual blocks."""
    core: CoreKind = "none"
    """Memory core on top of the kind torso: none (feed-forward), lstm, gru, or attention (GTrXL-style, causal
    over the last attention_memory steps)."""
    core_hidden: Annotated[int, Interval(ge=1, le=MAX_WIDTH)] = 128
    """Width of the lstm/gru state, of the attention model (core attention) and of board_attention."""
    attention_heads: Annotated[int, Interval(ge=1, le=1_000)] = 4
    """core attention and board_attention: attention heads (must divide core_hidden)."""
    attention_layers: Annotated[int, Interval(ge=1, le=1_000)] = 2
    """core attention and board_attention: attention blocks."""
    attention_memory: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 16
    """core attention: K, the steps each block attends to (the current step and K-1 before it)."""
    attention_positions: Literal["sinusoidal", "learned"] = "sinusoidal"
    """core attention: embedding of a key's age 0..K-1, sinusoidal or learned."""
    attention_gated: bool = True
    """core attention and board_attention: GTrXL GRU-type gates in place of residual sums."""


def resolve_kind(cfg: TorsoConfig, spec: EnvSpec) -> str:
    """The concrete torso kind for ``spec`` (``auto`` chosen from the observation kind)."""
    if cfg.kind != "auto":
        return cfg.kind
    return {"vector": "mlp", "atari": "nature_cnn", "image": "small_cnn", "board": "resnet"}.get(spec.kind, "mlp")


def build_torso(cfg: TorsoConfig, spec: EnvSpec) -> Torso:
    """Build the torso for ``spec``, wrapped in the memory core ``cfg.core`` when set.

    Raises:
        ConfigError: on an incompatible combination or a bad value.
    """
    feature = _build_feature(cfg, spec)
    if cfg.core == "none":
        return feature
    if cfg.core in ("lstm", "gru"):
        return RecurrentTorso(feature, cfg.core, cfg.core_hidden)
    if cfg.core == "attention":
        if cfg.attention_memory < 1:
            raise ConfigError(f"--torso.attention-memory must be at least 1, got {cfg.attention_memory}")
        return AttentionTorso(feature, cfg.core_hidden, cfg.attention_heads, cfg.attention_layers,
                              cfg.attention_memory, cfg.attention_positions, cfg.attention_gated)
    raise ConfigError(f"unknown torso core '{cfg.core}'; choose none, lstm, gru or attention")


def _build_feature(cfg: TorsoConfig, spec: EnvSpec) -> Torso:
    kind = resolve_kind(cfg, spec)
    if kind == "board_attention" or cfg.core == "attention":
        if cfg.core_hidden % cfg.attention_heads:
            raise ConfigError(f"--torso.core-hidden {cfg.core_hidden} is not divisible by "
                              f"--torso.attention-heads {cfg.attention_heads}")
    scale = 1.0 / 255.0 if spec.obs_dtype == "uint8" and spec.kind == "atari" else 1.0
    shape = spec.obs_shape
    if kind != "mlp" and len(shape) != 3:
        raise ConfigError(f"torso '{kind}' needs image observations [C, H, W], but {spec.env_id} gives "
                          f"shape {shape}; use --torso.kind mlp")
    if kind == "mlp":
        if cfg.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation '{cfg.activation}'; choose from {sorted(ACTIVATIONS)}")
        return MLPTorso(shape, cfg.hidden, cfg.activation, obs_scale=scale)
    if kind == "nature_cnn":
        if min(shape[1:]) < 36:
            raise ConfigError(f"nature_cnn needs frames of at least 36x36, {spec.env_id} gives {shape[1:]}; "
                              "use --torso.kind small_cnn or impala")
        return NatureCNN(shape, fc=cfg.fc, obs_scale=scale)
    if kind == "impala":
        return ImpalaResNet(shape, fc=cfg.fc, obs_scale=scale)
    if kind == "small_cnn":
        return SmallCNN(shape, fc=cfg.fc, obs_scale=scale)
    if kind == "resnet":
        return BoardResNet(shape, channels=cfg.channels, blocks=cfg.blocks)
    if kind == "board_attention":
        return BoardAttentionTorso(shape, cfg.core_hidden, cfg.attention_heads, cfg.attention_layers,
                                   cfg.attention_gated)
    raise ConfigError(f"unknown torso kind '{kind}'")


__all__ = ["AttentionTorso", "BoardAttentionTorso", "BoardResNet", "ImpalaResNet", "MLPTorso", "NatureCNN",
           "RecurrentState", "RecurrentTorso", "SequenceTorso", "SmallCNN", "Torso", "TorsoConfig", "build_torso",
           "detach_state", "resolve_kind"]
