"""``Family``: what one algorithm family declares so that ``train``, ``--help``, ``presets``, resume and Ray find it.

A family names its trainers by entry point (``"package.module:function"``, as Gymnasium's registry names env
classes): the registry sits at the bottom of runners/ and imports neither the trainers nor Ray, which load only
when a run of that family starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal


def _always(cfg: Any) -> bool:
    return True


@dataclass(frozen=True)
class Family:
    name: str
    """Short name: dqn, pg, imitation, selfplay, league."""
    title: str
    """What a run of this family is called in messages ("a DQN-family run")."""
    command: Literal["train", "selfplay", "league"]
    """The ``arena`` command that starts its runs."""
    config: type
    """Its config class (a frozen dataclass; tyro builds the command's options from it)."""
    presets: Mapping[str, Callable[[], Any]]
    """Named configurations, in the order ``arena presets`` lists them."""
    trainer: str
    """Entry point of the single-process trainer: ``f(cfg, run_dir, *, resume, stop_at, console, **extra)``."""
    ray_trainer: str
    """Entry point of the Ray trainer (``--runner ray``), same signature."""
    resume_fixed: tuple[str, ...]
    """Options a resume may not change, because the saved state depends on them (a name ending in "." covers a
    whole section): the network's shapes, replay ring sizes, per-sub-env state, the optimiser's moments."""
    accepts: Callable[[Any], bool] = _always
    """Whether a config (an instance of ``config``) is this family's; for families that share a config class."""
    accepts_saved: Callable[[Mapping[str, Any]], bool] = _always
    """The same for a saved config dict (``config.json``) whose preset is unknown."""

    def load_trainer(self, ray: bool) -> Callable[..., Any]:
        """Import and return the trainer (Ray's when ``ray``)."""
        module, _, name = (self.ray_trainer if ray else self.trainer).partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn
