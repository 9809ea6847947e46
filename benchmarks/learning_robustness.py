"""Learning robustness: every learning test's configuration on seeds 0-4 under two CPU kernel sets.

A learning test asserts a threshold on one seed (0). That seed passing on one machine says little: another
CPU (AVX2 or AVX-512, Intel or AMD) runs other floating-point kernels and takes another trajectory from the
same seed. This script runs each learning test itself (``pytest NODE``, so the configuration and the
assertions are exactly the test's) with ``ARENA_LEARNING_SEED`` set to each seed, once with torch's default
kernels for this CPU and once with ``ATEN_CPU_CAPABILITY=avx2``, and records pass/fail, the steps to the
threshold (the tests' ``learning_report`` fixture writes them) and the wall time.

It is resumable: finished runs are kept in ``benchmarks/results/learning_robustness.json`` and skipped;
``--report-only`` rewrites the markdown table from it alone. Single-process tests run two at a time (one torch
thread each); Ray tests, which start a 2-CPU Ray instance, run alone.

    .venv/bin/python benchmarks/learning_robustness.py                       # everything (hours)
    .venv/bin/python benchmarks/learning_robustness.py --only alphazero      # one test's 10 runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
JSON_OUT = RESULTS / "learning_robustness.json"
MD_OUT = RESULTS / "learning_robustness.md"


@dataclass(frozen=True)
class Case:
    node: str
    """pytest node id of the learning test."""
    claim: str
    """What the test asserts, in words."""
    ray: bool = False
    """Starts a local Ray instance with 2 CPUs: run alone."""


CASES = [
    Case("tests/test_learning_alphazero.py::test_tictactoe_never_loses_against_any_line",
         "AlphaZero tic-tac-toe: loses no line of play, as first or second player"),
    Case("tests/test_learning.py::test_solves_cartpole_within_50k_steps[dqn-cartpole]",
         "DQN: eval >= 475 on CartPole within 50k steps"),
    Case("tests/test_learning.py::test_solves_cartpole_within_50k_steps[double-dueling-cartpole]",
         "Double+Dueling DQN: eval >= 475 within 50k steps"),
    Case("tests/test_learning.py::test_solves_cartpole_within_50k_steps[rainbow-cartpole]",
         "Rainbow: eval >= 475 within 50k steps"),
    Case("tests/test_learning_pg.py::test_pg_solves_cartpole[ppo-cartpole-50000]",
         "PPO: eval >= 475 within 50k steps"),
    Case("tests/test_learning_pg.py::test_pg_solves_cartpole[reinforce-cartpole-200000]",
         "REINFORCE: eval >= 475 within 200k steps"),
    Case("tests/test_learning_imitation.py::test_gail_and_bc_from_four_expert_episodes",
         "GAIL from 4 episodes: >= 95% of the expert within 200k steps"),
    Case("tests/test_reinforce_recurrent.py::test_lstm_reinforce_reaches_the_recall_optimum",
         "LSTM REINFORCE: recall optimum 1.0 within 100k steps"),
    Case("tests/test_learning_memory.py::test_lstm_and_attention_reach_the_recall_optimum",
         "LSTM and attention PPO: recall optimum 1.0 within 50k steps; memoryless < 0.5"),
    Case("tests/test_learning_memory.py::test_attention_ppo_solves_masked_cartpole_and_mlp_does_not",
         "attention PPO: masked CartPole >= 400 within 300k steps; memoryless < 200"),
    Case("tests/test_learning_memory.py::test_r2d2_lstm_solves_masked_cartpole_and_mlp_does_not",
         "R2D2: masked CartPole >= 400 within 300k steps; memoryless < 200"),
    Case("tests/test_distributed_selfplay.py::test_ray_selfplay_learns_tictactoe",
         "AlphaZero on Ray (2 workers): loses no line of play", ray=True),
    Case("tests/test_distributed.py::test_two_workers_solve_cartpole[dqn-cartpole]",
         "DQN on Ray (2 workers): eval >= 475 within 100k steps", ray=True),
    Case("tests/test_distributed.py::test_two_workers_solve_cartpole[ppo-cartpole]",
         "PPO on Ray (2 workers): eval >= 475", ray=True),
    Case("tests/test_distributed_gail.py::test_gail_on_ray_reaches_the_single_process_bar",
         "GAIL on Ray: >= 95% of the expert within 200k steps", ray=True),
    Case("tests/test_distributed_memory.py::test_r2d2_on_ray_learns_masked_cartpole",
         "R2D2 on Ray: masked CartPole >= 120 within 80k steps", ray=True),
    Case("tests/test_learning_league.py::test_league_main_never_loses_against_any_line",
         "AlphaZero league tic-tac-toe: the main loses no line of play"),
]

# What was done about each claim after these runs (filled in by hand from the table; see the README of
# benchmarks/). "holds" means nothing had to change.
ACTIONS: dict[str, str] = {
    "tests/test_learning_alphazero.py::test_tictactoe_never_loses_against_any_line":
        "preset fixed: every self-play move sampled from the visit counts and the first move uniform (was: the "
        "first 3 sampled; 3 of 4 seeds tried on AVX-512 lost lines as second player, to edge openings and traps "
        "the network never played itself); the test now tries every opponent line, not 100 games. 10/10 on the "
        "AMD EPYC, then again on an Intel Xeon with AVX-512 (the kind of CPU on which the old preset failed)",
    "tests/test_learning_memory.py::test_r2d2_lstm_solves_masked_cartpole_and_mlp_does_not":
        "preset fixed: 3-step returns (was 1-step: seeds 1 and 2 peaked at 393 and 395 under both kernels, "
        "short of 400 within 300k steps). 10/10 within 20k-60k steps; memoryless best 40-45",
    "tests/test_learning.py::test_solves_cartpole_within_50k_steps[dqn-cartpole]":
        "preset fixed (all three CartPole DQN presets share it): batch 128 (was 64) and an evaluation every 2,500 "
        "steps (was 5,000). Before, on commit 2e4cc33: 10/10 here, but Double+Dueling missed on seed 3 under both "
        "kernels (best 361) and Rainbow on seeds 3 and 4 under AVX2 (best 468 and 140)",
    "tests/test_learning.py::test_solves_cartpole_within_50k_steps[double-dueling-cartpole]":
        "preset fixed: see dqn-cartpole (before: 8/10, seed 3 best 361 under both kernels)",
    "tests/test_learning.py::test_solves_cartpole_within_50k_steps[rainbow-cartpole]":
        "preset fixed: see dqn-cartpole (before: 8/10, seeds 3 and 4 under AVX2 best 468 and 140)",
    "tests/test_learning_imitation.py::test_gail_and_bc_from_four_expert_episodes":
        "holds; rerun after the discriminator's initial weights were seeded from the run seed (they came from "
        "torch's global generator) and the reward form became 'auto' (-log(1-D) here, as before)",
    "tests/test_distributed.py::test_two_workers_solve_cartpole[dqn-cartpole]":
        "honest bar with margin: 100k steps (was the preset's 50k). These 10 runs and 8 more (seeds 100-107, base "
        "Ape-X settings) solved at 18k-37.5k, but one run of a fresh-clone make test stayed near 100 from 10k to "
        "50k after the dip most runs show at 10k-25k. Tried on 5-8 seeds, no better: every worker on the "
        "agent's epsilon schedule (1 of 2 failed), --distributed.max-update-lag 100 (22.5k-35k)",
    "tests/test_distributed_memory.py::test_r2d2_on_ray_learns_masked_cartpole":
        "honest bar with margin: 80k steps (was 40k, where 9 of 10 runs reached 120, several only at 35k-40k, and "
        "one peaked at 103). At 80k: 10/10, the bar reached at 15k-45k steps",
    "tests/test_distributed_selfplay.py::test_ray_selfplay_learns_tictactoe":
        "same preset fix as the single-process test; bounded by the preset's iterations, no longer by a 170 s "
        "time limit (a loaded machine played fewer iterations)",
}


def kernel_env(kernel: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    if kernel != "default":
        env["ATEN_CPU_CAPABILITY"] = kernel
    env.setdefault("WANDB_MODE", "offline")
    return env


def capability(kernel: str) -> str:
    """The kernel set torch actually runs under ``kernel`` (e.g. AVX512 for 'default' on an AVX-512 CPU)."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                         env=kernel_env(kernel), capture_output=True, text=True, check=True)
    return out.stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    """HEAD, marked when the code the tests run differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "agents", "envs", "replay", "runners", "tests")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def run_one(case: Case, seed: int, kernel: str) -> dict[str, Any]:
    """Run the test once; its outcome, the report its ``learning_report`` fixture wrote, and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env = {**kernel_env(kernel), "ARENA_LEARNING_SEED": str(seed), "ARENA_LEARNING_REPORT": str(report)}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                               "--basetemp", str(Path(tmp) / "pytest"), case.node],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        lines = report.read_text().splitlines() if report.exists() else []
    failure = next((ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")), "")
    return {"node": case.node, "seed": seed, "kernel": kernel, "commit": git_commit(), "cpu": cpu_model(),
            "capability": capability(kernel), "passed": proc.returncode == 0,
            "returncode": proc.returncode, "wall_s": round(wall, 1),
            "report": json.loads(lines[-1]) if lines else {}, "failure": failure[-300:]}


def load_results() -> dict[str, Any]:
    if JSON_OUT.exists():
        return json.loads(JSON_OUT.read_text())
    return {"runs": []}


def save_results(data: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = JSON_OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, JSON_OUT)


AMD_EPYC = "AMD EPYC"  # the machine of the runs recorded before each run named its CPU


def _short_cpu(cpu: str) -> str:
    return "Intel Xeon" if "Xeon" in cpu else ("AMD EPYC" if "EPYC" in cpu else cpu)


def _cell(run: dict[str, Any] | None) -> str:
    if run is None:
        return "not run"
    rep = run["report"]
    steps = rep.get("steps_to_threshold")
    detail = f" @{steps / 1000:.0f}k" if isinstance(steps, (int, float)) else ""
    if "losses" in rep:
        detail = f" L{rep['losses']}"
    return ("pass" if run["passed"] else "**FAIL**") + detail


def write_markdown(data: dict[str, Any], seeds: list[int], kernels: list[str]) -> None:
    runs = {(r["node"], r["seed"], r["kernel"]): r for r in data["runs"]}
    machines = sorted({f"{r.get('cpu', AMD_EPYC)}" for r in data["runs"]})
    lines = ["# Learning robustness: each learning test on 5 seeds x 2 CPU kernel sets", "",
             f"Machines: {'; '.join(machines)} ({data['cores']} cores). Kernel sets: `default` (torch's choice for "
             "the CPU: AVX512 on both) and `avx2` (`ATEN_CPU_CAPABILITY=avx2`). Each row names the machine and the "
             "commit its runs come from. Written by `benchmarks/learning_robustness.py`.", "",
             "Each cell: pass or FAIL, then the env steps of the first evaluation that reached the test's "
             "threshold (@Nk), or for AlphaZero the lines of play lost as first and second player (L[first, second]).",
             "", "| test | claim | kernels | " + " | ".join(f"seed {s}" for s in seeds)
             + " | passed | wall time (median) | machine, commit | action |",
             "|---|---|---|" + "---|" * len(seeds) + "---|---|---|---|"]
    for case in CASES:
        for k in kernels:
            cells = [runs.get((case.node, s, k)) for s in seeds]
            done = [c for c in cells if c is not None]
            walls = sorted(c["wall_s"] for c in done)
            wall = f"{walls[len(walls) // 2]:.0f} s" if walls else "-"
            passed = f"{sum(c['passed'] for c in done)}/{len(done)}" if done else "-"
            short = case.node.split("::")[1]
            action = ACTIONS.get(case.node, "holds" if done and all(c["passed"] for c in done) else "")
            where = ", ".join(sorted({f"{_short_cpu(c.get('cpu', AMD_EPYC))} {c['commit']}" for c in done})) or "-"
            lines.append(f"| `{short}` | {case.claim} | {k} | " + " | ".join(_cell(c) for c in cells)
                         + f" | {passed} | {wall} | {where} | {action if k == kernels[0] else ''} |")
    MD_OUT.write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    p.add_argument("--kernels", nargs="*", default=["default", "avx2"],
                   help="ATEN_CPU_CAPABILITY values ('default': torch's choice for this CPU)")
    p.add_argument("--only", nargs="*", default=None, help="run the tests whose node id contains one of these")
    p.add_argument("--jobs", type=int, default=2, help="single-process tests run at once")
    p.add_argument("--rerun", action="store_true", help="run again what the JSON already holds")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown from benchmarks/results/learning_robustness.json (no runs)")
    a = p.parse_args()
    data = load_results()
    if a.report_only and "cores" not in data:
        # The page names the measuring machine's core count; this machine's would be a guess.
        print(f"{JSON_OUT.name} does not record the core count (a run records it): {MD_OUT.name} left as it is")
        return
    if not a.report_only:
        data["cpu"] = cpu_model()
        data["cores"] = os.cpu_count()
        data["capabilities"] = {k: capability(k) for k in a.kernels}
        data["commit"] = git_commit()
        cases = [c for c in CASES if a.only is None or any(o in c.node for o in a.only)]
        have = {(r["node"], r["seed"], r["kernel"]) for r in data["runs"]}
        todo = [(c, s, k) for c in cases for s in a.seeds for k in a.kernels
                if a.rerun or (c.node, s, k) not in have]
        lock = threading.Lock()

        def record(result: dict[str, Any]) -> None:
            with lock:
                key = (result["node"], result["seed"], result["kernel"])
                # Re-read first: another instance (other tests) may have saved runs since this one started.
                data["runs"] = [r for r in load_results()["runs"] if (r["node"], r["seed"], r["kernel"]) != key]
                data["runs"].append(result)
                save_results(data)
                write_markdown(data, a.seeds, a.kernels)
                print(f"{'pass' if result['passed'] else 'FAIL'} {result['wall_s']:7.1f}s seed {result['seed']} "
                      f"{result['kernel']:7s} {result['node']} {result['report']}", flush=True)

        with ThreadPoolExecutor(max_workers=max(a.jobs, 1)) as pool:
            for f in [pool.submit(run_one, *job) for job in todo if not job[0].ray]:
                record(f.result())
        for job in todo:  # Ray tests take both CPUs: one at a time
            if job[0].ray:
                record(run_one(*job))
    write_markdown(data, a.seeds, a.kernels)
    print(MD_OUT)


if __name__ == "__main__":
    main()
