"""MinAtar learning curves: arena's DQN and Rainbow presets on Breakout and SpaceInvaders.

Reference: Young & Tian 2019 (MinAtar), DQN after 5M frames, read off the paper's plots: about 10
on Breakout and 43 on SpaceInvaders. MinAtar has no frame skip, so frames == agent steps.

Usage: python benchmarks/minatar_learning.py [--steps 500000] [--runs dqn:breakout,rainbow:breakout,...]
Each finished run adds itself to benchmarks/results/minatar_learning.json (runs are long: one at a
time, one torch thread), and the markdown table and the PNG are rewritten from all finished runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.api import train  # noqa: E402
from runners.families.common import LogConfig  # noqa: E402
from runners.families.registry import PRESETS  # noqa: E402
from runners.local.plot import curves, plot_runs, read_metrics  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PAPER_DQN_5M = {"breakout": 10.0, "space_invaders": 43.0}


def run_one(algo: str, game: str, steps: int, train_every: int | None, seed: int, runs_dir: Path) -> dict:
    cfg = PRESETS[f"{algo}-minatar"]()
    runner = replace(cfg.runner, total_steps=steps, eval_every=50_000, eval_episodes=10, seed=seed,
                     torch_threads=1, checkpoint_every=100_000)
    if train_every is not None:
        runner = replace(runner, train_every=train_every)
    run_dir = runs_dir / f"{algo}-{game}-s{seed}"
    cfg = replace(cfg, env=replace(cfg.env, id=f"minatar:{game}"), runner=runner,
                  log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=10_000))
    t0 = time.perf_counter()
    resume = (run_dir / "checkpoints" / "latest.pt").exists()
    train(cfg, run_dir, resume=resume)
    _, _, ev_steps, ev_mean, ev_std = curves(read_metrics(run_dir))
    target = PAPER_DQN_5M[game]
    reached = [int(s) for s, m in zip(ev_steps, ev_mean, strict=True) if m >= target]
    return {"algo": algo, "game": game, "seed": seed, "steps": steps, "train_every": runner.train_every,
            "seconds": round(time.perf_counter() - t0, 1), "eval_steps": ev_steps.tolist(),
            "eval_mean": ev_mean.tolist(), "eval_std": ev_std.tolist(), "final_eval": float(ev_mean[-1]),
            "best_eval": float(ev_mean.max()), "paper_dqn_5m": target,
            "first_step_at_paper_score": reached[0] if reached else None, "run_dir": run_dir.name}


def write_tables(results: list[dict], runs_dir: Path) -> None:
    lines = ["# MinAtar learning (arena)", "",
             f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}; "
             "one torch thread per run. Evaluation: 10 episodes, greedy, every 50,000 steps.", "",
             "| agent | game | frames | updates every | final eval | best eval | paper DQN @ 5M | reached at |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        at = f"{r['first_step_at_paper_score']:,}" if r["first_step_at_paper_score"] else "not reached"
        lines.append(f"| {r['algo']} | {r['game']} | {r['steps']:,} | {r['train_every']} | {r['final_eval']:.1f} | "
                     f"{r['best_eval']:.1f} | {r['paper_dqn_5m']:.0f} | {at} |")
    (RESULTS / "minatar_learning.md").write_text("\n".join(lines) + "\n")
    for game in sorted({r["game"] for r in results}):
        dirs = [runs_dir / r["run_dir"] for r in results if r["game"] == game]
        plot_runs(dirs, RESULTS / f"minatar_{game}.png", title=f"MinAtar {game}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500_000)
    p.add_argument("--runs", default="dqn:breakout,rainbow:breakout,dqn:space_invaders,rainbow:space_invaders")
    p.add_argument("--train-every", type=int, default=None, help="override the presets' update cadence")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", default=str(ROOT / "runs" / "bench-minatar"))
    a = p.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "minatar_learning.json"
    data = json.loads(out.read_text()) if out.exists() else {"results": []}
    for spec in a.runs.split(","):
        algo, game = spec.split(":")
        r = run_one(algo, game, a.steps, a.train_every, a.seed, Path(a.runs_dir))
        data["results"] = [x for x in data["results"] if (x["algo"], x["game"]) != (algo, game)] + [r]
        out.write_text(json.dumps(data, indent=1) + "\n")
        write_tables(data["results"], Path(a.runs_dir))
        print(f"{algo} {game}: final {r['final_eval']:.1f}, best {r['best_eval']:.1f} in {r['seconds']:.0f}s",
              flush=True)


if __name__ == "__main__":
    main()
