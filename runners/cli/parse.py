"""Argument parsing for every ``arena`` command: tyro, its errors in one line, then the config's declared ranges.

At the bottom of runners/cli/: each command module imports it; it imports nothing of the commands.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import tyro

from runners.local.validation import validate_config

T = TypeVar("T")


class UsageError(ValueError):
    pass


def parse(cls: Callable[..., T], args: Sequence[str], prog: str, default: Any = None,
          description: str | None = None) -> T:
    """tyro parsing whose errors become a UsageError carrying tyro's one-line reason; the parsed dataclass is
    then checked against its fields' declared ranges (``runners.local.validation``), so every command refuses a bad
    value in one line before it builds or creates anything."""
    err = io.StringIO()
    kwargs: dict[str, Any] = {"args": list(args), "prog": prog, "description": description}
    if default is not None:
        kwargs["default"] = default
    try:
        with contextlib.redirect_stderr(err):
            parsed = tyro.cli(cls, **kwargs)
    except SystemExit as e:
        if e.code in (0, None):
            raise
        raise UsageError(one_line(err.getvalue()) + f" (see {prog} --help)") from None
    validate_config(parsed)
    return parsed


def one_line(text: str) -> str:
    """The reason line of tyro's error box (drawn with unicode, ASCII or no borders at all).

    The box title (``Value error``, ``Unrecognized options``) is skipped in favour of the first
    line that carries a reason (``Error parsing --agent.lr: ...``), joined with the lines of its paragraph that
    tyro wrapped it onto. A reason without a colon (``invalid choice
    'x' for argument '--league.weighting'. Expected one of (...)``) is the box's first paragraph below the
    title, its wrapped lines joined.
    """
    lines = []
    paragraphs: list[list[str]] = [[]]  # content between borders and separator lines
    for line in text.splitlines():
        raw = line.strip()
        clean = raw.strip("│|╭╮╰╯").strip()
        rule = not clean or set(clean) <= set("─-+ ") or raw.startswith(("╭", "╰"))
        if clean and not set(clean) <= set("─-+ ") and not clean.startswith("usage"):
            lines.append(re.sub(r"\s+", " ", clean))
        if rule:
            if paragraphs[-1]:
                paragraphs.append([])
        elif not clean.startswith(("usage", "For full helptext")):
            paragraphs[-1].append(re.sub(r"\s+", " ", clean))
    for para in paragraphs:  # the first reason, with the lines tyro wrapped it onto ("... base 10:" / "'abc'")
        starts = [i for i, line in enumerate(para) if ":" in line and "helptext" not in line]
        if starts:
            return " ".join(para[starts[0]:])
    texts = [" ".join(p) for p in paragraphs if p]
    if len(texts) > 1 and len(paragraphs[0]) == 1 and len(texts[0].split()) <= 4:
        texts = texts[1:]  # a title above a rule (tyro without box borders)
    if texts:
        return texts[0]
    return lines[0] if lines else "invalid arguments"
