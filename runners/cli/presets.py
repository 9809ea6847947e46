"""``arena presets``: every registered family's presets, by command."""

from __future__ import annotations

from collections.abc import Sequence

from runners.cli.parse import UsageError
from runners.families.league import DEFAULT_LEAGUE_PRESET
from runners.families.registry import DEFAULT_PRESET, FAMILIES, describe, presets
from runners.families.selfplay import DEFAULT_SELFPLAY_PRESET

DEFAULTS = {"train": DEFAULT_PRESET, "selfplay": DEFAULT_SELFPLAY_PRESET, "league": DEFAULT_LEAGUE_PRESET}


def cmd_presets(args: Sequence[str]) -> int:
    if args:
        raise UsageError("arena presets takes no arguments")
    commands = list(dict.fromkeys(f.command for f in FAMILIES))  # in registration order: train, selfplay, league
    width = max(len(name) for c in commands for name in presets(c))
    for command in commands:
        print(f"arena {command} PRESET:")
        for name in presets(command):
            mark = " (default)" if name == DEFAULTS.get(command) else ""
            print(f"  {name:<{width}}  {describe(name)}{mark}")
    return 0
