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
Writes benchmarks/results/distributed_throughput.{json,md}.
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
from runners.distributed_apex import ApexWorker, ReplayShard  # noqa: E402
from runners.distributed_driver import WorkerStats  # noqa: E402
from runners.presets import dqn_minatar  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ENV_ID = "minatar:breakout"
ENVS_PER_WORKER = 8
TRAIN_EVERY = 1_000
LEARNING_STARTS = 2_000
LOG_EVERY = 1_000
CHUNK = 32  # --distributed.chunk-length default
TICK = os.sysconf("SC_CLK_TCK")

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


# --- CPU accounting from /proc --------------------------------------------------------------------------
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


def _median_s(fn: Any, reps: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


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
            self.offer = (v, [ref])
            t = time.perf_counter()
            self.client.update(v)
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
    env_step_s = _median_s(lambda: env.step(rng.integers(0, spec.num_actions, ENVS_PER_WORKER)), 400, 50)
    env.close()
    out: dict[str, Any] = {"env_step_ms_per_env": env_step_s * 1e3 / ENVS_PER_WORKER}

    # Learner updates on the CPU (one thread), sampled from a filled ReplayShard.
    torch.set_num_threads(1)
    shard = ReplayShard(cfg, spec, {0: (0, ENVS_PER_WORKER)}, cfg.replay.capacity, 0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
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
        out["replay_insert_ms_per_chunk"] = _median_s(lambda: shard.add(0, False, chunk, None), 200) * 1e3
        out["replay_insert_per_s"] = steps / (out["replay_insert_ms_per_chunk"] / 1e3)
        out["replay_sample_ms_per_batch32"] = _median_s(lambda: shard.sample(4, 32, 0.4), 100) * 1e3 / 4
        learner = DQNLearner(build_q_network(cfg.agent, cfg.torso, spec), cfg.agent, torch.device("cpu"), seed=0)
        batch32 = shard.sample(1, 32, 0.4)[0][0]
        out["learner_update_ms_b32_cpu"] = _median_s(lambda: learner.step(batch32), 60) * 1e3
        batch512 = shard.sample(1, 512, 0.4)[0][0]
        out["learner_update_ms_b512_cpu"] = _median_s(lambda: learner.step(batch512), 15, 2) * 1e3
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


# --- the paper estimate ----------------------------------------------------------------------------------
def in_run_costs(runs: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """CPU ms per env step of each role in the Ray runs with 8 envs per worker (median over runs), from /proc."""
    out: dict[str, float] = {}
    rows = [r["cpu_ms_per_1k_steps"] for n in ("ray_1w_8", "ray_2w_8each") for r in runs.get(n, [])
            if "cpu_ms_per_1k_steps" in r]
    for role in ("workers", "replay", "driver", "learner", "ray_daemons"):
        values = [r[role] for r in rows if role in r]
        if values:
            out[role] = round(float(statistics.median(values)) / 1e3, 4)
    return out


OWN = ("driver", "workers", "replay", "learner", "ray_daemons")


def cpu_per_step(run: dict[str, Any]) -> float | None:
    """CPU ms per env step of all the run's own processes (driver, workers, replay, learner, Ray's daemons)."""
    c = run.get("cpu_ms_per_1k_steps")
    return sum(c.get(k, 0.0) for k in OWN) / 1e3 if c else None


def worker_core_sps(run: dict[str, Any]) -> float | None:
    """Env steps per second per core the workers got (the local runner's one process counts as its worker)."""
    cores = run.get("cores_used", {})
    used = cores.get("workers", cores.get("driver") if "workers" not in cores else None)
    return run["sps"] / used if used else None


def efficiency(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """CPU-normalised views of the runs (the machine is shared: the SPS ratios also measure who got the CPU)."""
    def med(name: str, fn: Any) -> float | None:
        values = [v for v in (fn(r) for r in runs.get(name, [])) if v is not None]
        return float(statistics.median(values)) if values else None

    out: dict[str, Any] = {"cpu_ms_per_step": {n: med(n, cpu_per_step) for n in CONFIGS},
                           "sps_per_worker_core": {n: med(n, worker_core_sps) for n in CONFIGS}}
    c, w = out["cpu_ms_per_step"], out["sps_per_worker_core"]
    if c["local_8"] and c["ray_1w_8"]:
        out["cpu_overhead_1w"] = c["ray_1w_8"] / c["local_8"] - 1  # extra CPU per env step on Ray, 1 worker
    if w["ray_1w_8"] and w["ray_2w_8each"]:
        out["per_worker_core_2w_vs_1w"] = w["ray_2w_8each"] / w["ray_1w_8"]
    # On an idle 2-core machine: one worker is bound by its own core or by all the CPU the run needs; two
    # workers by two cores or by all the CPU the run needs (worker costs from the runs, per env step).
    w1 = [r["cpu_ms_per_1k_steps"]["workers"] / 1e3 for r in runs.get("ray_1w_8", []) if "cpu_ms_per_1k_steps" in r]
    w2 = [r["cpu_ms_per_1k_steps"]["workers"] / 1e3 for r in runs.get("ray_2w_8each", []) if "cpu_ms_per_1k_steps" in r]
    if w1 and w2 and c["ray_1w_8"] and c["ray_2w_8each"]:
        one = min(1e3 / statistics.median(w1), 2e3 / c["ray_1w_8"])
        two = min(2e3 / statistics.median(w2), 2e3 / c["ray_2w_8each"])
        out["idle_2core_bound"] = {"one_worker_sps": round(one), "two_workers_sps": round(two),
                                   "ratio": round(two / one, 2)}
    return {k: ({kk: round(vv, 4) if isinstance(vv, float) else vv for kk, vv in v.items()} if isinstance(v, dict)
                else round(v, 3)) for k, v in out.items()}


def estimate(p: dict[str, Any], gpu: dict[str, Any] | None, real: dict[str, float]) -> dict[str, Any]:
    """8 nodes x 16 cores, one GPU learner: which of actors, learner, replay, driver saturates first.

    Per-step CPU costs come from the Ray runs (``real``: everything the processes really did, Ray's
    serialisation, parameter pulls and logging included); the pieces fill in what the runs cannot separate
    (a replay sample per batch) and the GPU probe gives the update time.
    """
    nodes, cores, shards = 8, 16, 4
    # Head node: driver 1 core, learner 1 core (+ the GPU), replay shards 1 core each; every other core a worker.
    workers = nodes * cores - 2 - shards
    worker_ms = real.get("workers", p["worker_ms_per_step"] + p["push_worker_cpu_ms"] / p["chunk_steps"])
    replay_ms = real.get("replay", p["replay_insert_ms_per_chunk"] / p["chunk_steps"])
    driver_ms = real.get("driver", p["driver_msg_cpu_ms"] / p["chunk_steps"])
    per_worker = 1e3 / worker_ms
    actors = workers * per_worker
    u32 = (gpu or {}).get("update_ms_b32")
    u512 = (gpu or {}).get("update_ms_b512")
    assumed = u32 is None or u512 is None
    if u32 is None or u512 is None:  # no GPU measurement: stated as an assumption in the report
        u32, u512 = 1.5, 2.0
    rows = {}
    for label, batch, upd_ms, per_step in (("preset: 1 update (batch 32) / env step", 32, u32, 1.0),
                                           ("measured: 1 update (batch 32) / 1000 env steps", 32, u32, 1e-3),
                                           ("Ape-X-like: 1 update (batch 512) / 128 env steps", 512, u512, 1 / 128)):
        learner_sps = 1e3 / upd_ms / per_step
        sample_ms = p["replay_sample_ms_per_batch32"] * batch / 32
        # A shard at env rate R / S: busy R / S * (insert ms per step + updates per step * sample ms) per second.
        replay_sps = shards * 1e3 / (replay_ms + per_step * sample_ms)
        driver_sps = 1e3 / driver_ms
        limits = {"actors": actors, "learner": learner_sps, "replay": replay_sps, "driver": driver_sps}
        first = min(limits, key=lambda k: limits[k])
        rows[label] = {"limits_sps": {k: round(v) for k, v in limits.items()}, "saturates_first": first,
                       "sps": round(limits[first]), "update_ms": upd_ms, "updates_per_env_step": per_step,
                       "sample_ms_per_batch": round(sample_ms, 3)}
    chunk_mb_s_per_node = cores * per_worker / p["chunk_steps"] * p["chunk_bytes"] / 1e6
    return {"nodes": nodes, "cores_per_node": cores, "replay_shards": shards, "workers": workers,
            "worker_ms_per_step": round(worker_ms, 4), "replay_ms_per_step": round(replay_ms, 4),
            "driver_ms_per_step": round(driver_ms, 4), "per_worker_sps": round(per_worker),
            "costs_from_runs": bool(real), "gpu_update_assumed": assumed, "rows": rows,
            "chunk_mb_per_s_per_node": round(chunk_mb_s_per_node, 1),
            "head_inbound_mb_per_s": round(chunk_mb_s_per_node * (nodes - 1), 1)}


# --- report ----------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import gymnasium

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "ray": ray.__version__, "gymnasium": gymnasium.__version__,
            "sched_autogroup": autogroup.read_text().strip() == "1" if autogroup.exists() else None}


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def markdown(result: dict[str, Any]) -> str:
    m, s, med, p, e = result["machine"], result["settings"], result["sps_median"], result["pieces"], \
        result["estimate"]
    lines = [f"# Ray runner throughput (MinAtar Breakout, DQN, {ENVS_PER_WORKER} envs per worker)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']}, Ray {m['ray']}; "
             f"shared with other jobs (load average {result['load_start'][0]:.1f} at the start, "
             f"{result['load_end'][0]:.1f} at the end). One torch thread per process. "
             f"`python benchmarks/distributed_throughput.py --repeats {s['repeats']} --steps {s['steps']}`: "
             f"{s['steps']:,} env steps per run ({s['steps_2w']:,} for 2 workers x 8 envs), SPS from metrics.jsonl "
             f"after {s['warmup']:,} steps, configurations alternating, median of {s['repeats']} rounds.", "",
             f"What is measured: acting throughput with the learner running at 1 update / {TRAIN_EVERY} env steps "
             "(batch 32, learning from step 2,000). At the preset's 1 update / env step every runner is "
             f"learner-bound: {p['learner_update_ms_b32_cpu']:.1f} ms per CPU update = "
             f"{1e3 / p['learner_update_ms_b32_cpu']:.0f} env steps / s, whatever the worker count. Inside a worker "
             f"the MinAtar step is {p['env_step_ms_per_env']:.3f} ms per env step (vector of {ENVS_PER_WORKER}) of "
             f"{p['worker_chunk_cpu_ms'] / p['chunk_steps']:.3f} ms CPU per env step in `ApexWorker._run_chunk` "
             f"({p['env_step_ms_per_env'] / (p['worker_chunk_cpu_ms'] / p['chunk_steps']):.0%}); the rest is the "
             "policy forward (PyTorch's per-call cost on a tiny CNN) and chunk bookkeeping, all of it per-worker work "
             "that scales with workers. Ray's actors run at nice 0 (`RAY_worker_niceness=0`; Ray's default is 15).", "",
             "| runner | envs | env steps / s (median) | runs | cores used (median run) | load avg 1 min, per run |",
             "|---|---:|---:|---|---|---|"]
    for name, (_, envs) in CONFIGS.items():
        runs = result["runs"].get(name)
        if not runs:
            continue
        mid = sorted(runs, key=lambda r: r["sps"])[len(runs) // 2]
        cores = ", ".join(f"{k} {v:.2f}" for k, v in mid.get("cores_used", {}).items())
        sps = ", ".join(f"{r['sps']:,.0f}" for r in runs)
        loads = ", ".join(f"{r['load_before'][0]:.1f}/{r['load_after'][0]:.1f}" for r in runs)
        lines.append(f"| {name} | {envs} | {med[name]:,.0f} | {sps} | {cores} | {loads} |")
    t = result["targets"]
    lines += ["", "| ratio | median | per round | target | met |", "|---|---:|---|---|---|"]
    for key, label, target in () if not t else (("scaling_2w_vs_1w", "2 workers x 8 envs / 1 worker x 8 envs", ">= 1.6"),
                               ("scaling_2w_equal_envs", "2 workers x 4 envs / 1 worker x 8 envs (same 8 envs)", ""),
                               ("ray_1w_vs_local", "Ray 1 worker / local, 8 envs", ""),
                               ("overhead_1w", "overhead = 1 - Ray 1 worker / local, 8 envs", "<= 0.10"),
                               ("overhead_2w_equal_envs", "1 - Ray 2 workers x 4 / local, 8 envs", "")):
        met = "" if not target else ("yes" if t[key + "_met"] else "no")
        lines.append(f"| {label} | {t[key]:.2f} | {t[key + '_rounds']} | {target} | {met} |")
    eff = result.get("efficiency", {})
    if t and "idle_2core_bound" in eff:
        lines += ["", f"Verdict: scaling 2 workers / 1 worker = {t['scaling_2w_vs_1w']:.2f} "
                  f"({'meets' if t['scaling_2w_vs_1w_met'] else 'misses'} the 1.6x target); per CPU second the "
                  f"workers got it is {eff.get('per_worker_core_2w_vs_1w', float('nan')):.2f}, and on 2 cores the "
                  f"measured per-step costs of replay, learner, driver and Ray's daemons bound it at "
                  f"{eff['idle_2core_bound']['ratio']:.2f} even on an idle machine (below). Overhead at equal env count "
                  f"= {t['overhead_1w']:+.2f} ({'meets' if t['overhead_1w_met'] else 'misses'} <= 0.10): Ray with one "
                  f"worker is faster than one process (two processes overlap acting with replay and learning); its CPU "
                  f"per env step is {eff.get('cpu_overhead_1w', float('nan')):+.0%} against the local runner's."]
    if eff:
        cps, wcs = eff["cpu_ms_per_step"], eff["sps_per_worker_core"]
        lines += ["", "CPU-normalised (the machine is shared, so SPS ratios also measure who won the CPU):", "",
                  "| runner | CPU ms per env step, all own processes | env steps / s per core the workers got |",
                  "|---|---:|---:|"]
        for name in CONFIGS:
            if cps.get(name) is not None:
                lines.append(f"| {name} | {cps[name]:.4f} | {wcs[name]:,.0f} |")
        lines.append("")
        if "cpu_overhead_1w" in eff:
            lines.append(f"- CPU overhead of Ray at 1 worker, 8 envs: {eff['cpu_overhead_1w']:+.0%} CPU per env step "
                         "against the local runner (Ray spreads it over two processes, so wall-clock SPS can still be "
                         "higher).")
        if "per_worker_core_2w_vs_1w" in eff:
            lines.append(f"- 2 workers against 1, per core the workers got: {eff['per_worker_core_2w_vs_1w']:.2f} (1.00 = "
                         "each worker as fast per CPU second as a lone one).")
        if "idle_2core_bound" in eff:
            b = eff["idle_2core_bound"]
            lines.append(f"- Bound on an idle 2-core machine from these per-step costs: 1 worker <= {b['one_worker_sps']:,} "
                         f"SPS (its own core, or 2 cores / all CPU per step), 2 workers <= {b['two_workers_sps']:,} "
                         f"SPS (2 cores / all CPU per step): ratio <= {b['ratio']:.2f}. Replay, learner, driver and "
                         "Ray's daemons share the 2 cores with the workers, so on 2 cores the 1.6x target needs those "
                         "to cost < ~0.25 of a worker's CPU per env step.")
    own = {n: [round(sum(r["cores_used"].get(k, 0.0) for k in OWN), 2) for r in runs_]
           for n, runs_ in result["runs"].items() if runs_ and all("cores_used" in r for r in runs_)}
    if m.get("sched_autogroup"):
        lines += ["", "The kernel's autogroup scheduling is on here: the CPU is first shared fairly between sessions "
                  "(this benchmark, a long background benchmark, engineers' test runs), and nice values only order "
                  "processes inside a session. So a run gets about the same share of the 2 cores whatever its process "
                  "count or priority: the cores all of a run's own processes got were "
                  + "; ".join(f"{n} {v}" for n, v in own.items()) + " (per round), out of 2. Two workers cannot "
                  "get twice the CPU of one here, which is why the CPU-normalised rows above are the ones to read "
                  "for scaling."]
    lines += ["", "cores used: CPU seconds per second of the measured window, per role (from /proc): driver (the "
              "`arena train` process; in local runs it does everything), workers, replay, learner, ray_daemons "
              "(raylet, GCS, idle workers), others (other users' jobs on this machine), machine_busy (all).", "",
              "## Pieces", "", "| piece | cost |", "|---|---:|"]
    for k, v in p.items():
        lines.append(f"| {k} | {v:,.4g} |" if isinstance(v, float) else f"| {k} | {v:,} |")
    g = result.get("gpu", {})
    src = "measured in the Ray runs above (/proc CPU time per env step, median of the 8-envs-per-worker runs)" \
        if e["costs_from_runs"] else "from the pieces"
    lines += ["", "## Paper estimate: 8 nodes x 16 cores, one GPU learner", "",
              f"Layout: the head node holds the driver (1 core), the learner (1 core + the GPU) and "
              f"{e['replay_shards']} replay shards (1 core each); every other core runs one worker with "
              f"{ENVS_PER_WORKER} envs: {e['workers']} workers. Driver, learner and each shard are one Python thread "
              f"each. Per-step CPU costs are {src}; they include Ray's serialisation, parameter pulls and logging.", "",
              f"- actors: a worker costs {e['worker_ms_per_step']:.4f} ms of CPU per env step (pieces: env "
              f"{p['env_step_ms_per_env']:.3f} ms, env + forward + chunk assembly {p['worker_ms_per_step']:.3f} ms wall, "
              f"push {p['push_worker_cpu_ms']:.2f} ms per {p['chunk_steps']}-step chunk) -> 1000 / "
              f"{e['worker_ms_per_step']:.4f} = {e['per_worker_sps']:,} SPS per worker on its own core; x "
              f"{e['workers']} workers = {e['per_worker_sps'] * e['workers']:,} SPS.",
              f"- replay: a shard spends {e['replay_ms_per_step']:.4f} ms per inserted env step (pieces: the insert "
              f"alone {p['replay_insert_ms_per_chunk']:.2f} ms per {p['chunk_steps']}-step chunk) and "
              f"{p['replay_sample_ms_per_batch32']:.3f} ms per sampled batch of 32 (x 16 for 512): limit = "
              f"{e['replay_shards']} x 1000 / ({e['replay_ms_per_step']:.4f} + updates per step x sample ms).",
              f"- driver: {e['driver_ms_per_step']:.4f} ms per env step ({e['driver_ms_per_step'] * p['chunk_steps']:.2f} "
              f"ms per {p['chunk_steps']}-step worker message, episode logging included; Ray's floor for one "
              f"message, submit + wait + get, is {p['driver_msg_cpu_ms']:.2f} ms of driver CPU) -> limit 1000 / "
              f"{e['driver_ms_per_step']:.4f}.",
              "- learner: limit = 1000 / (update ms x updates per env step); update time "
              + ("ASSUMED (no GPU measurement): 1.5 ms at batch 32, 2.0 ms at batch 512." if e["gpu_update_assumed"] else
                 f"measured with benchmarks/gpu_learner_probe.py on {g.get('device')} (arena's DQNLearner.step, "
                 f"small_cnn): {g.get('update_ms_b32', 0):.2f} ms at batch 32, {g.get('update_ms_b512', 0):.2f} ms at "
                 f"batch 512 (Nature CNN on 84x84: {g.get('atari_nature_cnn_b32_ms', 0):.2f} / "
                 f"{g.get('atari_nature_cnn_b512_ms', 0):.2f} ms). The same time at batch 32 and 512 means the update is "
                 "bound by per-step overhead (kernel launches and host syncs), not FLOPs."),
              f"- network: a chunk is {p['chunk_bytes']:,} bytes: {e['chunk_mb_per_s_per_node']} MB/s out of each "
              f"worker node at full actor speed, {e['head_inbound_mb_per_s']} MB/s into the head node (fine on 10 GbE); "
              f"parameters ({p['param_bytes']:,} bytes) cross the network once per node per publish.", "",
              "| replay ratio | actors | learner | replay (4 shards) | driver | saturates first | SPS |",
              "|---|---:|---:|---:|---:|---|---:|"]
    for label, row in e["rows"].items():
        lim = row["limits_sps"]
        lines.append(f"| {label} | {lim['actors']:,} | {lim['learner']:,} = 1000 / ({row['update_ms']:.2f} x "
                     f"{row['updates_per_env_step']:.4g}) | {lim['replay']:,} | {lim['driver']:,} | "
                     f"{row['saturates_first']} | {row['sps']:,} |")
    lines += ["", result["estimate_note"], ""]
    return "\n".join(lines)


def estimate_note(e: dict[str, Any]) -> str:
    """What the estimate says, in words, from its numbers."""
    why = {"learner": "the learner (one update at a time on one GPU)",
           "replay": "the replay shards (one Python thread each, inserting chunk by chunk)",
           "driver": "the driver (one Python loop that takes every worker message)",
           "actors": "the actors themselves (the cluster is fully used)"}
    parts = []
    for label, row in e["rows"].items():
        lim = row["limits_sps"]
        second = sorted(lim, key=lambda k: lim[k])[1]
        parts.append(f"{label}: {why[row['saturates_first']]} saturates first at {row['sps']:,} SPS "
                     f"({row['sps'] / lim['actors']:.1%} of what the {e['workers']} workers could produce; next: "
                     f"{second} at {lim[second]:,})")
    return ("Reading: " + "; ".join(parts) + ". At the preset's replay ratio a single learner caps the cluster near "
            "what one process already does: scaling out needs fewer updates per env step with bigger batches (the GPU "
            "update costs the same at batch 32 and 512, so batch 512 is nearly free) or several learners. With the "
            "learner out of the way the Python pieces on the head node come next: the driver pays ~"
            f"{e['driver_ms_per_step'] * 256:.1f} ms per worker message (Ray's own floor is ~1 ms) and the replay shards "
            f"~{e['replay_ms_per_step'] * 256:.1f} ms per 256-step chunk; longer chunks (--distributed.chunk-length) "
            "cut the driver's messages and more shards (--distributed.replay-shards) the insert load. CPU costs are "
            "from this shared 2-core machine (contended cores run slower); a dedicated modern core would shrink the "
            "CPU limits by a similar factor, which keeps their order.")


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
    p.add_argument("--report-only", action="store_true", help="rewrite JSON and markdown from the JSON's measurements")
    p.add_argument("--gpu-json", type=Path, default=None, help="GPU learner timings (benchmarks/gpu_learner_probe.py)")
    a = p.parse_args()
    a.skip_runs = a.skip_runs or a.report_only
    # Ray renices its worker processes (every actor) to 15 by default, below the nice-0 driver and below other
    # users' niced jobs on a shared machine; 0 puts every process of every side at the same priority.
    os.environ["RAY_worker_niceness"] = "0"
    out_json = RESULTS / "distributed_throughput.json"
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
    if a.report_only:
        pieces, pieces_load = previous["pieces"], previous["pieces_load_after"]
    else:
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
    result = {
        "machine": machine(), "git": previous.get("git", git_state()) if a.skip_runs else git_state(), "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in load_end],
        "settings": {"env": ENV_ID, "preset": "dqn-minatar", "envs_per_worker": ENVS_PER_WORKER,
                     "train_every": TRAIN_EVERY, "learning_starts": LEARNING_STARTS, "chunk_length": CHUNK,
                     "torch_threads": 1, "ray_num_cpus": 2, "ray_worker_niceness": 0, "epsilon": "agent schedule (--distributed.epsilon None)",
                     "steps": a.steps, "steps_2w": 2 * a.steps, "warmup": a.warmup, "repeats": a.repeats,
                     "configs": {k: {"flags": v[0], "total_envs": v[1]} for k, v in CONFIGS.items()}},
        "sps_median": med, "targets": targets, "runs": runs, "efficiency": efficiency(runs), "pieces": pieces, "pieces_load_after": pieces_load, "in_run_ms_per_step": real,
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
