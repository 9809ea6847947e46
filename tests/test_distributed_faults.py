"""The Ray runner when an actor holding the run's state dies (learner, replay shard, self-play learner): a
one-line error with the --resume command (exit 1) and the last periodic checkpoint left intact; an actor that
cannot start: one line, not a traceback or a wait for ever; and an unreachable --ray-address: one line on stderr
within seconds, not Ray's minutes of C++ log lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from agents.errors import ConfigError, RunAbortedError
from runners.cli.main import main
from runners.distributed import train as distributed
from runners.distributed.connect import check_reachable, quiet_stderr
from runners.distributed.driver import DriverBase
from runners.distributed.pool import started
from runners.distributed.selfplay import RaySelfPlayTrainer, run_selfplay_ray
from runners.local.checkpoint import load, load_trainer_state
from tests.test_distributed_selfplay import tiny_ray

ROOT = Path(__file__).resolve().parents[1]


def sigkill(handle: Any) -> None:
    """``kill -9`` of an actor's process (what an OOM killer or a crash does), found through its handle."""
    pid = ray.get(handle.__ray_call__.remote(lambda self: os.getpid()))
    os.kill(pid, signal.SIGKILL)


def kill_after_first_checkpoint(monkeypatch: pytest.MonkeyPatch, victim: Callable[[DriverBase], Any],
                                kill: Callable[[Any], None], killed_at: list[float]) -> list[int]:
    """Kill ``victim(trainer)`` right after the run's first checkpoint; returns ``[its step]`` once it did, and
    appends the time of the kill to ``killed_at``."""
    save, killed = distributed.save_trainer, list[int]()

    def save_then_kill(trainer: DriverBase, *args: Any, **kwargs: Any) -> Path:
        path = save(trainer, *args, **kwargs)
        if not killed:
            killed.append(trainer.step)
            kill(victim(trainer))
            killed_at.append(time.monotonic())
        return path

    monkeypatch.setattr(distributed, "save_trainer", save_then_kill)
    return killed


def train_args(preset: str, run_dir: Path, learning_starts: int = 200) -> list[str]:
    """A run far longer than the test, with a checkpoint every few hundred steps and no evaluation."""
    args = ["train", preset, "--runner", "ray", "--runner.total-steps", "100000", "--runner.checkpoint-every", "300",
            "--runner.eval-episodes", "0", "--log.run-dir", str(run_dir), "--log.wandb", "off", "--log.no-progress",
            "--distributed.status-every", "0"]
    if preset.startswith("dqn"):
        args += ["--replay.learning-starts", str(learning_starts), "--runner.train-every", "8"]
    return args


def ray_kill(handle: Any) -> None:
    ray.kill(handle, no_restart=True)


@pytest.mark.parametrize("preset,what,kill,learning_starts", [
    ("dqn-cartpole", "learner", sigkill, 200),
    ("dqn-cartpole", "replay shard 0", ray_kill, 200),
    # Before learning starts only the workers call the shard: their failed pushes are no worker deaths to wait
    # out (--distributed.restart-timeout, 120 s) but the shard's.
    ("dqn-cartpole", "replay shard 0", sigkill, 100_000),
    ("ppo-cartpole", "learner", sigkill, 0),
], ids=["dqn-learner", "dqn-replay", "dqn-replay-before-learning", "ppo-learner"])
def test_a_dead_learner_or_replay_ends_the_run_in_one_line(
        preset: str, what: str, kill: Callable[[Any], None], learning_starts: int, local_ray: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    killed_at: list[float] = []
    killed = kill_after_first_checkpoint(monkeypatch, lambda t: t.core_actors()[what], kill, killed_at)
    run_dir = tmp_path / "run"
    assert main(train_args(preset, run_dir, learning_starts)) == 1
    # The run ends soon after the kill: it does not wait out a worker's restart timeout (120 s).
    assert time.monotonic() - killed_at[0] < 60
    step = killed[0]
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"arena: error: the Ray {what} actor died, so its state cannot be saved: resume from the "
                    f"checkpoint at step {step:,} with arena train --resume {run_dir}")
    state = load_trainer_state(run_dir)  # the periodic checkpoint, untouched by the crash
    assert state["step"] == step and (state["learner"]["updates"] > 0) == (learning_starts < step)
    assert not (run_dir / "checkpoints" / "model.pt").exists()  # no final save of a half-dead run


def test_a_dead_selfplay_learner_ends_the_run_in_one_line(local_ray: None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    state_dict, saved = RaySelfPlayTrainer.state_dict, list[int]()

    def save_then_kill(self: RaySelfPlayTrainer) -> dict[str, Any]:
        state = state_dict(self)
        if not saved:
            saved.append(self.iteration)
            sigkill(self.learner_actor)
        return state

    monkeypatch.setattr(RaySelfPlayTrainer, "state_dict", save_then_kill)
    with pytest.raises(RunAbortedError) as info:
        run_selfplay_ray(tiny_ray(tmp_path, iterations=50, checkpoint_every=2), tmp_path)
    assert str(info.value) == ("the Ray learner actor died, so its state cannot be saved: resume from the checkpoint "
                               f"at iteration 2 with arena selfplay --resume {tmp_path}")
    assert saved == [2] and load(tmp_path / "checkpoints" / "latest.pt")["trainer"]["iteration"] == 2


def test_an_actor_that_cannot_start_is_one_line(local_ray: None) -> None:
    class Broken:  # local, so Ray ships the class itself (the actor process cannot import tests/)
        """An actor whose constructor raises (a missing file, a bad option the driver did not see)."""

        def __init__(self) -> None:
            raise ValueError("no such thing")

        def ping(self) -> int:
            return 1

    cleaned: list[bool] = []
    actor = ray.remote(Broken).remote()
    with pytest.raises(RunAbortedError) as info:
        started(actor.ping.remote(), "learner", 60.0, lambda: cleaned.append(True))
    assert str(info.value) == "the Ray learner actor failed to start: ValueError: no such thing"
    assert cleaned == [True]


def test_an_actor_not_started_in_time_ends_the_run_in_one_line(local_ray: None, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """No actor starts within a millisecond: what a cluster without the CPUs or GPUs asked for looks like."""
    run_dir = tmp_path / "run"
    assert main(train_args("ppo-cartpole", run_dir) + ["--distributed.restart-timeout", "0.001"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["arena: error: the Ray learner actor did not start within 0.001 s (--distributed.restart-timeout): "
                   "the cluster may lack the CPUs or GPUs it asks for (`ray status` lists them)"]
    assert not run_dir.exists()
    assert not [a for a in ray.util.list_named_actors()]  # nothing left behind in the shared Ray


# --- an unreachable --ray-address ---------------------------------------------------------------------------
@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (no Ray there, e.g. a discard service)."""
    server = socket.create_server(("0.0.0.0", 0))
    conns: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                conns.append(server.accept()[0])
        except OSError:  # closed at the end of the test
            pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for c in conns:
            c.close()


def test_a_port_that_is_no_ray_cluster_is_refused_quickly(silent_port: int) -> None:
    start = time.monotonic()
    with pytest.raises(ConfigError, match="no Ray cluster reachable there .the port accepts connections"):
        check_reachable(f"127.0.0.1:{silent_port}", answer_timeout=1.0)
    assert time.monotonic() - start < 3


def test_a_running_ray_cluster_passes_the_check(local_ray: None) -> None:
    check_reachable(ray.get_runtime_context().gcs_address)  # no error: Ray's GCS answers as gRPC servers do


@pytest.mark.parametrize("address", ["127.0.0.1:9", "silent"])
def test_an_unreachable_ray_address_is_one_line_within_seconds(address: str, silent_port: int,
                                                              tmp_path: Path) -> None:
    if address == "silent":
        address = f"127.0.0.1:{silent_port}"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runners.cli", "train", "dqn-cartpole", "--runner", "ray",
                           "--ray-address", address, "--log.run-dir", str(tmp_path / "run"), "--log.wandb", "off"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    seconds = time.monotonic() - start
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"arena: error: --ray-address {address}: no Ray cluster reachable there")
    assert seconds < (12 if address.endswith(str(silent_port)) else 10)  # imports ~4-5 s; a silent port 2 s more
    assert not (tmp_path / "run").exists()



def test_quiet_stderr_drops_what_a_failed_join_printed(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConnectionError), quiet_stderr():
        os.write(2, b"gcs_client.cc:210: Failed to get cluster ID\n")  # as Ray's C++ core writes it
        raise ConnectionError("no GCS")
    with quiet_stderr():
        os.write(2, b"joined\n")
    assert capfd.readouterr().err == "joined\n"  # what a successful join printed is passed on
