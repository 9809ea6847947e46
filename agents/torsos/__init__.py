"""Pluggable torsos chosen by config: ``TorsoConfig(kind=...)`` -> ``build_torso(cfg, spec)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agents.errors import ConfigError
from agents.torsos.base import RecurrentState, Torso
from agents.torsos.board import BoardResNet
from agents.torsos.cnn import ImpalaResNet, NatureCNN, SmallCNN
from agents.torsos.mlp import ACTIVATIONS, MLPTorso
from envs.base import EnvSpec

TorsoKind = Literal["auto", "mlp", "nature_cnn", "impala", "small_cnn", "resnet"]


@dataclass(frozen=True)
class TorsoConfig:
    """Which network body turns observations into features."""

    kind: TorsoKind = "auto"
    """Torso: mlp (flat features), nature_cnn (Atari), impala (ResNet), small_cnn (MinAtar), resnet (board games,
    AlphaZero tower); auto picks by env."""
    hidden: tuple[int, ...] = (128, 128)
    """MLP layer widths."""
    activation: str = "relu"
    """MLP activation: relu, tanh, elu or gelu."""
    fc: int = 512
    """Width of the fully connected layer after a CNN (0: none, the head sees conv features)."""
    channels: int = 64
    """resnet: channels of the residual tower."""
    blocks: int = 4
    """resnet: number of residual blocks."""


def resolve_kind(cfg: TorsoConfig, spec: EnvSpec) -> str:
    """The concrete torso kind for ``spec`` (``auto`` chosen from the observation kind)."""
    if cfg.kind != "auto":
        return cfg.kind
    return {"vector": "mlp", "atari": "nature_cnn", "image": "small_cnn", "board": "resnet"}.get(spec.kind, "mlp")


def build_torso(cfg: TorsoConfig, spec: EnvSpec) -> Torso:
    """Build the torso for ``spec``; raises ConfigError on an incompatible combination."""
    kind = resolve_kind(cfg, spec)
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
    raise ConfigError(f"unknown torso kind '{kind}'")


__all__ = ["BoardResNet", "ImpalaResNet", "MLPTorso", "NatureCNN", "RecurrentState", "SmallCNN", "Torso", "TorsoConfig",
           "build_torso", "resolve_kind"]
