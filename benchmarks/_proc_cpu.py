"""CPU accounting from ``/proc`` for benchmarks/distributed_throughput.py: per-process CPU seconds, each
process's role in a run (driver, workers, replay, learner, Ray's daemons, other users' jobs), snapshots, and
the cores each role used between two snapshots.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def _procs() -> dict[int, tuple[int, float, str, int]]:
    """pid -> (ppid, cpu seconds, cmdline, nice) for every live process."""
    out: dict[int, tuple[int, float, str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, cmd, int(fields[16]))
    return out


def _role(pid: int, procs: dict[int, tuple[int, float, str, int]], root: int) -> str:
    """Which part of the run ``pid`` is (``root``: the run's driver); other users' processes are ``others``."""
    p, seen = pid, 0
    while p not in (root, 0, 1) and seen < 64:
        p, seen = procs[p][0] if p in procs else 0, seen + 1
    if p != root:
        return "bench" if pid == os.getpid() else "others"
    if pid == root:
        return "driver"
    cmd = procs[pid][2]
    for name, role in (("ApexWorker", "workers"), ("ReplayShard", "replay"), ("ApexLearner", "learner")):
        if f"ray::{name}" in cmd:
            return role
    return "ray_daemons"


def cpu_snapshot(root: int) -> dict[str, Any]:
    procs = _procs()
    per_pid = {pid: (_role(pid, procs, root), cpu) for pid, (_, cpu, _, _) in procs.items()}
    nice = sorted({(per_pid[pid][0], n) for pid, (_, _, _, n) in procs.items() if per_pid[pid][0] not in ("others",)})
    busy = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    idle = int(busy[3]) + int(busy[4])
    return {"t": time.perf_counter(), "pids": per_pid, "nice": nice, "busy": (sum(map(int, busy[:8])) - idle) / TICK}


def cpu_window(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Cores used per role between two snapshots (processes that started in between count from 0)."""
    dt = b["t"] - a["t"]
    used: dict[str, float] = {}
    for pid, (role, cpu) in b["pids"].items():
        before = a["pids"].get(pid, (role, 0.0))[1]
        used[role] = used.get(role, 0.0) + max(cpu - before, 0.0)
    out = {k: round(v / dt, 3) for k, v in sorted(used.items())}
    out["machine_busy"] = round((b["busy"] - a["busy"]) / dt, 3)
    return out
