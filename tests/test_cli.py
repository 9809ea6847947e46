"""The arena CLI: help, presets, plot, eval, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runners.api import train
from runners.cli.main import main
from runners.families.league import LEAGUE_PRESETS
from runners.families.registry import PRESETS
from runners.families.selfplay import SELFPLAY_PRESETS
from tests.helpers import quick

QUIET = ["--log.wandb", "off", "--log.no-progress"]


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("arena: error: ")
    return err[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    train(quick("dqn-cartpole", run_dir, total_steps=300), run_dir)
    return run_dir


def test_help_and_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["presets"]) == 0
    out = [line.strip() for line in capsys.readouterr().out.strip().splitlines()]
    names = [*PRESETS, *SELFPLAY_PRESETS, *LEAGUE_PRESETS]
    assert len(out) == len(names) + 3  # three headings: arena train, arena selfplay, arena league
    assert all(any(line.startswith(name + " ") for line in out) for name in names)
    with pytest.raises(SystemExit) as e:
        main(["train", "rainbow-atari", "--help"])
    assert e.value.code == 0
    assert "Learning rate" in capsys.readouterr().out


@pytest.mark.parametrize("args,match", [
    (["trian"], "did you mean train"),
    (["train", "dqn-cartpol"], "unknown preset 'dqn-cartpol'; did you mean dqn-cartpole"),
    (["train", "dqn-cartpole", "--env.id", "CartPole-v7"], "CartPole-v1"),
    (["train", "dqn-cartpole", "--agent.lr", "fast"], "--agent.lr"),
    (["train", "dqn-cartpole", "--no-such-option", "1"], "Unrecognized"),
    (["train", "dqn-cartpole", "--replay.capacity", "1e14"], "for int() with base 10: '1e14'"),  # tyro wraps it
    (["record", "--out", "x"], "Missing from arena record: CHECKPOINT"),
    (["train", "dqn-cartpole", "--torso.kind", "nature_cnn"], "image observations"),
    (["train", "dqn-atari", "--env.id", "CartPole-v1"], "not an Atari env"),
    (["train", "dqn-minatar", "--env.id", "CartPole-v1"], "MinAtar"),
    (["train", "dqn-cartpole", "--agent.optimizer", "adamw"], "unknown optimizer"),
    (["eval", "/nonexistent/run"], "no checkpoint found"),
    (["train", "--resume", "/nonexistent/run"], "not an arena run directory"),
    (["plot", "/nonexistent/run"], "no metrics.jsonl"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], match: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if args[0] == "train" and "--resume" not in args:
        args = [*args, *QUIET, "--log.run-dir", str(tmp_path / "r")]
    assert main(args) == 2
    assert match in _error_line(capsys)


def test_corrupt_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    assert main(["eval", str(bad)]) == 2
    assert "not a readable arena checkpoint" in _error_line(capsys)


def test_eval_plot_and_mismatched_env(trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(trained_run), "--episodes", "3"]) == 0
    assert "over 3 episodes" in capsys.readouterr().out
    assert main(["eval", str(trained_run), "--env-id", "Acrobot-v1"]) == 2
    assert "trained on CartPole-v1" in _error_line(capsys)
    out = tmp_path / "curves.png"
    assert main(["plot", str(trained_run), str(trained_run), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    # A run directory cannot be overwritten by a new run, only resumed.
    assert main(["train", "dqn-cartpole", "--log.run-dir", str(trained_run), *QUIET]) == 2
    assert "--resume" in _error_line(capsys)
    assert main(["train", "--resume", str(trained_run), "--env.id", "Acrobot-v1", *QUIET]) == 2
    assert "trained on CartPole-v1" in _error_line(capsys)


def test_console_script_errors_have_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "runners.cli", "train", "rainbow-cartpole", "--env.id",
                           "Pong", "--log.run-dir", str(tmp_path / "x")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
