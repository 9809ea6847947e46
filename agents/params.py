"""ParamsClient: how an actor gets a learner's parameters (after Acme's VariableClient).

In one process the actor usually shares the learner's network module, and ``update`` is free. A
distributed runner gives the actor its own network copy and a ``fetch`` that returns the learner's
``(version, state_dict)`` (e.g. from a Ray object ref); the client then copies new parameters in
every ``period`` learner updates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from agents.base import Actor

Fetch = Callable[[], tuple[int, dict[str, torch.Tensor]]]


class ParamsClient:
    def __init__(self, actor: Actor, fetch: Fetch, period: int = 1, shared: bool = False) -> None:
        """
        Args:
            actor: the actor to keep up to date.
            fetch: returns the learner's ``(version, params)``.
            period: learner updates between copies (ignored when ``shared``).
            shared: the actor acts with the learner's own module: nothing to copy.
        """
        self.actor, self.fetch, self.period, self.shared = actor, fetch, max(period, 1), shared
        self.version: int | None = None  # None: never copied yet

    def update(self, learner_version: int) -> bool:
        """Copy parameters in when ``period`` updates have passed; returns whether it copied."""
        if self.shared or (self.version is not None and learner_version - self.version < self.period):
            return False
        version, params = self.fetch()
        self.actor.update_params(version, params)
        self.version = version
        return True
