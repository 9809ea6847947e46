"""The family registry: every algorithm family arena trains, and the lookups ``train``, the CLI and resume use.

Adding a family: write its config and presets (and its trainers) in their own modules, declare a ``Family``
there, and add it to ``FAMILIES`` below: the one registration line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runners.families import dqn_presets, imitation_presets, league, pg_presets, selfplay
from runners.families.dqn import TrainConfig
from runners.families.family import Family
from runners.families.pg import PGTrainConfig

FAMILIES: tuple[Family, ...] = (dqn_presets.FAMILY, pg_presets.FAMILY, imitation_presets.FAMILY, selfplay.FAMILY,
                                league.FAMILY)

AnyTrainConfig = TrainConfig | PGTrainConfig
"""The configs ``arena train`` runs (the DQN, policy-gradient and imitation families)."""

DEFAULT_PRESET = "dqn-cartpole"


def presets(command: str = "train") -> dict[str, Callable[[], Any]]:
    """Every preset the ``arena`` command ``command`` (train, selfplay or league) runs, in registration order."""
    return {name: fn for f in FAMILIES if f.command == command for name, fn in f.presets.items()}


PRESETS: Mapping[str, Callable[[], AnyTrainConfig]] = presets("train")
"""``arena train``'s presets: name -> function returning its config."""


def family_of(cfg: Any) -> Family:
    """The family a config belongs to."""
    for f in FAMILIES:
        if isinstance(cfg, f.config) and f.accepts(cfg):
            return f
    raise TypeError(f"no registered family trains a {type(cfg).__name__}")


def family_of_preset(name: str) -> Family | None:
    return next((f for f in FAMILIES if name in f.presets), None)


def family_of_saved(data: Mapping[str, Any]) -> Family:
    """The family of a saved config dict (``config.json``): its preset's, else told by its fields."""
    preset = data.get("preset")
    if isinstance(preset, str) and (known := family_of_preset(preset)) is not None:
        return known
    for f in FAMILIES:
        if f.accepts_saved(data):
            return f
    raise ValueError("no registered family matches this saved config")


def describe(name: str) -> str:
    """First docstring line of a preset."""
    fam = family_of_preset(name)
    doc = (fam.presets[name].__doc__ if fam else None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
