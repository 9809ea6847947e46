"""Errors for bad user input; the CLI turns them into a one-line message and exit code 2."""


class ConfigError(ValueError):
    """A configuration that cannot work (an incompatible combination, a bad value)."""
