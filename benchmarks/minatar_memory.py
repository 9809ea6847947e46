"""Memory against frame stacking on MinAtar: Rainbow with an LSTM core (R2D2 sequence replay) against Rainbow
on 4 stacked frames, same game, same frame budget, same replay ratio (8 learned steps per frame).

Usage: python benchmarks/minatar_memory.py [--game breakout] [--steps 500000] [--arms lstm,framestack]
       [--partial | --report-only]
Arms run side by side as two processes with one torch thread each; each checkpoints every 50,000 frames and
a rerun resumes unfinished arms (runs/bench-minatar-memory). Results: benchmarks/results/minatar_memory.{json,md}
and minatar_memory_GAME.png. ``--partial`` writes them from the runs so far (no training); ``--report-only``
rewrites only the markdown, from the JSON as recorded (the plot's training curves live in the run directories).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.api import train  # noqa: E402
from runners.families.common import LogConfig  # noqa: E402
from runners.families.dqn import TrainConfig  # noqa: E402
from runners.families.registry import PRESETS  # noqa: E402
from runners.local.plot import curves, plot_runs, read_metrics  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs" / "bench-minatar-memory"
ARMS = {"lstm": "rainbow-lstm-minatar (LSTM core, sequence replay, 1 frame)",
        "framestack": "rainbow-minatar on 4 stacked frames (no memory core)"}


def arm_config(arm: str, game: str, steps: int, seed: int) -> TrainConfig:
    """The arm's preset on ``minatar:GAME`` for ``steps`` frames."""
    cfg = PRESETS["rainbow-lstm-minatar" if arm == "lstm" else "rainbow-minatar"]()
    assert isinstance(cfg, TrainConfig)
    env = replace(cfg.env, id=f"minatar:{game}", frame_stack=1 if arm == "lstm" else 4)
    runner = replace(cfg.runner, total_steps=steps, eval_every=50_000, eval_episodes=10, seed=seed, torch_threads=1,
                     checkpoint_every=50_000)
    run_dir = RUNS / f"{arm}-{game}-s{seed}"
    return replace(cfg, env=env, runner=runner,
                   log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=10_000))


def run_arm(arm: str, game: str, steps: int, seed: int) -> dict:
    """Train (or resume) one arm and summarise its evaluation curve."""
    cfg = arm_config(arm, game, steps, seed)
    run_dir = Path(str(cfg.log.run_dir))
    t0 = time.perf_counter()
    done = run_dir / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    train(cfg, run_dir, resume=(run_dir / "checkpoints" / "latest.pt").exists())
    metrics = read_metrics(run_dir)
    _, _, ev_steps, ev_mean, ev_std = curves(metrics)
    # the logger's windowed SPS (0 on a process's first record); a short run falls back to its average
    sps = [float(m["sps"]) for m in metrics if m.get("kind") == "train" and float(m.get("sps", 0)) > 0] or \
        [steps / max(time.perf_counter() - t0, 1e-9)]
    result = {"arm": arm, "description": ARMS[arm], "game": game, "seed": seed, "frames": steps,
              "seconds_last_session": round(time.perf_counter() - t0, 1), "median_sps": sorted(sps)[len(sps) // 2],
              "eval_steps": ev_steps.tolist(), "eval_mean": ev_mean.tolist(), "eval_std": ev_std.tolist(),
              "final_eval": float(ev_mean[-1]), "best_eval": float(ev_mean.max()), "run_dir": run_dir.name}
    done.write_text(json.dumps(result, indent=1) + "\n")
    return result


def partial_result(arm: str, game: str, steps: int, seed: int) -> dict | None:
    """An arm's curve so far from its run directory (``--partial``: unfinished runs)."""
    run_dir = Path(str(arm_config(arm, game, steps, seed).log.run_dir))
    if (run_dir / "result.json").exists():
        return json.loads((run_dir / "result.json").read_text())
    if not (run_dir / "metrics.jsonl").exists():
        return None
    metrics = read_metrics(run_dir)
    train_rows = [m for m in metrics if m.get("kind") == "train" and float(m.get("sps", 0)) > 0]
    evals = [m for m in metrics if m.get("kind") == "eval"]
    if not evals:
        return None
    sps = sorted(float(m["sps"]) for m in train_rows) or [0.0]
    means = [float(m["eval_mean"]) for m in evals]
    return {"arm": arm, "description": ARMS[arm] + " (in progress)", "game": game, "seed": seed,
            "frames": int(max(int(m.get("step", 0)) for m in metrics)), "median_sps": sps[len(sps) // 2],
            "eval_steps": [m["step"] for m in evals], "eval_mean": means, "final_eval": means[-1],
            "best_eval": max(means), "run_dir": run_dir.name, "in_progress": True}


def write_results(results: list[dict], game: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = {"machine": platform.processor() or platform.machine(), "python": platform.python_version()}
    data = {"info": info, "results": results}
    (RESULTS / "minatar_memory.json").write_text(json.dumps(data, indent=1) + "\n")
    write_markdown(data, game)
    plot_runs([RUNS / r["run_dir"] for r in results], RESULTS / f"minatar_memory_{game}.png",
              title=f"Rainbow-LSTM (lstm) vs frame-stacked Rainbow (framestack), MinAtar {game}")


def write_markdown(data: dict, game: str) -> None:
    """minatar_memory.md from the results JSON's contents alone (``--report-only`` reads the recorded one)."""
    info, results = data["info"], data["results"]
    by = {r["arm"]: r for r in results}
    lines = [f"# Rainbow-LSTM against frame-stacked Rainbow on MinAtar {game}", "",
             f"Machine: {info['machine']}, Python {info['python']}; one torch thread per arm, both arms at once. "
             "Evaluation: 10 greedy episodes every 50,000 frames. Both arms learn 8 replayed steps per frame.", "",
             "| arm | frames | final eval | best eval | median SPS |", "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['description']} | {r['frames']:,} | {r['final_eval']:.1f} | {r['best_eval']:.1f} | "
                     f"{r['median_sps']:.0f} |")
    if "lstm" in by and "framestack" in by:
        lstm, fs = by["lstm"], by["framestack"]
        common = sorted(set(lstm["eval_steps"]) & set(fs["eval_steps"]))
        # Only when one arm is ahead: at both arms' last evaluation the table's final evals already say it.
        if common and not all(r["eval_steps"][-1] == common[-1] for r in (lstm, fs)):
            at = common[-1]
            le, fe = (r["eval_mean"][r["eval_steps"].index(at)] for r in (lstm, fs))
            lines += ["", f"At the last evaluation both arms reached ({int(at):,} frames): LSTM {le:.1f}, "
                      f"frame stack {fe:.1f}."]
    if "lstm" in by and "framestack" in by and not any(r.get("in_progress") for r in results):
        lines += ["", f"Final-eval ratio LSTM / frame stack: {lstm['final_eval'] / max(fs['final_eval'], 1e-9):.2f}; "
                  f"speed ratio (SPS): {lstm['median_sps'] / max(fs['median_sps'], 1e-9):.2f}."]
    (RESULTS / "minatar_memory.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="breakout")
    p.add_argument("--steps", type=int, default=500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default="lstm,framestack")
    p.add_argument("--arm", help="run this one arm in this process (used by the side-by-side launcher)")
    p.add_argument("--partial", action="store_true", help="write the results from the runs so far (no training)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown from benchmarks/results/minatar_memory.json (no runs)")
    args = p.parse_args()
    if args.report_only:
        # The recorded JSON alone, left as it is (the run directories are absent on a fresh clone); no plot, as its
        # training curves are not in the JSON.
        data = json.loads((RESULTS / "minatar_memory.json").read_text())
        write_markdown(data, next((r["game"] for r in data["results"]), args.game))
        return
    if args.partial:
        found = [r for r in (partial_result(a, args.game, args.steps, args.seed) for a in args.arms.split(","))
                 if r is not None]
        if not found:  # no run directories (a fresh clone): keep the recorded results rather than blank them
            sys.exit(f"no evaluations under {RUNS.relative_to(ROOT)} yet: results left as they are")
        write_results(found, args.game)
        return
    if args.arm:
        print(json.dumps(run_arm(args.arm, args.game, args.steps, args.seed)))
        return
    arms = args.arms.split(",")
    procs = [subprocess.Popen([sys.executable, __file__, "--arm", a, "--game", args.game, "--steps", str(args.steps),
                               "--seed", str(args.seed)]) for a in arms]
    codes = [proc.wait() for proc in procs]
    if any(codes):
        sys.exit(f"an arm failed (exit codes {codes}); rerun to resume")
    write_results([run_arm(a, args.game, args.steps, args.seed) for a in arms], args.game)


if __name__ == "__main__":
    main()
