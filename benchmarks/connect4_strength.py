"""Connect Four strength of arena's AlphaZero after a bounded training time on this CPU.

Trains the ``alphazero-connect4`` preset for ``--minutes`` of wall time (resumable: rerunning continues
the run in ``--run-dir`` until the budget is spent), then plays ``--games`` games (half with each colour)
against each opponent: OpenSpiel's MCTSBot with random rollouts at 200 and 1,000 simulations, and
arena's depth-limited alpha-beta ``minimax``. Writes ``benchmarks/results/connect4_strength.{json,md}``
and the Elo curve over training (``connect4_elo.png``).

    python benchmarks/connect4_strength.py --minutes 120
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from agents.bots import make_player
from envs.games import make_game
from runners.api import run_selfplay
from runners.families.common import LogConfig
from runners.families.selfplay import alphazero_connect4
from runners.selfplay.match import play_match
from runners.selfplay.players import load_player

RESULTS = Path(__file__).parent / "results"


def trained_seconds(run_dir: Path) -> float:
    """Wall seconds of training so far, summed over resumed sessions (from metrics.jsonl)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0.0
    total, last = 0.0, 0.0
    for line in path.read_text().splitlines():
        t = json.loads(line)["time"]
        if t < last:  # a resumed session restarts the clock
            total += last
        last = t
    return total + last


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=120.0, help="training budget (wall time)")
    p.add_argument("--run-dir", default="runs/bench-connect4")
    p.add_argument("--games", type=int, default=100, help="games against each opponent (half each colour)")
    p.add_argument("--opponents", default="openspiel-mcts:200,openspiel-mcts:1000,minimax")
    p.add_argument("--simulations", type=int, default=0, help="AlphaZero simulations per move (0: the preset's)")
    p.add_argument("--skip-training", action="store_true")
    args = p.parse_args()
    run_dir = Path(args.run_dir)
    cfg = alphazero_connect4()
    done = trained_seconds(run_dir)
    if not args.skip_training and done < args.minutes * 60:
        cfg = replace(cfg, selfplay=replace(cfg.selfplay, time_limit_s=args.minutes * 60 - done, iterations=100_000),
                      log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False))
        run_selfplay(cfg, run_dir, resume=(run_dir / "checkpoints" / "latest.pt").exists())
    seconds = trained_seconds(run_dir)
    history = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    iters = [h for h in history if h["kind"] == "iteration"]
    elo = [h for h in history if h["kind"] == "eval"]

    torch.set_num_threads(1)
    game = make_game("connect4")
    sims = args.simulations or cfg.mcts.num_simulations
    rows: list[dict[str, Any]] = []
    for k, spec in enumerate(args.opponents.split(",")):
        az = load_player(run_dir, game, sims, seed=10 + k)
        bot = make_player(spec, game, seed=100 + k)
        t0 = time.perf_counter()
        w1, d1, l1 = play_match(game, az, bot, args.games // 2, seed=1_000 + k)
        l2, d2, w2 = play_match(game, bot, az, args.games - args.games // 2, seed=2_000 + k)
        n = args.games
        rows.append({"opponent": spec, "games": n, "wins": w1 + w2, "draws": d1 + d2, "losses": l1 + l2,
                     "win_rate": (w1 + w2) / n, "score": (w1 + w2 + 0.5 * (d1 + d2)) / n,
                     "as_first": [w1, d1, l1], "as_second": [w2, d2, l2],
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)

    RESULTS.mkdir(exist_ok=True)
    if (run_dir / "elo_curve.png").exists():
        shutil.copy(run_dir / "elo_curve.png", RESULTS / "connect4_elo.png")
    out = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                       "python": platform.python_version(), "torch": torch.__version__,
                       "cpus": __import__("os").cpu_count()},
           "config": json.loads((run_dir / "config.json").read_text()),
           "training": {"seconds": round(seconds, 1), "iterations": len(iters),
                        "games": int(iters[-1]["games"]) if iters else 0,
                        "positions": int(iters[-1]["positions"]) if iters else 0},
           "alphazero_simulations": sims, "results": rows,
           "elo_curve": [{"games": e["games"], "elo": e["elo"], "ci95": e["elo_ci95"], "vs": e["vs"]} for e in elo],
           "target": ">= 90% wins against openspiel-mcts:1000"}
    (RESULTS / "connect4_strength.json").write_text(json.dumps(out, indent=2) + "\n")
    md = ["# Connect Four strength of arena AlphaZero", "",
          f"Machine: {out['machine']['processor']}, {out['machine']['cpus']} cores, Python {out['machine']['python']}, "
          f"torch {out['machine']['torch']} (CPU, one thread). Training: preset `alphazero-connect4` "
          f"({cfg.torso.channels}x{cfg.torso.blocks} ResNet, {cfg.mcts.num_simulations} simulations), "
          f"{seconds / 60:.0f} minutes of wall time, {out['training']['games']:,} self-play games, "
          f"{out['training']['positions']:,} positions (after symmetry augmentation). "
          f"Evaluation: greedy MCTS with {sims} simulations, no noise; {args.games} games per opponent, half "
          "with each colour. Produced by `python benchmarks/connect4_strength.py`.", "",
          "| opponent | wins | draws | losses | win rate | as first (W/D/L) | as second (W/D/L) |",
          "|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        md.append(f"| {r['opponent']} | {r['wins']} | {r['draws']} | {r['losses']} | {r['win_rate']:.0%} | "
                  f"{'/'.join(map(str, r['as_first']))} | {'/'.join(map(str, r['as_second']))} |")
    md += ["", "Target: >= 90% wins against `openspiel-mcts:1000` after at most 2 hours of training. "
           "The Elo curve over training (anchors: random = 0, mcts:200, minimax) is `connect4_elo.png`."]
    (RESULTS / "connect4_strength.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
