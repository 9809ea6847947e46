"""What a resume accepts: a run directory's ``config.json``, its checkpoint and the command line must agree.

A checkpoint carries the config it was trained with (``latest.pt["config"]``); that copy is the truth about
the saved weights and replay. ``saved_run_config`` checks ``config.json`` against it (the full config, same
family and preset, same value types, same network) before the command line's overrides apply to it;
``check_fits`` then refuses an override of an option the saved state depends on (``--torso.hidden``,
``--agent.dueling``, ...), naming the option. Every refusal is a one-line ``CheckpointError`` raised before
the run directory is touched. ``load_into`` turns whatever mismatch is left (a hand-edited or foreign
checkpoint) into the same one line instead of torch's multi-line ``state_dict`` report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runners.families.common import from_dict, to_dict
from runners.families.registry import family_of, family_of_preset, family_of_saved
from runners.local.checkpoint import CheckpointError, find_checkpoint, load

SELFPLAY_FORMAT = "arena-selfplay-1"  # runners.selfplay.checkpoint.FORMAT (not imported: selfplay/ sits above)


def checkpoint_config(run_dir: Path) -> dict[str, Any]:
    """The config saved inside ``run_dir``'s resumable checkpoint (``latest.pt``)."""
    path = find_checkpoint(run_dir)
    ckpt = load(path)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("config"), dict) or "trainer" not in ckpt:
        raise CheckpointError(f"{path} is not a resumable arena checkpoint (no saved trainer state and config)")
    return dict(ckpt["config"])


def saved_run_config(run_dir: Path, command: str = "train") -> Any:
    """``run_dir``'s ``config.json`` as its config class, checked against the checkpoint's own saved config;
    ``command`` (train, selfplay, league) is the ``arena`` command resuming it, which must be its family's.

    Raises:
        CheckpointError: no or unreadable config.json or checkpoint; config.json not a full config of the
            checkpoint's family and preset, or a value of the wrong type, or a network the checkpoint lacks.
    """
    path = run_dir / "config.json"
    if not path.is_file():
        what = {"selfplay": "self-play run directory", "league": "league run directory"}.get(command, "run directory")
        raise CheckpointError(f"{run_dir} is not an arena {what} (no config.json)")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold an arena config (a JSON {type(data).__name__}, not an object)")
    saved = checkpoint_config(run_dir)
    if "preset" not in data:  # {} or a fragment: say what is missing before what it would be
        _check_complete(data, saved, path)
    _check_same_run(data, saved, path)
    kind = family_of_saved(saved)
    if kind.command != command:
        raise CheckpointError(f"{run_dir} is a {kind.title} run: resume it with arena {kind.command} --resume "
                              f"{run_dir}")
    _check_complete(data, saved, path)
    _check_types(data, saved, path)
    for name in kind.resume_fixed:
        for key, was, now in _differences(saved, data, name):
            raise CheckpointError(f"{path} has {key} {_show(now)} but the checkpoint was trained with "
                                  f"{_show(was)}: config.json and checkpoints/ are from different runs")
    try:
        return from_dict(kind.config, data)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path} is not a readable arena config ({e})") from None


def _check_same_run(data: Mapping[str, Any], saved: Mapping[str, Any], path: Path) -> None:
    """Same family and preset as the checkpoint, and a preset arena knows."""
    preset = data.get("preset")
    if not isinstance(preset, str):
        raise CheckpointError(f"{path} names no preset: it must hold the run's full saved config")
    if family_of_preset(preset) is None:
        raise CheckpointError(f"{path} names an unknown preset '{preset}' (see arena presets)")
    kind, saved_kind = family_of_saved(data).title, family_of_saved(saved).title
    if kind != saved_kind or preset != saved.get("preset"):
        raise CheckpointError(f"{path} is a {kind} run (preset {preset}) but its checkpoint is from a {saved_kind} "
                              f"run (preset {saved.get('preset')}): config.json and checkpoints/ are from "
                              "different runs")


def _check_complete(data: Mapping[str, Any], saved: Mapping[str, Any], path: Path) -> None:
    missing = _missing(saved, data)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CheckpointError(f"{path} lacks {', '.join(missing[:3])}{more}: it must hold the run's full saved "
                              "config")


def _missing(saved: Mapping[str, Any], data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Fields of the checkpoint's config that ``data`` lacks (an older config lacks newer fields in both)."""
    out = []
    for key, value in saved.items():
        if key not in data:
            out.append(prefix + key)
        elif isinstance(value, dict) and isinstance(data[key], dict):
            out.extend(_missing(value, data[key], f"{prefix}{key}."))
    return out


def _check_types(data: Mapping[str, Any], saved: Mapping[str, Any], path: Path, prefix: str = "") -> None:
    """Each value of config.json has the type of the checkpoint's value (None stands in for any: optional)."""
    for key, want in saved.items():
        got = data[key]
        if isinstance(want, dict):
            if not isinstance(got, dict):
                raise CheckpointError(f"{path}: {prefix}{key} must be an object of options (got {got!r})")
            _check_types(got, want, path, f"{prefix}{key}.")
        elif not _same_type(got, want):
            raise CheckpointError(f"{path}: {prefix}{key} must be {_type_name(want)} (got {got!r})")


def _same_type(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return True
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(want, bool) and isinstance(got, bool)
    if isinstance(want, float):
        return isinstance(got, (int, float))  # a hand edit may write 1 for 1.0
    if isinstance(want, int):
        return isinstance(got, int)
    if isinstance(want, (list, tuple)):
        return isinstance(got, (list, tuple)) and (not want or all(_same_type(g, want[0]) for g in got))
    return isinstance(got, type(want))


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, (list, tuple)) else type(value).__name__


def _differences(saved: Mapping[str, Any], now: Mapping[str, Any], name: str) -> list[tuple[str, Any, Any]]:
    """``(dotted key, saved, now)`` where ``name`` (a field, or a section ending in ".") differs."""
    section, _, field = name.rpartition(".")
    a: Any = saved
    b: Any = now
    for part in section.split(".") if section else []:
        a, b = a.get(part, {}), b.get(part, {})
        if not isinstance(a, Mapping) or not isinstance(b, Mapping):
            return []
    keys = [field] if field else sorted(set(a) | set(b))
    prefix = f"{section}." if section else ""
    return [(prefix + k, a[k], b.get(k)) for k in keys
            if k in a and k in b and _norm(a[k]) != _norm(b[k])]


def _norm(value: Any) -> Any:
    """JSON turns tuples into lists and may write 64.0 as 64: compare what the values mean."""
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _show(value: Any) -> str:
    return repr(tuple(value)) if isinstance(value, (list, tuple)) else str(value)


def check_fits(cfg: Any, ckpt: Mapping[str, Any], run_dir: Path) -> None:
    """Refuse to resume ``cfg`` from ``ckpt`` (a loaded checkpoint) when its saved state cannot serve it.

    Raises:
        CheckpointError: another family's checkpoint, or an option the saved state depends on changed
            (``--torso.hidden cannot change on resume (saved (64, 64), given (128,))``).
    """
    if ckpt.get("format") == SELFPLAY_FORMAT and family_of(cfg).command != "selfplay":
        raise CheckpointError(f"checkpoint in {run_dir} is from a self-play run; resume it with arena selfplay "
                              "--resume")
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint in {run_dir} holds no saved config; it cannot be resumed")
    given = to_dict(cfg)
    kind, saved_kind = family_of_saved(given).title, family_of_saved(saved).title
    if kind != saved_kind:
        raise CheckpointError(f"checkpoint in {run_dir} is from a {saved_kind} run (preset {saved.get('preset')}), "
                              f"not a {kind} one (preset {given.get('preset')})")
    check_unchanged(cfg, saved)


def check_unchanged(cfg: Any, saved: Mapping[str, Any]) -> None:
    """Refuse ``cfg`` when an option the saved state depends on differs from ``saved`` (a config dict of the
    same family: the checkpoint's, or a ``config.json`` that ``saved_run_config`` checked against it)."""
    given = to_dict(cfg)
    for name in family_of_saved(given).resume_fixed:
        for key, was, now in _differences(saved, given, name):
            raise CheckpointError(f"--{key.replace('_', '-')} cannot change on resume (saved {_show(was)}, "
                                  f"given {_show(now)})")


def load_into(trainer: Any, state: Mapping[str, Any], run_dir: Path) -> None:
    """``trainer.load_state_dict(state)``; a state that does not fit is a one-line CheckpointError."""
    try:
        trainer.load_state_dict(state)
    except CheckpointError:
        raise
    except (KeyError, RuntimeError, ValueError, IndexError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint in {run_dir} does not fit this run's config ({one_line(e)})") from None


def one_line(e: BaseException) -> str:
    """An exception as one line: torch's ``state_dict`` report runs to many, its first two say what and where."""
    if isinstance(e, KeyError):
        return f"it has no {e}"
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    text = lines[0] if len(lines) == 1 else f"{lines[0].rstrip(':')}: {lines[1]}"
    return text if len(text) <= 300 else text[:297] + "..."  # a big net's missing keys: the first few say enough
