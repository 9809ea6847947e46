"""Valid ranges of config fields, declared once beside each field with ``typing.Annotated``, and their check.

A field reads ``lr: Annotated[float, Gt(0)] = 1e-4``: the constraints are ``annotated_types``' own
(``Gt``, ``Ge``, ``Lt``, ``Le``, ``Interval``, ``MinLen``), so tyro, mypy and readers all see plain types.
``check_fields`` reads them with ``typing.get_type_hints(include_extras=True)``, checks each value's type
against its annotation too (a resumed ``config.json`` may hold ``"batch_size": "abc"``), and refuses a bad
value in one line naming its flag (``--agent.lr must be > 0 (got -1.0)``).
``runners.local.validation.validate_config`` calls it, plus the rules that span fields, before anything is built.

Two rules hold without a marker, because no option wants otherwise:
* every float must be finite (NaN and +-inf are refused), unless the field carries ``AllowInf``;
* NaN is refused everywhere, ``AllowInf`` included (it fails every comparison, so it would slip past ranges).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import BaseMetadata, Ge, GroupedMetadata, Gt, Interval, Le, Lt, MaxLen, MinLen

from agents.errors import ConfigError

__all__ = ["AllowInf", "Ge", "Gt", "Interval", "Le", "Lt", "MaxLen", "MinLen", "MAX_COUNT", "MAX_SEED", "MAX_STEPS",
           "MAX_WIDTH", "check_fields"]


@dataclass(frozen=True)
class _AllowInf:
    """Marker: this float may be +-inf (where infinity means "no limit"); NaN stays refused."""


AllowInf = _AllowInf()

# Upper bounds that catch a typo'd exponent (1e23 steps, a 1e14-slot buffer) instead of running out of
# memory or time: 1e12 env steps is about 5,000 times the Atari 200M-frame protocol.
MAX_STEPS = 10**12
# Counts of things that are each allocated or run (envs, workers, games, layers' widths, ...).
MAX_COUNT = 1_000_000
# numpy's SeedSequence takes seeds >= 0 (a negative one is a traceback); torch's manual_seed up to 2**64 - 1.
MAX_SEED = 2**63 - 1
# Widths of network layers (a 65,536-wide square layer already holds 4 billion weights).
MAX_WIDTH = 65_536


def check_fields(cfg: Any, prefix: str = "--", aliases: Mapping[str, str] | None = None) -> None:
    """Check the type and declared range of every field of the dataclass ``cfg``, recursing into nested ones.

    Args:
        cfg: a config (or CLI arguments) dataclass instance.
        prefix: the flag prefix of its fields (``--agent.`` for a config nested as ``agent``).
        aliases: flags to name by another spelling in messages (a CLI shorthand).

    Raises:
        ConfigError: the first bad value, naming its flag, the valid range and the value given.
    """
    for f, hint in _fields(cfg.__class__):  # (type(cfg) is type[Any], which mypy will not hash)
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value, f"{prefix}{f.name.replace('_', '-')}.", aliases)
        else:
            flag = _flag(prefix, f.name, hint)
            _check_value(value, hint, (aliases or {}).get(flag, flag))


@cache
def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def _flag(prefix: str, name: str, hint: Any) -> str:
    if prefix == "--" and any(type(m).__name__ == "_InnerMarker" and str(m) == "Positional"
                              for m in getattr(hint, "__metadata__", ())):
        return name.upper()  # a tyro.conf.Positional argument has no flag
    return f"{prefix}{name.replace('_', '-')}"


def _check_value(value: Any, hint: Any, flag: str) -> None:
    """``value`` against ``hint``: Annotated constraints, then the bare type (recursing into tuples, unions)."""
    base, constraints = _split(hint)
    if not _type_ok(value, base, flag):
        raise ConfigError(f"{flag} must be {_type_name(base)} (got {value!r})")
    if value is None:
        return
    if isinstance(value, float) and not (math.isfinite(value) or (math.isinf(value) and AllowInf in constraints)):
        raise ConfigError(f"{flag} must be a finite number (got {value})")
    for c in constraints:
        if not _satisfies(value, c):
            got = "" if isinstance(c, MinLen | MaxLen) and not value else f" (got {value!r})"
            raise ConfigError(f"{flag} {_describe(constraints)}{got}")


def _split(hint: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, a, b]`` -> ``(T, [a, b])``, grouped metadata (``Interval``) flattened."""
    constraints: list[Any] = []
    while get_origin(hint) is Annotated:
        for m in hint.__metadata__:
            constraints.extend(m if isinstance(m, GroupedMetadata) else [m])
        hint = hint.__origin__
    return hint, [c for c in constraints if isinstance(c, BaseMetadata) or c is AllowInf]


def _type_ok(value: Any, base: Any, flag: str) -> bool:
    """Whether ``value`` has type ``base``; element constraints inside tuples raise from ``_check_value``."""
    origin = get_origin(base)
    if base is Any:
        return True
    if origin is Literal:
        return value in get_args(base)
    if origin in (Union, types.UnionType):
        options = get_args(base)
        for option in options:  # the first member whose type fits; its constraints then apply
            if _type_ok(value, _split(option)[0], flag):
                if value is not None:
                    _check_value(value, option, flag)
                return True
        return False
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        args = get_args(base)
        items = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(items) != len(value):
            return False
        for item, hint in zip(value, items, strict=True):
            _check_value(item, hint, flag)
        return True
    if base is type(None):
        return value is None
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:  # JSON writes 1.0 as 1
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(base, type):
        return isinstance(value, base)
    return True  # a typing form this walker does not know: tyro parsed it


def _type_name(base: Any) -> str:
    origin = get_origin(base)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(base))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(_split(a)[0]) for a in get_args(base))
    if origin is tuple:
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        item = _split(get_args(base)[0])[0]
        return "a list of " + plural.get(item, _type_name(item))
    if base is type(None):
        return "None"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(base, getattr(base, "__name__", str(base)))


def _satisfies(value: Any, c: Any) -> bool:
    if isinstance(c, Gt):
        return bool(value > c.gt)
    if isinstance(c, Ge):
        return bool(value >= c.ge)
    if isinstance(c, Lt):
        return bool(value < c.lt)
    if isinstance(c, Le):
        return bool(value <= c.le)
    if isinstance(c, MinLen):
        return len(value) >= c.min_length
    if isinstance(c, MaxLen):
        return len(value) <= c.max_length
    return True


def _describe(constraints: list[Any]) -> str:
    """``must be in [0, 1]``, ``must be > 0``, ``must not be empty``, ... from every constraint of a field."""
    if any(isinstance(c, MinLen | MaxLen) for c in constraints):
        lo = next((c.min_length for c in constraints if isinstance(c, MinLen)), 0)
        hi = next((c.max_length for c in constraints if isinstance(c, MaxLen)), None)
        if lo == 1 and hi is None:
            return "must not be empty"
        return f"must have {lo} to {hi} items" if hi is not None else f"must have at least {lo} items"
    lower = next((c for c in constraints if isinstance(c, Gt | Ge)), None)
    upper = next((c for c in constraints if isinstance(c, Lt | Le)), None)
    if lower is not None and upper is not None:
        left = f"({_num(lower.gt)}" if isinstance(lower, Gt) else f"[{_num(lower.ge)}"
        right = f"{_num(upper.lt)})" if isinstance(upper, Lt) else f"{_num(upper.le)}]"
        return f"must be in {left}, {right}"
    if lower is not None:
        return f"must be > {_num(lower.gt)}" if isinstance(lower, Gt) else f"must be >= {_num(lower.ge)}"
    if upper is not None:
        return f"must be < {_num(upper.lt)}" if isinstance(upper, Lt) else f"must be <= {_num(upper.le)}"
    return "is out of range"


def _num(x: Any) -> str:
    """1e12 rather than 1e+12 or 1000000000000 for powers of ten; other numbers exactly."""
    if isinstance(x, int) and abs(x) >= 10**6 and str(abs(x)).rstrip("0") != "1":
        return str(x)
    return f"{float(x):g}".replace("e+0", "e").replace("e+", "e")
