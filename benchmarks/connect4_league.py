"""Connect Four: a league's main agent against plain self-play at equal compute, and how exploitable each is.

Trains ``alphazero-connect4`` (self-play) and ``league-connect4`` (main agent, main exploiter, league exploiter)
for the same wall time on this machine, one after the other with the same torch threads (resumable: rerunning
continues each run until its budget is spent). Then, with greedy search (each run's evaluation simulations, no
noise), half the games with each colour:

- the league's main against the self-play agent, head to head (``--games``);
- each against ``openspiel-mcts:1000`` (``--anchor-games``; the issue's target for the league main: >= 90%
  within 2 hours);
- ``arena exploit``: a fresh exploiter trained for ``--exploit-minutes`` against each final agent; its last
  score (wins + draws / 2) with a 95% Wilson interval. The less exploitable agent is the one whose exploiter
  scores lower.

Writes ``benchmarks/results/connect4_league.{json,md}``.

    .venv/bin/python benchmarks/connect4_league.py --minutes 120 --exploit-minutes 30
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `benchmarks` as a package when run as a script
from agents.bots import make_player  # noqa: E402
from agents.bots.base import Player  # noqa: E402
from benchmarks.connect4_strength import trained_seconds  # noqa: E402
from benchmarks.learning_robustness import cpu_model, git_commit  # noqa: E402
from envs.games import make_game  # noqa: E402
from envs.games.base import Game  # noqa: E402
from runners.api import run_league, run_selfplay  # noqa: E402
from runners.cli.main import main as arena  # noqa: E402
from runners.families.common import LogConfig  # noqa: E402
from runners.families.league import league_connect4  # noqa: E402
from runners.families.selfplay import alphazero_connect4  # noqa: E402
from runners.league.exploit import wilson  # noqa: E402
from runners.selfplay.match import play_match  # noqa: E402
from runners.selfplay.players import load_player  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def train(kind: str, run_dir: Path, minutes: float, seed: int) -> dict[str, Any]:
    """Train (or continue) ``kind`` ("selfplay" or "league") until ``minutes`` of wall time in all; its totals."""
    done = trained_seconds(run_dir)
    resume = (run_dir / "checkpoints" / "latest.pt").exists()
    log = LogConfig(run_dir=str(run_dir), wandb="off", progress=False)
    if done < minutes * 60:
        left = minutes * 60 - done
        if kind == "selfplay":
            cfg = alphazero_connect4()
            run_selfplay(replace(cfg, selfplay=replace(cfg.selfplay, seed=seed, time_limit_s=left, iterations=100_000),
                                 log=log), run_dir, resume=resume)
        else:
            lcfg = league_connect4()
            run_league(replace(lcfg, selfplay=replace(lcfg.selfplay, seed=seed, time_limit_s=left, iterations=100_000),
                               log=log), run_dir, resume=resume)
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    games = max((int(r["games"]) for r in rows if r["kind"] == "iteration"), default=0)
    return {"seconds": round(trained_seconds(run_dir), 1), "games": games,
            "iterations": max((int(r["iteration"]) for r in rows if r["kind"] == "iteration"), default=0)}


def both_colours(game: Game, a: Player, b: Player, games: int, seed: int) -> dict[str, Any]:
    """``a`` against ``b``, half the games with each colour: ``a``'s W / D / L, score and Wilson interval."""
    w1, d1, l1 = play_match(game, a, b, games // 2, seed)
    l2, d2, w2 = play_match(game, b, a, games - games // 2, seed + 1)
    wins, draws, losses = w1 + w2, d1 + d2, l1 + l2
    score = (wins + 0.5 * draws) / max(games, 1)
    return {"games": games, "wins": wins, "draws": draws, "losses": losses, "score": round(score, 4),
            "ci95": [round(x, 4) for x in wilson(score, games)], "as_first": [w1, d1, l1], "as_second": [w2, d2, l2]}


def exploit(target: Path, run_dir: Path, minutes: float, eval_games: int) -> dict[str, Any] | None:
    """``arena exploit TARGET`` for ``minutes`` (resumable); the exploiter's last evaluation."""
    left = minutes * 60 - (trained_seconds(run_dir) if (run_dir / "metrics.jsonl").exists() else 0.0)
    common = ["--time-limit-s", f"{max(left, 1.0):.0f}", "--eval-games", str(eval_games), "--log.wandb", "off",
              "--log.no-progress"]
    if (run_dir / "checkpoints" / "latest.pt").exists():
        if left > 1:
            arena(["exploit", "--resume", str(run_dir), *common])
    else:
        arena(["exploit", str(target), "--budget", "100000", "--eval-every", "10", *common, "--log.run-dir",
               str(run_dir)])
    evals = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in evals if e["kind"] == "eval"]
    return evals[-1] if evals else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=120.0, help="training wall time of each agent")
    p.add_argument("--exploit-minutes", type=float, default=30.0, help="training wall time of each exploiter")
    p.add_argument("--games", type=int, default=200, help="head-to-head games (half with each colour)")
    p.add_argument("--anchor-games", type=int, default=50, help="games against the anchor (slow: 1,000 rollouts)")
    p.add_argument("--anchor", default="openspiel-mcts:1000")
    p.add_argument("--exploit-eval-games", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs/bench-connect4-league"))
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON and markdown go")
    args = p.parse_args()
    torch.set_num_threads(1)
    runs = {"selfplay": args.runs / "selfplay", "league": args.runs / "league"}
    training = {kind: train(kind, run_dir, args.minutes, args.seed) for kind, run_dir in runs.items()}
    game = make_game("connect4")
    league_main = load_player(runs["league"], game, simulations=None, seed=11)
    selfplay = load_player(runs["selfplay"], game, simulations=None, seed=12)
    head = both_colours(game, league_main, selfplay, args.games, 1_000)
    print("league main vs self-play:", head, flush=True)
    anchors = {kind: both_colours(game, load_player(run_dir, game, None, seed=20 + k),
                                  make_player(args.anchor, game, 30 + k), args.anchor_games, 2_000 + 10 * k)
               for k, (kind, run_dir) in enumerate(runs.items())}
    print("against", args.anchor, anchors, flush=True)
    exploiters = {kind: exploit(run_dir, args.runs / f"exploit-{kind}", args.exploit_minutes, args.exploit_eval_games)
                  for kind, run_dir in runs.items()}
    data = {"machine": f"{cpu_model()}, Python {platform.python_version()}, torch {torch.__version__}",
            "commit": git_commit(), "minutes": args.minutes, "exploit_minutes": args.exploit_minutes,
            "training": training, "head_to_head": head, "anchor": args.anchor, "vs_anchor": anchors,
            "exploiters": exploiters, "date": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "connect4_league.json").write_text(json.dumps(data, indent=1) + "\n")
    write_markdown(data, args.out)


def write_markdown(data: dict[str, Any], out: Path) -> None:
    def fmt(r: dict[str, Any] | None) -> str:
        if r is None:
            return "-"
        lo, hi = r["ci95"]
        return f"{r.get('score', r.get('win_rate', 0.0)):.3f} [{lo:.3f}, {hi:.3f}]"

    h, t = data["head_to_head"], data["training"]
    lines = ["# Connect Four: league main against plain self-play at equal compute", "",
             f"{data['machine']}; commit {data['commit']}. Written by `benchmarks/connect4_league.py`. Each agent "
             f"trained {data['minutes']:g} minutes of wall time, one after the other, one torch thread; greedy "
             "search with each run's evaluation simulations; scores are wins + draws / 2 with 95% Wilson intervals.",
             "", "| agent | games trained | iterations | vs " + data["anchor"] + " | its exploiter's score "
             f"({data['exploit_minutes']:g} min) |", "|---|---:|---:|---|---|"]
    for kind in ("selfplay", "league"):
        lines.append(f"| {kind} | {t[kind]['games']:,} | {t[kind]['iterations']:,} | {fmt(data['vs_anchor'][kind])} "
                     f"| {fmt(data['exploiters'][kind])} |")
    lines += ["", f"League main against self-play, {h['games']} games: W/D/L {h['wins']}/{h['draws']}/{h['losses']}, "
              f"score {fmt(h)}.", "",
              "Target: the league main wins >= 90% against openspiel-mcts:1000 within 2 hours, and is the less "
              "exploitable of the two."]
    (out / "connect4_league.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
