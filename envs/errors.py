"""Errors raised while building environments."""

from __future__ import annotations


class EnvIdError(ValueError):
    """The env id names no environment arena knows; the message suggests close matches."""


class UnsupportedEnvError(ValueError):
    """The environment exists but arena cannot batch it (e.g. MultiDiscrete actions, image observations)."""
