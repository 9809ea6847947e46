"""torch intra-op threads: training env steps/s with 1 thread against one per core, on a quiet and a busy machine.

arena's default for ``--runner.torch-threads`` should be the fast choice on the machine a user really has,
which is rarely idle. For each preset this trains (acting, replay and updates together, learning already
started) with ``torch_threads`` 1 and with one thread per core (torch's default), once with the machine as it
is ("quiet") and once with a busy-loop process per core running beside it ("busy": another job, a browser,
a second run). Settings alternate run by run; ``--repeats`` rounds; the median SPS of each is reported.

Usage: python benchmarks/torch_threads.py [--seconds 20] [--repeats 3] [--presets dqn-minatar ...]
Writes benchmarks/results/torch_threads.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# (preset, env id override or None): small MLPs, MinAtar's small CNN, the Nature CNN on Atari.
PRESETS = ["dqn-cartpole", "ppo-cartpole", "dqn-minatar", "dqn-atari"]


def measure(preset: str, threads: int, seconds: float) -> float:
    """Env steps/s of ``preset`` with ``threads`` torch threads (0: torch's default), learning from the start."""
    sys.path.insert(0, str(ROOT))
    import torch

    from runners.families.dqn import TrainConfig
    from runners.families.registry import PRESETS as ALL
    from runners.local.dqn import DQNTrainer
    from runners.local.logging import NullLogger
    from runners.local.pg import PGTrainer

    cfg = ALL[preset]()
    cfg = replace(cfg, runner=replace(cfg.runner, torch_threads=threads, eval_episodes=0, checkpoint_every=0,
                                      device="cpu"))
    if isinstance(cfg, TrainConfig):  # updates from the first batch on: the steady state of a long run
        cfg = replace(cfg, replay=replace(cfg.replay, capacity=20_000, learning_starts=cfg.agent.batch_size))
    trainer: Any = DQNTrainer(cfg, NullLogger()) if isinstance(cfg, TrainConfig) else PGTrainer(cfg, NullLogger())
    if threads == 0:
        torch.set_num_threads(os.cpu_count() or 1)
    try:
        t_end = time.perf_counter() + 2.0  # warm-up
        while time.perf_counter() < t_end:
            trainer.env_step()
            trainer.learn()
        start, t0 = trainer.step, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            trainer.env_step()
            trainer.learn()
        return (trainer.step - start) / (time.perf_counter() - t0)
    finally:
        trainer.close()


def _hog() -> None:
    while True:
        pass


def _child(preset: str, threads: int, seconds: float, q: Any) -> None:
    q.put(measure(preset, threads, seconds))


def run(preset: str, threads: int, seconds: float) -> float:
    """One measurement in a fresh process (torch fixes its thread pool once per process)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(preset, threads, seconds, q))
    p.start()
    sps = float(q.get())
    p.join()
    return sps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--presets", nargs="*", default=PRESETS)
    ap.add_argument("--report-only", action="store_true", help="rewrite the markdown from the JSON")
    a = ap.parse_args()
    if a.report_only:
        write_report(json.loads((RESULTS / "torch_threads.json").read_text()))
        return
    cores = os.cpu_count() or 1
    runs: list[dict[str, Any]] = []
    ctx = mp.get_context("spawn")
    for load in ("quiet", "busy"):
        hogs = [ctx.Process(target=_hog, daemon=True) for _ in range(cores if load == "busy" else 0)]
        for h in hogs:
            h.start()
        try:
            for rep in range(a.repeats):
                for preset in a.presets:
                    for threads in ((1, 0) if rep % 2 == 0 else (0, 1)):
                        sps = run(preset, threads, a.seconds)
                        runs.append({"load": load, "preset": preset, "threads": threads, "repeat": rep,
                                     "sps": round(sps, 1)})
                        print(f"{load:5s} {preset:14s} threads {threads or cores} {sps:8.1f} SPS", flush=True)
        finally:
            for h in hogs:
                h.kill()
    loadavg = os.getloadavg()
    out = {"cores": cores, "cpu": platform.processor(), "seconds": a.seconds, "repeats": a.repeats,
           "loadavg_at_end": loadavg, "presets": a.presets, "runs": runs,
           "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True).stdout.strip()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "torch_threads.json").write_text(json.dumps(out, indent=1) + "\n")
    write_report(out)


def write_report(out: dict[str, Any]) -> None:
    """``torch_threads.md`` from the JSON: the median SPS of each (preset, load, threads)."""
    values: dict[tuple[str, str, int], list[float]] = {}
    for r in out["runs"]:
        values.setdefault((r["load"], r["preset"], r["threads"]), []).append(r["sps"])
    med = {k: statistics.median(v) for k, v in values.items()}
    lines = ["# torch threads: env steps/s with 1 thread vs one per core", "",
             f"{out['cores']} cores; {out['seconds']:.0f} s per run after a 2 s warm-up, median of {out['repeats']} "
             "(settings alternating run by run); 'busy': one busy-loop process per core beside the run; load "
             f"average at the end {out['loadavg_at_end'][0]:.1f}. Learning from the first batch (the steady state of "
             f"a long run). Commit {out['commit']}. Written by `benchmarks/torch_threads.py`.", "",
             "| preset | load | 1 thread SPS | one per core SPS | 1 thread / per core |", "|---|---|---:|---:|---:|"]
    for preset in out["presets"]:
        for load in ("quiet", "busy"):
            one, allc = med[(load, preset, 1)], med[(load, preset, 0)]
            lines.append(f"| {preset} | {load} | {one:,.0f} | {allc:,.0f} | {one / max(allc, 1e-9):.2f}x |")
    (RESULTS / "torch_threads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

if __name__ == "__main__":
    main()
