"""``arena presets``: every registered family's presets, by command."""

from __future__ import annotations

from collections.abc import Sequence

from runners.cli.parse import UsageError
from runners.families.registry import DEFAULT_PRESET, PRESETS, describe
from runners.families.selfplay import DEFAULT_SELFPLAY_PRESET, SELFPLAY_PRESETS


def cmd_presets(args: Sequence[str]) -> int:
    if args:
        raise UsageError("arena presets takes no arguments")
    width = max(map(len, [*PRESETS, *SELFPLAY_PRESETS]))
    print("arena train PRESET:")
    for name in PRESETS:
        mark = " (default)" if name == DEFAULT_PRESET else ""
        print(f"  {name:<{width}}  {describe(name)}{mark}")
    print("arena selfplay PRESET:")
    for name, fn in SELFPLAY_PRESETS.items():
        mark = " (default)" if name == DEFAULT_SELFPLAY_PRESET else ""
        print(f"  {name:<{width}}  {(fn.__doc__ or '').strip().splitlines()[0]}{mark}")
    return 0
