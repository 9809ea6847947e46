"""What ``arena train``, ``selfplay`` and ``league`` share: ``--resume``, Ray flags' short spellings, new run dirs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents.errors import ConfigError
from runners.cli.parse import UsageError, parse
from runners.families.selfplay import SELFPLAY_PRESETS
from runners.local import signals


def split_resume(args: list[str]) -> tuple[str | None, list[str]]:
    for i, a in enumerate(args):
        if a == "--resume":
            if i + 1 >= len(args):
                raise UsageError("--resume needs a run directory")
            return args[i + 1], args[:i] + args[i + 2:]
        if a.startswith("--resume="):
            return a.split("=", 1)[1], args[:i] + args[i + 1:]
    return None, args


# The spelling of the Ray runner's main flags, as shorthands for their --distributed.* fields
# (``--runner.*`` stays the nested RunnerConfig; a bare ``--runner`` is free).
RUNNER_FLAGS = {"--runner": "--distributed.kind", "--num-workers": "--distributed.num-workers",
                 "--ray-address": "--distributed.ray-address"}


def translate_runner_flags(args: list[str]) -> list[str]:
    """``--runner ray``, ``--num-workers N``, ``--ray-address X`` (also ``--flag=value``) to tyro's spelling."""
    out = []
    for a in args:
        flag, eq, value = a.partition("=")
        out.append(RUNNER_FLAGS[flag] + eq + value if flag in RUNNER_FLAGS else a)
    return out


def runner_flags(args: list[str]) -> list[str]:
    """``_translate_runner_flags`` for ``arena train``, which points self-play presets to ``arena selfplay``."""
    out = translate_runner_flags(args)
    if out and not out[0].startswith("-") and any(a.startswith("--distributed.kind") for a in out):
        if out[0] in SELFPLAY_PRESETS:
            raise ConfigError(f"'{out[0]}' is an AlphaZero self-play preset, and self-play does not run on Ray "
                              f"through arena train: use arena selfplay {out[0]} --runner ray")
    return out


def fresh_run(run_dir: Path, go: Callable[[], int | None]) -> int:
    """Exit code of a new run (``go`` returns the signal that stopped it); a signal before its first checkpoint
    (while Ray, wandb or the envs start) leaves no half-made run directory behind."""
    created = not run_dir.exists()
    try:
        return signals.exit_code(go())
    except KeyboardInterrupt:
        if created:
            signals.discard_unsaved(run_dir)
        raise


def preset_config(args: list[str], presets: Mapping[str, Callable[[], Any]], default: str, command: str,
                  what: str, description: str) -> Any:
    """The config of the preset named by ``args``' first word (else ``default``), overridden by the rest of
    ``args`` (parsed with the preset's own config class, so --help lists exactly its options)."""
    preset = args.pop(0) if args and not args[0].startswith("-") else default
    if preset not in presets:
        close = difflib.get_close_matches(preset, presets, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see arena presets"
        raise UsageError(f"unknown {what} '{preset}'{hint}")
    base = presets[preset]()
    cfg = parse(type(base), args, f"arena {command} {preset}", default=base, description=description.format(preset))
    if cfg.preset != preset:
        raise UsageError("--preset cannot be overridden; give the preset name as the first argument")
    return cfg


def new_run_dir(run_dir: Path) -> Path:
    """``run_dir``, refused when it already holds a run."""
    if (run_dir / "checkpoints").exists():
        raise UsageError(f"{run_dir} already holds a run; use --resume {run_dir} or another --log.run-dir")
    return run_dir
