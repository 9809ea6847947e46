"""Errors the CLI turns into a one-line message: bad user input (exit code 2) and runs that cannot go on
(exit code 1)."""


class ConfigError(ValueError):
    """A configuration that cannot work (an incompatible combination, a bad value)."""


class RunAbortedError(RuntimeError):
    """A run stopped by a failure it cannot recover from (e.g. Ray workers lost for good), after saving what
    it could; the message says how to go on."""
