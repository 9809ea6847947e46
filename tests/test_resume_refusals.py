"""A resume whose run directory, checkpoint and overrides do not match is refused in one line (exit 2) and
leaves config.json as it was; overrides that do not touch the saved state are accepted; metrics.jsonl keeps
each step once across a kill and resume (``trim_metrics``)."""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from runners.api import run_selfplay, train
from runners.cli.main import main
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, CheckpointError, atomic_save, load
from runners.local.logging import trim_metrics
from tests.helpers import quick, quick_pg
from tests.test_selfplay import tiny

QUIET = ["--log.wandb", "off", "--log.no-progress"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished tiny run of each family, copied by each test before it is tampered with."""
    base = tmp_path_factory.mktemp("runs")
    train(quick("dqn-cartpole", base / "dqn", total_steps=300), base / "dqn")
    train(quick_pg("ppo-cartpole", base / "ppo", total_steps=256), base / "ppo")
    run_selfplay(tiny("alphazero-tictactoe", base / "sp", iterations=1, eval_every=0), base / "sp")
    return {"dqn": base / "dqn", "ppo": base / "ppo", "sp": base / "sp"}


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


Spoil = Callable[[Path, dict[str, Path]], None]  # (run directory to spoil, the intact runs)


def _config_edit(edit: Callable[[dict], object]) -> Spoil:
    def apply(run: Path, runs: dict[str, Path]) -> None:
        data = json.loads((run / "config.json").read_text())
        out = edit(data)
        (run / "config.json").write_text(json.dumps(data if out is None else out))
    return apply


def _set(section: str, key: str, value: object) -> Callable[[dict], None]:
    return lambda d: d[section].__setitem__(key, value)


def _raw_pickle(run: Path, runs: dict[str, Path]) -> None:
    # A plain pickle (protocol 4) that weights_only refuses, after torch warns about its protocol.
    (run / CHECKPOINT_DIR / LATEST).write_bytes(pickle.dumps({"trainer": argparse.Namespace(a=1)}, protocol=4))


def _foreign_checkpoints(other: str) -> Spoil:
    def apply(run: Path, runs: dict[str, Path]) -> None:
        shutil.rmtree(run / CHECKPOINT_DIR)
        shutil.copytree(runs[other] / CHECKPOINT_DIR, run / CHECKPOINT_DIR)
    return apply


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], run: Path) -> str:
    """``main(argv)`` returns 2 with one ``arena: error:`` line, no warning, and config.json untouched."""
    before = (run / "config.json").read_bytes()
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arena: error: "), err
    assert not [w for w in caught if "pickle" in str(w.message)], [str(w.message) for w in caught]
    assert (run / "config.json").read_bytes() == before
    return err[0]


# (family run, how the run directory is spoiled, extra arguments, what the error line says)
TRAIN_CASES: list[tuple[str, Spoil | None, list[str], str]] = [
    ("dqn", _foreign_checkpoints("ppo"), [], "policy-gradient run (preset ppo-cartpole)"),
    ("ppo", _foreign_checkpoints("dqn"), [], "DQN-family run (preset dqn-cartpole)"),
    ("dqn", None, ["--torso.hidden", "64"], "--torso.hidden cannot change on resume (saved (128, 128), given (64,))"),
    ("dqn", None, ["--agent.dueling"], "--agent.dueling cannot change on resume (saved False, given True)"),
    ("dqn", None, ["--agent.distributional"], "--agent.distributional cannot change on resume"),
    ("dqn", None, ["--env.num-envs", "2"], "--env.num-envs cannot change on resume (saved 1, given 2)"),
    ("ppo", None, ["--torso.hidden", "32"], "--torso.hidden cannot change on resume (saved (64, 64), given (32,))"),
    ("ppo", None, ["--net.shared"], "--net.shared cannot change on resume (saved False, given True)"),
    ("dqn", _config_edit(lambda d: []), [], "does not hold an arena config (a JSON list"),
    ("dqn", _config_edit(lambda d: {}), [], "lacks preset, env, agent and 5 more"),
    ("dqn", _config_edit(lambda d: {k: v for k, v in d.items() if k != "agent"}), [], "lacks agent"),
    ("dqn", _config_edit(_set("agent", "batch_size", "abc")), [], "agent.batch_size must be an integer (got 'abc')"),
    ("dqn", _config_edit(lambda d: d.__setitem__("preset", "nope")), [], "unknown preset 'nope'"),
    ("dqn", _config_edit(lambda d: d.__setitem__("preset", "rainbow-cartpole")), [],
     "preset rainbow-cartpole) but its checkpoint is from a DQN-family run (preset dqn-cartpole)"),
    ("dqn", _config_edit(_set("torso", "hidden", [64])), [], "has torso.hidden (64,) but the checkpoint was trained "
                                                            "with (128, 128)"),
    ("dqn", _raw_pickle, [], "is not a readable arena checkpoint (UnpicklingError)"),
    ("dqn", lambda run, runs: (run / CHECKPOINT_DIR / LATEST).unlink(), [], "not a resumable arena checkpoint"),
    ("sp", None, [], "is a self-play run: resume it with arena selfplay --resume"),
]


@pytest.mark.parametrize("family,spoil,extra,match", TRAIN_CASES)
def test_train_resume_refusals(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               family: str, spoil: Spoil | None, extra: list[str], match: str) -> None:
    run = _copy(runs[family], tmp_path / "run")
    if spoil is not None:
        spoil(run, runs)
    assert match in _refused(capsys, ["train", "--resume", str(run), *extra, *QUIET], run)


SELFPLAY_CASES: list[tuple[str, Spoil | None, list[str], str]] = [
    ("sp", None, ["--torso.hidden", "64"], "--torso.hidden cannot change on resume (saved (128, 128), given (64,))"),
    ("sp", None, ["--agent.value-hidden", "32"], "--agent.value-hidden cannot change on resume (saved 64, given 32)"),
    ("sp", _config_edit(lambda d: {}), [], "lacks preset, game, agent"),
    ("sp", _config_edit(lambda d: d.__setitem__("preset", "nope")), [], "unknown preset 'nope'"),
    ("sp", _config_edit(_set("selfplay", "games_per_iteration", "abc")), [], "selfplay.games_per_iteration must be"),
    ("dqn", None, [], "is a DQN-family run: resume it with arena train --resume"),
]


@pytest.mark.parametrize("family,spoil,extra,match", SELFPLAY_CASES)
def test_selfplay_resume_refusals(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  family: str, spoil: Spoil | None, extra: list[str], match: str) -> None:
    run = _copy(runs[family], tmp_path / "run")
    if spoil is not None:
        spoil(run, runs)
    assert match in _refused(capsys, ["selfplay", "--resume", str(run), *extra, *QUIET], run)


def test_selfplay_checkpoint_in_a_train_run_is_refused(runs: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(runs["dqn"], tmp_path / "run")
    _foreign_checkpoints("sp")(run, runs)
    assert "its checkpoint is from a self-play run" in _refused(capsys, ["train", "--resume", str(run), *QUIET], run)


def test_eval_refuses_mismatched_checkpoints(runs: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    model = load(runs["dqn"] / CHECKPOINT_DIR / MODEL)
    model["config"]["torso"]["hidden"] = [64]  # weights of a 128x128 MLP under a config that says 64
    atomic_save(model, tmp_path / "narrow.pt")
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"model": argparse.Namespace(a=1)}, protocol=4))
    for path, match in [(tmp_path / "narrow.pt", "weights do not fit the network its config describes"),
                        (raw, "not a readable arena checkpoint"),
                        (runs["sp"], "self-play (AlphaZero) checkpoint")]:
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(["eval", str(path), "--episodes", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("arena: error: ") and match in err[0], err
        assert not [w for w in caught if "pickle" in str(w.message)]


@pytest.mark.parametrize("family,extra", [
    ("dqn", ["--runner.total-steps", "400", "--agent.lr", "5e-4", "--runner.eval-every", "100",
             "--log.log-every", "20"]),
    ("ppo", ["--runner.total-steps", "384", "--ppo.lr", "1e-4", "--runner.checkpoint-every", "128"]),
])
def test_resume_accepts_overrides_that_keep_the_saved_state(runs: dict[str, Path], tmp_path: Path, family: str,
                                                           extra: list[str]) -> None:
    run = _copy(runs[family], tmp_path / "run")
    assert main(["train", "--resume", str(run), *extra, *QUIET]) == 0
    total = int(extra[1])
    assert json.loads((run / "config.json").read_text())["runner"]["total_steps"] == total
    assert load(run / CHECKPOINT_DIR / LATEST)["trainer"]["step"] >= total


# --- metrics.jsonl across a kill and a resume ---------------------------------------------------------------


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _as_if_killed(run: Path, rows: list[dict]) -> None:
    """What a run killed after its last checkpoint leaves: rows past it, and a torn last line."""
    with (run / "metrics.jsonl").open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        f.write('{"kind": "episode", "st')


@pytest.mark.parametrize("preset", ["dqn-cartpole", "ppo-cartpole"])
def test_resume_drops_metrics_rows_past_the_checkpoint(preset: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = quick(preset, run, total_steps=800) if preset.startswith("dqn") else quick_pg(preset, run, 768)
    first = train(cfg, run, stop_at=384)
    ckpt = load(run / CHECKPOINT_DIR / LATEST)["trainer"]["step"]
    assert ckpt == first.steps
    _as_if_killed(run, [{"kind": "episode", "step": ckpt + 10 * i, "return": -1.0, "length": 1, "ghost": True}
                        for i in range(1, 4)] + [{"kind": "train", "step": ckpt + 50, "ghost": True}])
    train(cfg, run, resume=True)
    rows = _rows(run)
    assert not [r for r in rows if r.get("ghost")]
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps) and steps[-1] == cfg.runner.total_steps
    episodes = [r for r in rows if r["kind"] == "episode"]  # each once: as many rows as the trainer counted
    assert len(episodes) == load(run / CHECKPOINT_DIR / LATEST)["trainer"]["episodes"]
    assert any(r["step"] > ckpt for r in episodes)
    # A kill during the final evaluation (after the checkpoint at total_steps) leaves an eval row the resume
    # writes again; resuming a finished run evaluates again too: either way, one eval row at the end.
    train(cfg, run, resume=True)
    assert [r["step"] for r in _rows(run) if r["kind"] == "eval"] == [cfg.runner.total_steps]


def test_ray_resume_refuses_a_new_shape_and_drops_metrics_rows(local_ray: None, tmp_path: Path) -> None:
    from runners.families.distributed import ApexConfig

    cfg = replace(quick("dqn-cartpole", tmp_path, total_steps=800),
                  distributed=ApexConfig(kind="ray", num_workers=2, status_every=0))
    train(cfg, tmp_path, stop_at=400)
    ckpt = load(tmp_path / CHECKPOINT_DIR / LATEST)["trainer"]["step"]
    with pytest.raises(CheckpointError, match=r"--torso.hidden cannot change on resume \(saved \(128, 128\)"):
        train(replace(cfg, torso=replace(cfg.torso, hidden=(64,))), tmp_path, resume=True)
    _as_if_killed(tmp_path, [{"kind": "episode", "step": ckpt + 8 * i, "return": -1.0, "length": 1, "ghost": True}
                             for i in range(1, 4)])
    train(cfg, tmp_path, resume=True)
    rows = _rows(tmp_path)
    steps = [r["step"] for r in rows]
    assert not [r for r in rows if r.get("ghost")] and steps == sorted(steps) and steps[-1] >= 800


def test_selfplay_resume_drops_metrics_rows_past_the_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "sp"
    cfg = tiny("alphazero-tictactoe", run, iterations=4)
    run_selfplay(cfg, run, stop_at=2)
    assert load(run / CHECKPOINT_DIR / LATEST)["trainer"]["iteration"] == 2
    _as_if_killed(run, [{"kind": "iteration", "iteration": 3, "ghost": True},
                        {"kind": "eval", "iteration": 4, "ghost": True}])
    run_selfplay(cfg, run, resume=True)
    rows = _rows(run)
    assert not [r for r in rows if r.get("ghost")]
    assert [r["iteration"] for r in rows if r["kind"] == "iteration"] == [1, 2, 3, 4]
    assert [r["iteration"] for r in rows if r["kind"] == "eval"] == [2, 4]


def test_trim_metrics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    assert trim_metrics(path, "step", 10) == 0  # no file yet: nothing to do
    rows = [{"kind": "train", "step": 5}, {"kind": "eval", "step": 10}, {"kind": "train", "step": 10},
            {"kind": "episode", "step": 11}, {"kind": "note"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"kind": "tr')
    assert trim_metrics(path, "step", 10) == 2  # step 11 and the torn line; a row without a step stays
    assert [json.loads(line) for line in path.read_text().splitlines()] == [rows[0], rows[1], rows[2], rows[4]]
    inode = path.stat().st_ino
    assert trim_metrics(path, "step", 10) == 0 and path.stat().st_ino == inode  # nothing to drop: not rewritten
    assert trim_metrics(path, "step", 10, redo_at_last=("eval",)) == 1  # an evaluation the checkpoint lacks
    assert [json.loads(line)["kind"] for line in path.read_text().splitlines()] == ["train", "train", "note"]
    assert not list(tmp_path.glob(".metrics.jsonl.tmp-*"))


def test_selfplay_format_is_the_runners() -> None:
    from runners.local.resume import SELFPLAY_FORMAT
    from runners.selfplay.checkpoint import FORMAT

    assert SELFPLAY_FORMAT == FORMAT  # resume.py names it without importing the self-play trainer
