"""SIGINT / SIGTERM end a run with a checkpoint and exit 130 / 143; at start-up in one line; evaluations stop early.

The signal tests run the real command in a subprocess (``python -m runners.cli``): what is tested is the
process's exit status, its stderr and the files it leaves. Start-up (importing torch) takes a few seconds
of each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from runners.api import train
from runners.cli.main import main
from runners.cli.runs import fresh_run
from runners.local import signals
from runners.local.checkpoint import load
from runners.local.evaluate import play_episodes
from tests.helpers import quick

ROOT = Path(__file__).resolve().parent.parent
QUIET = ["--log.wandb", "off", "--log.no-progress", "--runner.torch-threads", "1"]
TRAIN = ["train", "dqn-cartpole", "--replay.learning-starts", "64", "--agent.batch-size", "64",
         "--replay.capacity", "2000", "--log.log-every", "50", *QUIET]


def spawn(args: list[str], script: str | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, script, *args] if script else [sys.executable, "-m", "runners.cli", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "WANDB_MODE": "offline"})


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 90.0) -> None:
    """Poll ``cond`` until it holds; fail with the process's output if it ends first."""
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended (exit {proc.returncode}) before it was signalled:\n{out}\n{err}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("timed out waiting for the run to start")
        time.sleep(0.05)


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def has_train_record(run_dir: Path) -> bool:
    path = run_dir / "metrics.jsonl"
    return path.is_file() and '"kind": "train"' in path.read_text()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_the_run_loop_checkpoints_then_exits_128_plus_signum(tmp_path: Path, sig: int, code: int) -> None:
    run_dir = tmp_path / "run"
    proc = spawn([*TRAIN, "--runner.total-steps", "1000000", "--runner.eval-episodes", "0",
                  "--log.run-dir", str(run_dir)])
    wait_for(lambda: has_train_record(run_dir), proc)
    proc.send_signal(sig)
    rc, _, err = finish(proc)
    assert rc == code, err
    assert "Traceback" not in err and "interrupted: resume with arena train --resume" in err
    state = load(run_dir / "checkpoints" / "latest.pt")
    assert state["trainer"]["step"] > 0
    assert not (run_dir / "checkpoints" / "model.pt").exists()  # the run is not finished: resume it


def test_selfplay_sigterm_checkpoints_then_exits_143(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = spawn(["selfplay", "alphazero-tictactoe", "--selfplay.iterations", "100000",
                  "--selfplay.games-per-iteration", "2", "--mcts.num-simulations", "4", "--selfplay.eval-every", "0",
                  "--selfplay.min-positions", "1", "--agent.batch-size", "8", "--selfplay.checkpoint-every", "0",
                  "--log.wandb", "off", "--log.no-progress", "--log.run-dir", str(run_dir)])
    metrics = run_dir / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and '"kind": "iteration"' in metrics.read_text(), proc)
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 143, err
    assert "Traceback" not in err and "interrupted: resume with arena selfplay --resume" in err
    assert load(run_dir / "checkpoints" / "latest.pt")["trainer"]["iteration"] >= 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_at_start_up_exits_in_one_line(tmp_path: Path, sig: int, code: int) -> None:
    run_dir = tmp_path / "run"
    proc = spawn([*TRAIN, "--log.run-dir", str(run_dir)])
    time.sleep(0.2)  # still importing torch
    proc.send_signal(sig)
    rc, _, err = finish(proc)
    assert rc == code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("arena: stopped by"), err
    assert not run_dir.exists()


SWALLOWING_IMPORT = """
import os, sys, time
from runners.local import signals
signals.install_startup()
print("importing", flush=True)
try:  # an imported library's bare except: around its own optional import
    time.sleep(30)
except BaseException:
    pass
print("went on", flush=True)
"""


def test_signal_at_start_up_ends_the_process_even_inside_a_bare_except() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SWALLOWING_IMPORT], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "importing\n"
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert rc == 143 and "went on" not in out
    assert err.strip() == "arena: stopped by SIGTERM while starting (nothing was saved)"


def test_a_swallowed_signal_exit_stops_the_next_run_loop() -> None:
    old = {sig: signal.getsignal(sig) for sig in signals.SIGNALS}
    signals.install()
    try:
        try:  # a library swallows the SignalExit raised outside any run loop
            signal.raise_signal(signal.SIGTERM)
        except BaseException:
            pass
        with signals.deferred():
            assert signals.received() == signal.SIGTERM and signals.stop_requested()
        with signals.deferred():  # it stopped one run, not every later one in this process
            assert signals.received() is None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def test_signal_before_the_first_checkpoint_leaves_no_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"

    def starting() -> int | None:  # stopped while, say, wandb starts: config.json exists, no checkpoint
        run_dir.mkdir()
        (run_dir / "config.json").write_text("{}")
        raise signals.SignalExit(signal.SIGTERM)

    with pytest.raises(signals.SignalExit):
        fresh_run(run_dir, starting)
    assert not run_dir.exists()

    def saved() -> int | None:  # stopped after the run loop saved (e.g. while wandb finishes): kept
        (run_dir / "checkpoints").mkdir(parents=True)
        raise signals.SignalExit(signal.SIGTERM)

    with pytest.raises(signals.SignalExit):
        fresh_run(run_dir, saved)
    assert (run_dir / "checkpoints").is_dir()


def test_signal_during_final_evaluation_keeps_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # 4,000 CartPole evaluation episodes take several seconds after the last training step.
    proc = spawn([*TRAIN, "--runner.total-steps", "300", "--runner.eval-every", "0", "--runner.eval-episodes", "4000",
                  "--runner.eval-max-steps", "None", "--runner.checkpoint-every", "0", "--log.run-dir", str(run_dir)])
    latest = run_dir / "checkpoints" / "latest.pt"
    wait_for(latest.exists, proc)  # saved before the final evaluation starts
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 143, err
    assert "Traceback" not in err and "stopped early by a signal" in err
    assert load(latest)["trainer"]["step"] == 300
    assert (run_dir / "checkpoints" / "model.pt").is_file()  # training itself had finished
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "eval" and last["eval_interrupted"] is True and len(last["returns"]) < 4000


def test_signal_during_a_checkpoint_write_lets_it_finish(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = spawn([*TRAIN, "--runner.total-steps", "1000000", "--runner.eval-episodes", "0",
                  "--runner.checkpoint-every", "100", "--log.run-dir", str(run_dir)], script="tests/slow_save_cli.py")
    assert proc.stderr is not None
    for line in proc.stderr:  # the first checkpoint write has begun and sleeps before its rename
        if line.startswith("slow-save: writing"):
            break
    else:
        pytest.fail(f"no checkpoint write (exit {proc.wait()})")
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 143, err
    state = load(run_dir / "checkpoints" / "latest.pt")  # complete and loadable
    assert state["trainer"]["step"] >= 100
    assert not list((run_dir / "checkpoints").glob(".*tmp*"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("signals") / "run"
    train(quick("dqn-cartpole", run_dir, total_steps=200), run_dir)
    return run_dir


def test_eval_stops_early_on_a_signal(trained: Path) -> None:
    proc = spawn(["eval", str(trained), "--episodes", "4000", "--max-steps", "None"])
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("evaluating "), line
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    rc, out, err = finish(proc)
    assert rc == 143, err
    assert "return" in out and "stopped early by SIGTERM" in err and "Traceback" not in err


def test_eval_refuses_absurd_episode_counts(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for count in ("200000", "1e12"):
        assert main(["eval", str(trained), "--episodes", count]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("arena: error:") and len(err.splitlines()) == 1


def test_eval_max_steps_truncates_and_says_so(trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(trained), "--episodes", "2", "--max-steps", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "over 2 episodes" in out and "2 of them truncated" in out


def test_play_episodes_counts_cut_episodes_as_truncated() -> None:
    right = lambda obs: np.ones(len(obs), dtype=np.int64)  # noqa: E731  # reaches the goal in 4 steps
    seen: list[tuple[int, int, int]] = []
    full = play_episodes(right, "fake:chain", {}, 3, seed=0, progress=lambda *a: seen.append(a))
    assert full.returns == [1.0, 1.0, 1.0] and full.lengths == [4, 4, 4] and full.truncated == 0
    assert seen[-1] == (3, 3, 12) and not full.interrupted
    cut = play_episodes(right, "fake:chain", {}, 3, seed=0, max_steps=2)
    assert cut.returns == [0.0, 0.0, 0.0] and cut.lengths == [2, 2, 2] and cut.truncated == 3
