"""Ray runner throughput on an env-bound configuration: ``--runner local`` against ``--runner ray`` with 1 and 2
workers, the Ray overhead at equal env count, the measured per-piece costs, and a paper estimate for a cluster.

Configuration: ``dqn-minatar`` on MinAtar Breakout (``minatar:breakout``: a real env whose step costs ~0.3 ms
here, small_cnn torso, fc 128), 8 sub-envs per worker, one torch thread everywhere, no evaluation or
periodic checkpoints, ``--distributed.epsilon None`` (every worker follows the agent's own epsilon schedule,
as the single-process runner does, so both act alike). The preset learns once per env step (replay ratio
32); one CPU update of the small CNN costs ~13 ms here, so at that ratio every runner is learner-bound at
~80 env steps / s whatever the worker count. To measure the runner rather than the learner, the runs keep
the learner in the loop at ``--runner.train-every 1000`` (learning starts after 2,000 steps): what is
measured is acting throughput (env + policy forward + replay insert + transport) with the learner running.

Ray renices its actors to 15 by default (below the nice-0 driver and below other users' niced jobs on this shared
machine); the script sets ``RAY_worker_niceness=0`` so every process of every runner has the same priority.
Every run is the real CLI (``python -m runners.cli train dqn-minatar ...``) in a fresh process, with
``--distributed.num-cpus 2`` for Ray (``ray.init(num_cpus=2)``; the runner shuts Ray down at the end). SPS is
read from the run's ``metrics.jsonl`` (``train`` records: steps and seconds) between ``--warmup`` steps and the
end, so Ray's start, actor construction and the final save are excluded. Meanwhile the CPU time of every
process is sampled from ``/proc`` and attributed to driver / workers / replay / learner / Ray's own daemons /
other users' processes (the machine is shared). Configurations alternate within each of ``--repeats`` rounds;
the median is reported, every run is in the JSON.

The pieces (in one process and through a local Ray instance): a worker's cost per env step (env + forward +
chunk assembly; ``ApexWorker._run_chunk`` itself), the round trip of a chunk push to a replay actor, the replay
actor's insert and sample rates, a learner update (batch 32 and 512, CPU), a parameter pull, the driver's cost
per worker message. They feed the paper estimate for 8 nodes x 16 cores with one GPU learner.

Usage: python benchmarks/distributed_throughput.py [--repeats 3] [--steps 80000] [--skip-runs | --report-only] [--gpu-json F]
Writes benchmarks/results/distributed_throughput.{json,md}; ``--report-only`` rewrites only the markdown, from
the JSON as recorded. The /proc CPU accounting is in benchmarks/_proc_cpu.py; the analysis, the paper estimate
and the markdown in benchmarks/distributed_throughput_report.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.dqn import DQNLearner, build_q_network  # noqa: E402
from benchmarks._proc_cpu import cpu_snapshot, cpu_window  # noqa: E402
from benchmarks._timing import median_s  # noqa: E402
from benchmarks.distributed_throughput_report import (  # noqa: E402
    _med,
    efficiency,
    estimate,
    estimate_note,
    in_run_costs,
    markdown,
)
from runners.distributed.apex import ApexWorker, ReplayShard  # noqa: E402
from runners.distributed.pool import WorkerStats  # noqa: E402
from runners.families.dqn_presets import dqn_minatar  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ENV_ID = "minatar:breakout"
ENVS_PER_WORKER = 8
TRAIN_EVERY = 1_000
LEARNING_STARTS = 2_000
LOG_EVERY = 1_000
CHUNK = 32  # --distributed.chunk-length default

# name -> (runner flags, total env count)
CONFIGS: dict[str, tuple[list[str], int]] = {
    "local_8": (["--runner", "local"], 8),
    "ray_1w_8": (["--runner", "ray", "--num-workers", "1"], 8),
    "ray_2w_8each": (["--runner", "ray", "--num-workers", "2"], 16),
    "ray_2w_4each": (["--runner", "ray", "--num-workers", "2"], 8),
}


def common_flags(total_steps: int, num_envs: int, run_dir: Path) -> list[str]:
    return ["--env.id", ENV_ID, "--env.num-envs", str(num_envs), "--runner.total-steps", str(total_steps),
            "--runner.train-every", str(TRAIN_EVERY), "--replay.learning-starts", str(LEARNING_STARTS),
            "--runner.eval-episodes", "0", "--runner.checkpoint-every", "0", "--runner.torch-threads", "1",
            "--runner.device", "cpu", "--log.wandb", "off", "--log.no-progress", "--log.log-every", str(LOG_EVERY),
            "--log.run-dir", str(run_dir), "--distributed.epsilon", "None", "--distributed.num-cpus", "2",
            "--distributed.status-every", "0"]


# --- one run through the CLI -----------------------------------------------------------------------------
def read_train(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if '"kind": "train"' in line:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                pass
    return records


def run_config(name: str, total_steps: int, warmup: int, work: Path) -> dict[str, Any]:
    flags, envs = CONFIGS[name]
    run_dir = work / f"{name}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "runners.cli", "train", "dqn-minatar", *flags, *common_flags(total_steps, envs,
                                                                                              run_dir)]
    load_before = os.getloadavg()
    log = (work / f"{run_dir.name}.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    metrics = run_dir / "metrics.jsonl"
    start: tuple[int, dict[str, Any]] | None = None
    end: tuple[int, dict[str, Any]] | None = None
    while proc.poll() is None:
        time.sleep(0.5)
        records = read_train(metrics)
        step = records[-1]["step"] if records else 0
        if start is None and step >= warmup:
            start = (step, cpu_snapshot(proc.pid))
        elif start is not None and step < total_steps - 2 * LOG_EVERY:
            end = (step, cpu_snapshot(proc.pid))
    wall = time.perf_counter() - t0
    log.close()
    load_after = os.getloadavg()
    if proc.returncode != 0:
        tail = (work / f"{run_dir.name}.log").read_text()[-3000:]
        raise RuntimeError(f"{name} failed (exit {proc.returncode}):\n{tail}")
    records = read_train(metrics)
    first = next(r for r in records if r["step"] >= warmup)
    last = records[-1]
    window = [r for r in records if r["step"] > first["step"]]
    sps = (last["step"] - first["step"]) / (last["time"] - first["time"])
    out: dict[str, Any] = {
        "sps": round(sps, 1), "window_steps": last["step"] - first["step"],
        "window_seconds": round(last["time"] - first["time"], 2), "process_wall_s": round(wall, 1),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after]}
    if window and "dist/learner_ups" in window[-1]:
        out["worker_sps_reported"] = round(statistics.median(r["dist/sps_workers"] for r in window), 1)
        out["learner_ups_reported"] = round(statistics.median(r["dist/learner_ups"] for r in window), 1)
    if start is not None and end is not None and end[0] > start[0]:
        cores = cpu_window(start[1], end[1])
        out["cores_used"] = cores
        out["niceness"] = sorted({f"{role} {n}" for role, n in start[1]["nice"]})
        steps_per_s = (end[0] - start[0]) / (end[1]["t"] - start[1]["t"])
        out["cpu_ms_per_1k_steps"] = {k: round(v / steps_per_s * 1e6, 1) for k, v in cores.items()
                                      if k not in ("others", "bench", "machine_busy")}
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


# --- the pieces --------------------------------------------------------------------------------------------
def _cfg() -> Any:
    cfg = dqn_minatar()
    return replace(cfg, env=replace(cfg.env, id=ENV_ID, num_envs=ENVS_PER_WORKER),
                   replay=replace(cfg.replay, learning_starts=LEARNING_STARTS),
                   runner=replace(cfg.runner, train_every=TRAIN_EVERY, torch_threads=1, device="cpu"))


class ProbeWorker(ApexWorker):
    """The runner's own ``ApexWorker`` (as a Ray actor) with timing methods added."""

    def probe_acting(self, chunks: int) -> tuple[float, float, Any]:
        """Median wall and CPU seconds of ``_run_chunk`` (env + forward + chunk assembly), and one chunk."""
        walls, cpus = [], []
        chunk = None
        for _ in range(chunks):
            t, c = time.perf_counter(), time.process_time()
            chunk, _, _ = self._run_chunk()
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        return float(np.median(walls)), float(np.median(cpus)), chunk

    def probe_push(self, pushes: int) -> tuple[float, float]:
        """Median round trip of one chunk push to the replay actor (send, insert, ack), and the worker's CPU
        seconds per push (serialising and sending; the insert runs in the replay actor)."""
        chunk, _, _ = self._run_chunk()
        walls: list[float] = []
        c = time.process_time()
        for _ in range(pushes):
            t = time.perf_counter()
            ray.get(self.replay.add.remote(self.index, False, chunk, None))
            walls.append(time.perf_counter() - t)
        return float(np.median(walls)), (time.process_time() - c) / pushes

    def probe_pull(self, refs: list[Any]) -> float:
        """Median seconds of one parameter pull (``ray.get`` of the published object + ``load_state_dict``)."""
        walls = []
        for v, ref in enumerate(refs, start=10**6):
            t = time.perf_counter()
            self.params.pull(v, [ref])
            walls.append(time.perf_counter() - t)
        return float(np.median(walls))


class Echo:
    """A worker stand-in that answers ``collect`` at once: the driver's per-message cost, without work."""

    def collect(self, version: int, params: list[Any]) -> WorkerStats:
        return WorkerStats(0, CHUNK * ENVS_PER_WORKER, (), (), version, 1e-3, 0, 0.1)


def measure_pieces() -> dict[str, Any]:
    cfg = _cfg()
    from envs import make

    env = make(ENV_ID, ENVS_PER_WORKER, 0)
    spec = env.spec
    # Raw env step, random actions (the floor under any runner).
    rng = np.random.default_rng(0)
    env.reset()
    env_step_s = median_s(lambda: env.step(rng.integers(0, spec.num_actions, ENVS_PER_WORKER)), 400, 50)
    env.close()
    out: dict[str, Any] = {"env_step_ms_per_env": env_step_s * 1e3 / ENVS_PER_WORKER}

    # Learner updates on the CPU (one thread), sampled from a filled ReplayShard.
    torch.set_num_threads(1)
    shard = ReplayShard(cfg, spec, {0: (0, ENVS_PER_WORKER)}, cfg.replay.capacity, 0)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        name = "bench-replay"
        remote_shard: Any = ray.remote(ReplayShard).options(num_cpus=0, name=name).remote(
            cfg, spec, {0: (0, ENVS_PER_WORKER)}, cfg.replay.capacity, 0)
        worker: Any = ray.remote(ProbeWorker).options(num_cpus=1).remote(cfg, spec, 0, ENVS_PER_WORKER, None, 1, name)
        act_wall, act_cpu, chunk = ray.get(worker.probe_acting.remote(60))
        push_wall, push_cpu = ray.get(worker.probe_push.remote(60))
        steps = CHUNK * ENVS_PER_WORKER
        out.update({"chunk_steps": steps, "worker_chunk_ms": act_wall * 1e3, "worker_chunk_cpu_ms": act_cpu * 1e3,
                    "worker_ms_per_step": act_wall * 1e3 / steps, "push_roundtrip_ms": push_wall * 1e3,
                    "push_worker_cpu_ms": push_cpu * 1e3, "chunk_bytes": len(pickle.dumps(chunk, protocol=5))})
        # Replay insert and sample, in this process (what the replay actor does per message).
        for _ in range(200):  # fill past one batch
            shard.add(0, False, chunk, None)
        out["replay_insert_ms_per_chunk"] = median_s(lambda: shard.add(0, False, chunk, None), 200, 5) * 1e3
        out["replay_insert_per_s"] = steps / (out["replay_insert_ms_per_chunk"] / 1e3)
        out["replay_sample_ms_per_batch32"] = median_s(lambda: shard.sample(4, 32, 0.4), 100, 5) * 1e3 / 4
        learner = DQNLearner(build_q_network(cfg.agent, cfg.torso, spec), cfg.agent, torch.device("cpu"), seed=0)
        batch32 = shard.sample(1, 32, 0.4)[0][0]
        out["learner_update_ms_b32_cpu"] = median_s(lambda: learner.step(batch32), 60, 5) * 1e3
        batch512 = shard.sample(1, 512, 0.4)[0][0]
        out["learner_update_ms_b512_cpu"] = median_s(lambda: learner.step(batch512), 15, 2) * 1e3
        # Parameter pull: one published object per version.
        _, params = learner.get_params()
        refs = [ray.put({k: v.clone() for k, v in params.items()}) for _ in range(40)]
        out["param_bytes"] = sum(v.numel() * v.element_size() for v in params.values())
        out["param_pull_ms"] = ray.get(worker.probe_pull.remote(refs)) * 1e3
        # The driver's cost per worker message: submit a collect, wait for it, take its WorkerStats.
        echo: Any = ray.remote(Echo).options(num_cpus=0).remote()
        ray.get(echo.collect.remote(0, refs[:1]))
        n, c, t = 400, time.process_time(), time.perf_counter()
        for _ in range(n):
            ref = echo.collect.remote(0, refs[:1])
            ready, _ = ray.wait([ref], num_returns=1, timeout=1.0)
            ray.get(ready[0])
        out["driver_msg_roundtrip_ms"] = (time.perf_counter() - t) / n * 1e3
        out["driver_msg_cpu_ms"] = (time.process_time() - c) / n * 1e3
        for h in (worker, remote_shard, echo):
            ray.kill(h)
    finally:
        ray.shutdown()
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


# --- machine and checkout -------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import gymnasium

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "ray": ray.__version__, "gymnasium": gymnasium.__version__,
            "sched_autogroup": autogroup.read_text().strip() == "1" if autogroup.exists() else None}


def git_state() -> dict[str, Any]:
    """The commit measured, and which runner files had uncommitted changes (the checkout is shared)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"head": git("rev-parse", "--short", "HEAD"),
            "uncommitted_runner_files": git("status", "--porcelain", "runners", "agents", "replay").splitlines()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=80_000, help="env steps per run (twice that for 2 workers x 8 envs)")
    p.add_argument("--warmup", type=int, default=10_000, help="env steps excluded from the SPS window")
    p.add_argument("--only", nargs="*", default=None, help="run these configurations only")
    p.add_argument("--skip-runs", action="store_true", help="pieces and estimate only (reuses the JSON's runs)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown from benchmarks/results/distributed_throughput.json (no runs)")
    p.add_argument("--gpu-json", type=Path, default=None, help="GPU learner timings (benchmarks/gpu_learner_probe.py)")
    a = p.parse_args()
    out_json = RESULTS / "distributed_throughput.json"
    if a.report_only:
        # The page from the recorded result as it stands, left as it is: re-deriving anything here would describe
        # this machine (or this code's analysis) rather than the measured run.
        md = markdown(json.loads(out_json.read_text()))
        (RESULTS / "distributed_throughput.md").write_text(md)
        print(md)
        return
    # Ray renices its worker processes (every actor) to 15 by default, below the nice-0 driver and below other
    # users' niced jobs on a shared machine; 0 puts every process of every side at the same priority.
    os.environ["RAY_worker_niceness"] = "0"
    previous = json.loads(out_json.read_text()) if out_json.exists() else {}
    load_start = os.getloadavg()
    names = a.only or list(CONFIGS)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in CONFIGS}
    work = Path(tempfile.mkdtemp(prefix="arena-dist-bench-"))
    try:
        if a.skip_runs:
            runs, load_start = previous["runs"], tuple(previous["load_start"])
            a.repeats, a.steps, a.warmup = (previous["settings"][k] for k in ("repeats", "steps", "warmup"))
        else:
            for r in range(a.repeats):
                for name in names:
                    steps = a.steps * (2 if name == "ray_2w_8each" else 1)
                    res = run_config(name, steps, a.warmup * (2 if name == "ray_2w_8each" else 1), work)
                    runs[name].append(res)
                    print(f"round {r + 1} {name}: {res['sps']:,.0f} SPS, load {res['load_before'][0]:.1f}"
                          f"/{res['load_after'][0]:.1f}, cores {res.get('cores_used')}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_end = tuple(previous["load_end"]) if a.skip_runs else os.getloadavg()
    pieces = measure_pieces()
    pieces_load = [round(os.getloadavg()[0], 2)]
    print(pieces, flush=True)
    gpu = json.loads(a.gpu_json.read_text()) if a.gpu_json else previous.get("gpu")
    real = in_run_costs(runs)
    est = estimate(pieces, gpu, real)
    med = {n: _med(v, "sps") for n, v in runs.items() if v}

    def per_round(num: str, den: str) -> list[float]:
        return [round(x["sps"] / y["sps"], 2) for x, y in zip(runs[num], runs[den], strict=False)]

    targets: dict[str, Any] = {}
    if all(n in med for n in CONFIGS):
        targets = {
            "scaling_2w_vs_1w": med["ray_2w_8each"] / med["ray_1w_8"],
            "scaling_2w_vs_1w_rounds": per_round("ray_2w_8each", "ray_1w_8"),
            "scaling_2w_equal_envs": med["ray_2w_4each"] / med["ray_1w_8"],
            "scaling_2w_equal_envs_rounds": per_round("ray_2w_4each", "ray_1w_8"),
            "ray_1w_vs_local": med["ray_1w_8"] / med["local_8"],
            "ray_1w_vs_local_rounds": per_round("ray_1w_8", "local_8"),
            "overhead_1w": 1 - med["ray_1w_8"] / med["local_8"],
            "overhead_1w_rounds": [round(1 - x, 2) for x in per_round("ray_1w_8", "local_8")],
            "overhead_2w_equal_envs": 1 - med["ray_2w_4each"] / med["local_8"],
            "overhead_2w_equal_envs_rounds": [round(1 - x, 2) for x in per_round("ray_2w_4each", "local_8")],
        }
        targets["scaling_2w_vs_1w_met"] = targets["scaling_2w_vs_1w"] >= 1.6
        targets["overhead_1w_met"] = targets["overhead_1w"] <= 0.10
        targets = {k: round(v, 3) if isinstance(v, float) else v for k, v in targets.items()}
    note = estimate_note(est)
    # A fresh measurement keeps a summary of the one it replaces (noisy machine: both stay on record).
    earlier = list(previous.get("earlier", []))
    if not a.skip_runs and previous.get("targets"):
        earlier.append({"git": previous["git"]["head"], "load_start": previous["load_start"][0],
                        "sps_median": {k: round(v) for k, v in previous["sps_median"].items()},
                        "targets": previous["targets"],
                        "cpu_overhead_1w": previous["efficiency"].get("cpu_overhead_1w")})
    result = {
        "earlier": earlier,
        "machine": machine(), "git": previous.get("git", git_state()) if a.skip_runs else git_state(), "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in load_end],
        "settings": {"env": ENV_ID, "preset": "dqn-minatar", "envs_per_worker": ENVS_PER_WORKER,
                     "train_every": TRAIN_EVERY, "learning_starts": LEARNING_STARTS, "chunk_length": CHUNK,
                     "torch_threads": 1, "ray_num_cpus": 2, "ray_worker_niceness": 0, "epsilon": "agent schedule (--distributed.epsilon None)",
                     "steps": a.steps, "steps_2w": 2 * a.steps, "warmup": a.warmup, "repeats": a.repeats,
                     "configs": {k: {"flags": v[0], "total_envs": v[1]} for k, v in CONFIGS.items()}},
        "sps_median": med, "targets": targets, "runs": runs, "efficiency": efficiency(runs, list(CONFIGS)), "pieces": pieces, "pieces_load_after": pieces_load, "in_run_ms_per_step": real,
        "estimate": est,
        "estimate_note": note,
    }
    if gpu is not None:
        result["gpu"] = gpu
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result)
    (RESULTS / "distributed_throughput.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
