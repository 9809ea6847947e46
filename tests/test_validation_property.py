"""Property: whatever number any numeric option of any preset gets (NaN, +-inf, 0, negative, huge), ``arena``
refuses it in one ``arena: error:`` line with exit code 2, or the config passes validation; never a traceback.

Training itself is stubbed out: ``train`` / ``run_selfplay`` validate (their first line) and stop.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.constraints import AllowInf
from agents.errors import ConfigError
from runners.cli.main import main
from runners.families.league import LEAGUE_PRESETS
from runners.families.registry import PRESETS
from runners.families.selfplay import SELFPLAY_PRESETS
from runners.local.validation import validate_config


class Validated(Exception):
    """Raised by the stubs once a config passed validation: nothing is trained."""

    def __init__(self, cfg: Any) -> None:
        super().__init__("validated")
        self.cfg = cfg


def _stub(cfg: Any, run_dir: Path, **_: Any) -> None:
    validate_config(cfg)
    raise Validated(cfg)


def _numeric_fields(cfg: Any, prefix: str = "") -> list[tuple[str, str, Any]]:
    """``(flag, attribute path, bare type)`` of every int, float and tuple-of-int field, nested ones included."""
    out = []
    hints = typing.get_type_hints(type(cfg), include_extras=True)
    for f in dataclasses.fields(cfg):
        value, path = getattr(cfg, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out += _numeric_fields(value, path + ".")
            continue
        base = _bare(hints[f.name])
        members = [_bare(a) for a in get_args(base) if a is not type(None)] if get_origin(base) is not tuple else []
        kind = base if base in (int, float) else members[0] if len(members) == 1 and members[0] in (int, float) \
            else tuple if get_origin(base) is tuple and _bare(get_args(base)[0]) is int else None
        if kind is not None:
            out.append(("--" + path.replace("_", "-"), path, kind))
    return out


def _bare(hint: Any) -> Any:
    while get_origin(hint) is typing.Annotated:
        hint = hint.__origin__
    return hint


CASES = [("train", name, field) for name, fn in PRESETS.items() for field in _numeric_fields(fn())] + \
        [("selfplay", name, field) for name, fn in SELFPLAY_PRESETS.items() for field in _numeric_fields(fn())] + \
        [("league", name, field) for name, fn in LEAGUE_PRESETS.items() for field in _numeric_fields(fn())]
EDGE = ["nan", "inf", "-inf", "0", "-0.0", "-1", "-100", "1e-300", "0.5", "1", "2", "1e30", "-1e30", "1e14",
        str(10**14), str(2**70), str(-(2**70)), "abc", ""]
VALUES = st.one_of(st.sampled_from(EDGE), st.integers(-(10**20), 10**20).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))


def _attr(cfg: Any, path: str) -> Any:
    for name in path.split("."):
        cfg = getattr(cfg, name)
    return cfg


def _allows_inf(cfg: Any, path: str) -> bool:
    *parents, name = path.split(".")
    owner = _attr(cfg, ".".join(parents)) if parents else cfg
    return repr(AllowInf) in repr(typing.get_type_hints(type(owner), include_extras=True)[name])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES), values=st.lists(VALUES, min_size=1, max_size=3))
def test_numeric_options_are_refused_in_one_line_or_validate(
        case: tuple[str, str, tuple[str, str, Any]], values: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("runners.cli.train.train", _stub)
    monkeypatch.setattr("runners.cli.selfplay.run_selfplay", _stub)
    monkeypatch.setattr("runners.cli.league.run_league", _stub)
    command, preset, (flag, path, kind) = case
    given_values = values if kind is tuple else values[:1]
    run = tmp_path / "run"
    try:
        code = main([command, preset, flag, *given_values, "--log.run-dir", str(run), "--log.wandb", "off"])
    except Validated as ok:
        value = _attr(ok.cfg, path)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float):  # NaN never passes; inf only where the field says it means "no limit"
                assert not math.isnan(v) and (math.isfinite(v) or _allows_inf(ok.cfg, path)), (flag, v)
        capsys.readouterr()
        return
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("arena: error:") and err.count("\n") == 1, (flag, given_values, err)
    assert not run.exists()


# The same property without the CLI, much faster, so it takes many more examples: any value of any type in any
# field of any preset either validates or raises ConfigError (the Python API and resumed configs go this way).
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**80), 2**80),
                    st.sampled_from([None, "abc", True, (), (0,), (-1, 64)]))
PRESET_CONFIGS = [*PRESETS.values(), *SELFPLAY_PRESETS.values(), *LEAGUE_PRESETS.values()]


@settings(max_examples=150, deadline=None)
@given(preset=st.sampled_from(PRESET_CONFIGS), data=st.data())
def test_validate_config_raises_only_config_errors(preset: Any, data: st.DataObject) -> None:
    cfg = preset()
    flag, path, _ = data.draw(st.sampled_from(_numeric_fields(cfg)))
    value = data.draw(NUMBERS)
    *parents, name = path.split(".")
    try:
        owner = _attr(cfg, ".".join(parents)) if parents else cfg
        new = dataclasses.replace(owner, **{name: value})  # MCTSConfig checks its own ranges when built
        for depth in range(len(parents), 0, -1):
            up = _attr(cfg, ".".join(parents[:depth - 1])) if depth > 1 else cfg
            new = dataclasses.replace(up, **{parents[depth - 1]: new})
        validate_config(new)
    except ConfigError as e:
        assert "\n" not in str(e) and flag.rpartition(".")[2].lstrip("-") in str(e), (flag, str(e))
        return
    if isinstance(value, float):
        assert not math.isnan(value) and (math.isfinite(value) or _allows_inf(cfg, path)), (flag, value)
