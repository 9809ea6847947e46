"""Replay memory and PER speed: arena's ReplayBuffer against Stable-Baselines3's ReplayBuffer.

Measures
1. bytes per stored Atari transition (obs ``Box(0, 255, (4, 84, 84), uint8)``) at capacity 100,000:
   arena (frames stored once, stacks rebuilt at sample time) vs SB3 ``ReplayBuffer`` with
   ``optimize_memory_usage=False`` (obs and next_obs arrays) and ``True`` (one obs array). Both allocate
   with ``np.zeros``, whose pages stay untouched until written, so this costs no real memory; bytes are
   the arrays' ``nbytes``.
2. prioritized replay (Schaul et al. 2016) ``sample(256)`` + ``update_priorities(256)`` at capacity
   1,000,000 with small vector observations: median over many repetitions after warmup.
3. ``sample(32)`` from a filled Atari-shaped buffer (capacity 100,000), stack rebuilding included, and
   the steady-state cost of ``add`` for one step of 8 Atari envs.

Run: ``python benchmarks/replay_memory.py``; writes ``benchmarks/results/replay_memory.{json,md}``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from replay import ReplayBuffer, Transition  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ATARI_OBS = (4, 84, 84)
FRAME_BYTES = 84 * 84


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
    }


def arena_bytes(capacity: int, num_envs: int, prioritized: bool) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        capacity=capacity,
        obs_shape=ATARI_OBS,
        obs_dtype="uint8",
        frame_stack=4,
        num_envs=num_envs,
        n_step=3,
        prioritized=prioritized,
    )
    buf = ReplayBuffer(**kw)
    nbytes = buf.nbytes
    assert nbytes == ReplayBuffer.estimate_nbytes(**kw)
    del buf
    return {
        "capacity": capacity,
        "num_envs": num_envs,
        "prioritized": prioritized,
        "bytes": nbytes,
        "bytes_per_transition": nbytes / capacity,
    }


def sb3_bytes(capacity: int, optimize: bool) -> dict[str, Any]:
    try:
        import warnings

        from gymnasium import spaces
        from stable_baselines3 import __version__ as sb3_version
        from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer
    except Exception as e:  # noqa: BLE001 - record any import failure rather than crash
        return {"error": f"stable_baselines3 import failed: {e!r}"}
    obs_space = spaces.Box(0, 255, ATARI_OBS, np.uint8)
    # SB3 refuses timeout handling together with optimize_memory_usage (its timeouts array is then absent).
    timeouts = not optimize
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SB3 warns that the (untouched) arrays exceed free memory
            buf = SB3ReplayBuffer(
                capacity,
                obs_space,
                spaces.Discrete(6),
                device="cpu",
                n_envs=1,
                optimize_memory_usage=optimize,
                handle_timeout_termination=timeouts,
            )
    except Exception as e:  # noqa: BLE001
        return {"error": f"SB3 ReplayBuffer construction failed: {e!r}", "optimize_memory_usage": optimize}
    arrays = {k: v.nbytes for k, v in vars(buf).items() if isinstance(v, np.ndarray)}
    nbytes = sum(arrays.values())
    del buf
    return {
        "version": sb3_version,
        "capacity": capacity,
        "optimize_memory_usage": optimize,
        "handle_timeout_termination": timeouts,
        "bytes": nbytes,
        "bytes_per_transition": nbytes / capacity,
        "arrays": arrays,
    }


def per_timing(capacity: int, batch: int, reps: int, warmup: int) -> dict[str, Any]:
    num_envs = 64
    buf = ReplayBuffer(
        capacity=capacity,
        obs_shape=(4,),
        obs_dtype="float32",
        num_envs=num_envs,
        n_step=3,
        prioritized=True,
        alpha=0.6,
        seed=0,
    )
    rng = np.random.default_rng(0)
    obs = np.zeros((num_envs, 4), np.float32)
    t0 = time.perf_counter()
    while len(buf) < capacity:
        nxt = rng.standard_normal((num_envs, 4)).astype(np.float32)
        done = rng.random(num_envs) < 0.01
        buf.add(
            Transition(
                obs,
                rng.integers(0, 4, num_envs),
                rng.standard_normal(num_envs).astype(np.float32),
                nxt,
                done,
                np.zeros(num_envs, bool),
            )
        )
        obs = nxt
    fill_s = time.perf_counter() - t0
    for start in range(0, capacity, 65536):  # realistic, spread-out priorities
        idx = np.arange(start, min(start + 65536, capacity))
        buf.update_priorities(idx, rng.exponential(size=idx.size))
    both, sample_only, update_only = [], [], []
    for r in range(warmup + reps):
        td = rng.exponential(size=batch)
        t0 = time.perf_counter()
        b = buf.sample(batch, beta=0.5)
        t1 = time.perf_counter()
        buf.update_priorities(b.index, td)
        t2 = time.perf_counter()
        if r >= warmup:
            both.append(t2 - t0)
            sample_only.append(t1 - t0)
            update_only.append(t2 - t1)
    ms = lambda xs: float(np.median(xs) * 1e3)  # noqa: E731
    return {
        "capacity": capacity,
        "batch": batch,
        "reps": reps,
        "warmup": warmup,
        "fill_s": fill_s,
        "sample_plus_update_ms_median": ms(both),
        "sample_ms_median": ms(sample_only),
        "update_ms_median": ms(update_only),
        "sample_plus_update_ms_p90": float(np.percentile(both, 90) * 1e3),
    }


def atari_timing(capacity: int, num_envs: int, batch: int, reps: int) -> dict[str, Any]:
    buf = ReplayBuffer(
        capacity=capacity,
        obs_shape=ATARI_OBS,
        obs_dtype="uint8",
        frame_stack=4,
        num_envs=num_envs,
        n_step=3,
        prioritized=True,
    )
    rng = np.random.default_rng(1)
    # A cycle of 16 steps of random frames; about 1 in 1000 steps ends an episode.
    frames = rng.integers(0, 256, (21, num_envs, 84, 84), dtype=np.uint8)
    steps = []
    for k in range(16):
        done = rng.random(num_envs) < 0.001
        steps.append(
            Transition(
                frames[k : k + 4].swapaxes(0, 1),
                rng.integers(0, 6, num_envs),
                np.zeros(num_envs, np.float32),
                frames[k + 1 : k + 5].swapaxes(0, 1).copy(),
                done,
                np.zeros(num_envs, bool),
            )
        )
    t0 = time.perf_counter()
    k = 0
    while len(buf) < capacity:
        buf.add(steps[k % 16])
        k += 1
    fill_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(reps):  # steady state: the rings have wrapped, every page is touched
        buf.add(steps[k % 16])
    add_ms = (time.perf_counter() - t0) / reps * 1e3
    times = []
    for r in range(reps + 20):
        t0 = time.perf_counter()
        buf.sample(batch)
        if r >= 20:
            times.append(time.perf_counter() - t0)
    return {
        "capacity": capacity,
        "num_envs": num_envs,
        "batch": batch,
        "fill_s": fill_s,
        "add_ms_mean": add_ms,
        "sample_ms_median": float(np.median(times) * 1e3),
        "valid": len(buf),
    }


def write_markdown(res: dict[str, Any], path: Path) -> None:
    m, a, per, at = res["machine"], res["memory"], res["per"], res["atari"]
    target = 1.05 * FRAME_BYTES
    lines = [
        "# Replay memory and PER speed",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}, "
        f"numba {m['numba']}. Produced by `python benchmarks/replay_memory.py`.",
        "",
        f"## Bytes per stored Atari transition (obs uint8 (4, 84, 84), capacity {a['capacity']:,})",
        "",
        "| buffer | bytes / transition | vs arena (PER) |",
        "|---|---:|---:|",
    ]
    base = a["arena"][0]["bytes_per_transition"]
    for r in a["arena"]:
        kind = "PER" if r["prioritized"] else "uniform"
        bpt = r["bytes_per_transition"]
        lines.append(f"| arena, {kind}, n=3, {r['num_envs']} envs | {bpt:,.0f} | {bpt / base:.2f}x |")
    for r in a["sb3"]:
        if "error" in r:
            lines.append(f"| SB3 | {r['error']} | |")
            continue
        bpt = r["bytes_per_transition"]
        lines.append(
            f"| SB3 {r['version']} ReplayBuffer, optimize_memory_usage={r['optimize_memory_usage']} "
            f"| {bpt:,.0f} | {bpt / base:.2f}x |"
        )
    lines += [
        "",
        f"One 84x84 frame is {FRAME_BYTES} bytes; the target is <= 1.05 x {FRAME_BYTES} = {target:,.0f} "
        f"(all bookkeeping and the sum tree included). Arena at capacity 1,000,000 (8 envs, PER, "
        f"estimated): {a['arena_1m_bytes_per_transition']:,.0f} bytes / transition, "
        f"{a['arena_1m_bytes'] / 2**30:.2f} GiB. SB3 stores each stacked observation (4 frames) whole, twice "
        "without optimize_memory_usage (obs and next_obs) and once with it (which SB3 does not allow "
        "together with timeout handling); arena stores each frame once and rebuilds stacks at sample time.",
        "",
        "## Prioritized replay speed",
        "",
        "| operation | capacity | batch | median ms |",
        "|---|---:|---:|---:|",
        f"| sample + update_priorities | {per['capacity']:,} | {per['batch']} | "
        f"{per['sample_plus_update_ms_median']:.3f} |",
        f"| sample only (vector obs) | {per['capacity']:,} | {per['batch']} | "
        f"{per['sample_ms_median']:.3f} |",
        f"| update_priorities only | {per['capacity']:,} | {per['batch']} | {per['update_ms_median']:.3f} |",
        f"| sample, Atari stacks rebuilt | {at['capacity']:,} | {at['batch']} | "
        f"{at['sample_ms_median']:.3f} |",
        f"| add, one step of {at['num_envs']} Atari envs (mean) | {at['capacity']:,} | | "
        f"{at['add_ms_mean']:.3f} |",
        "",
        f"Target for sample + update at 1,000,000: <= 1 ms (p90 {per['sample_plus_update_ms_p90']:.3f} ms; "
        f"median over {per['reps']} repetitions after {per['warmup']} warmup).",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> None:
    t_start = time.perf_counter()
    capacity = 100_000
    res: dict[str, Any] = {"machine": machine()}
    arena = [arena_bytes(capacity, 8, True), arena_bytes(capacity, 8, False)]
    sb3 = [sb3_bytes(capacity, False), sb3_bytes(capacity, True)]
    est_1m = ReplayBuffer.estimate_nbytes(
        1_000_000, ATARI_OBS, "uint8", frame_stack=4, num_envs=8, n_step=3, prioritized=True
    )
    res["memory"] = {
        "capacity": capacity,
        "arena": arena,
        "sb3": sb3,
        "arena_1m_bytes": est_1m,
        "arena_1m_bytes_per_transition": est_1m / 1_000_000,
        "target_bytes_per_transition": 1.05 * FRAME_BYTES,
    }
    for r in sb3:
        if "error" not in r:
            r["ratio_to_arena_per"] = r["bytes_per_transition"] / arena[0]["bytes_per_transition"]
    print(json.dumps(res["memory"], indent=1))
    res["per"] = per_timing(1_000_000, 256, reps=3000, warmup=300)
    print(json.dumps(res["per"], indent=1))
    res["atari"] = atari_timing(100_000, 8, 32, reps=1000)
    print(json.dumps(res["atari"], indent=1))
    res["runtime_s"] = time.perf_counter() - t_start
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay_memory.json").write_text(json.dumps(res, indent=2) + "\n")
    write_markdown(res, RESULTS / "replay_memory.md")
    print(f"wrote {RESULTS / 'replay_memory.json'} and .md in {res['runtime_s']:.1f} s")


if __name__ == "__main__":
    main()
