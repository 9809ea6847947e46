"""How long the wandb service (``wandb-core``) outlives an ``arena train`` killed with SIGKILL.

Each round starts the real CLI (``python -m runners.cli train dqn-cartpole --log.wandb offline``; offline mode,
no network), waits until its ``wandb-core`` child is up (plus ``--after`` seconds), sends SIGKILL to arena and
times how long that ``wandb-core`` stays alive. The service is told its parent's pid (``--pid``; see wandb's
``sdk/lib/service/service_process.py``) and exits once the parent is gone, so arena needs no watchdog of its own.

Measured here (wandb 0.31.0, 2 CPUs): 0 of 8 services alive 1 s after the kill (longest 0.10 s), whether arena
was killed 2 s into training or as soon as the service appeared.

    python benchmarks/wandb_orphan.py --rounds 4 --after 2
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def services_of(pid: int) -> list[int]:
    """Pids of the ``wandb-core`` processes started for parent ``pid``."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "wandb-core" in line and f"--pid {pid}" in line]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
    except OSError:
        return False


def one_round(after: float, timeout: float = 30.0) -> float:
    """Seconds the service lived on after arena was killed (``timeout`` when it never exited)."""
    run_dir = Path(tempfile.mkdtemp()) / "run"
    proc = subprocess.Popen([sys.executable, "-m", "runners.cli", "train", "dqn-cartpole", "--runner.total-steps",
                             "1000000", "--log.run-dir", str(run_dir), "--log.wandb", "offline", "--log.no-progress"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "WANDB_MODE": "offline"})
    start = time.monotonic()
    services: list[int] = []
    while not services and time.monotonic() - start < 60:
        services = services_of(proc.pid)
        time.sleep(0.05)
    if not services:
        proc.kill()
        raise RuntimeError("no wandb-core appeared within 60 s")
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    while any(alive(p) for p in services) and time.monotonic() - killed < timeout:
        time.sleep(0.01)
    return time.monotonic() - killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--after", type=float, default=2.0, help="seconds after wandb-core starts to kill arena")
    a = parser.parse_args()
    lived = [one_round(a.after) for _ in range(a.rounds)]
    print(f"wandb-core alive after SIGKILL of arena: {', '.join(f'{s:.2f}' for s in lived)} s; "
          f"{sum(s > 1.0 for s in lived)} of {a.rounds} still alive after 1 s")


if __name__ == "__main__":
    main()
