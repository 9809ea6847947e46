"""AlphaZero leagues in one process: opponent choice by role and PFSP, per-side search and targets, snapshots,
resets, exact resume, the CLI and its one-line errors."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.mcts import MCTS
from agents.alphazero.network import build_policy_value_net
from envs.games import make_game
from runners.api import run_league
from runners.cli.main import main
from runners.families.common import LogConfig
from runners.families.league import LEAGUE_PRESETS, LeagueConfig
from runners.league.trainer import LeagueTrainer
from runners.local.checkpoint import load
from runners.selfplay.trainer import play_games


def tiny(run_dir: Path, iterations: int = 2, league: dict[str, Any] | None = None, **selfplay: Any) -> LeagueConfig:
    """league-tictactoe shrunk to seconds: few games, few simulations, a short Elo evaluation against random."""
    cfg = LEAGUE_PRESETS["league-tictactoe"]()
    opts: dict[str, Any] = dict(iterations=iterations, games_per_iteration=4, train_steps_per_iteration=2,
                                min_positions=1, eval_every=2, eval_games=2, anchors=("random",),
                                eval_simulations=4, checkpoint_every=1)
    opts.update(selfplay)
    return replace(cfg, agent=replace(cfg.agent, batch_size=16), mcts=replace(cfg.mcts, num_simulations=6),
                   selfplay=replace(cfg.selfplay, **opts),
                   league=replace(cfg.league, **{"snapshot_every": 2, **(league or {})}),
                   log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False))


def test_each_side_searches_with_its_own_network_and_only_recorded_seats_are_targets() -> None:
    """Two searches, each with its own network: every position of player 0 was evaluated by player 0's network
    only, and only player 0's positions (its moves: ceil(length / 2) per game) become targets."""
    game = make_game("tictactoe")
    cfg = LEAGUE_PRESETS["league-tictactoe"]()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    nets = [build_policy_value_net(game, cfg.torso, cfg.agent.value_hidden).eval() for _ in range(2)]
    evals = [NetworkEvaluator(n) for n in nets]
    mine, theirs = (MCTS(replace(cfg.mcts, num_simulations=4), e, rng) for e in evals)
    sides = [(mine, theirs), (theirs, mine), (mine, theirs)]
    rec, stats, results = play_games(game, sides, 2, rng, recorded=[(True, False), (False, True), (True, False)])
    assert stats.games == 3 and results.shape == (3, 2) and len(rec) == stats.positions
    # Games are recorded in order: game 0's player-0 positions, game 1's player-1 ones, game 2's player-0 ones.
    blocks = [int(k) for k, _ in itertools.groupby(rec.player.tolist())]
    assert blocks == [0, 1, 0]
    # The empty board is player 0's first position: recorded in games 0 and 2, not in game 1.
    assert int((rec.obs.reshape(len(rec), -1).sum(1) == 0).sum()) == 2
    # Player 0 moves ceil(L / 2) times in a game of L moves, player 1 floor(L / 2): 3 games' totals bound them.
    total = stats.mean_length * 3
    assert (total - 3) / 2 <= len(rec) <= (total + 3) / 2
    # Both networks searched: each evaluator saw positions.
    assert evals[0].cache_misses > 0 and evals[1].cache_misses > 0


def test_learner_positions_count_only_its_own_moves(tmp_path: Path) -> None:
    """A main exploiter against the main: its positions are its moves alone (fewer than all moves of the games);
    the main's self-play games count every position."""
    trainer = LeagueTrainer(tiny(tmp_path, augment=False))
    main, exploiter = trainer.learners[0], trainer.learners[1]
    row = trainer.play_and_train(exploiter, main.name)
    n = row["games"]
    lengths_total = row["game_length"] * n
    assert row["positions"] < lengths_total
    # Half the games as first player (moves ceil(L/2)), half as second (floor(L/2)): between the bounds.
    assert (lengths_total - n) / 2 <= row["positions"] <= (lengths_total + n) / 2
    assert len(exploiter.buffer) == row["positions"]
    self_row = trainer.play_and_train(main, main.name)
    assert self_row["positions"] == round(self_row["game_length"] * self_row["games"])
    assert trainer.payoff.games(exploiter.name, main.name) == n and trainer.payoff.games(main.name, main.name) == 0


def test_snapshots_every_period_and_pfsp_picks_pool_members(tmp_path: Path) -> None:
    """Every snapshot_every iterations each learner adds one frozen copy; once the pool is non-empty the main
    agent plays its members through the PFSP branch."""
    no_early = {"exploiter_win_rate": 1.0}  # a win rate never exceeds 1: exploiters snapshot on the period only
    cfg = tiny(tmp_path, iterations=12, eval_every=0, league={"main_pfsp": 0.8, "main_selfplay": 0.2,
                                                              "main_vs_exploiters": 0.0, **no_early})
    trainer = LeagueTrainer(cfg)
    branches: list[tuple[str, str]] = []
    for it in range(1, 9):
        rows = trainer.iterate()
        expected = 3 * (it // 2)  # three learners, one snapshot each every 2 iterations
        assert len(trainer.pool) == expected, it
        if it % 2 == 0:
            assert {r["snapshot"] for r in rows} == {f"{x.name}@{it}" for x in trainer.learners}
        branches.append((rows[0]["branch"], rows[0]["opponent"]))
    pool_games = [(b, o) for b, o in branches[2:] if b == "pfsp"]  # iterations 3..8: the pool exists
    assert pool_games and all(o in trainer.pool for _, o in pool_games)
    assert all(b == "selfplay" for b, _ in branches[:2])  # an empty pool: self-play only
    for name in trainer.pool:
        assert name in trainer.payoff


def test_exploiter_resets_when_its_role_says_so(tmp_path: Path) -> None:
    """A win-rate threshold of 0 makes the main exploiter ready after its first games: it snapshots early and,
    as a main exploiter always does at a snapshot, returns to its initial weights with an empty window."""
    cfg = tiny(tmp_path, eval_every=0, league={"exploiter_win_rate": 0.0, "snapshot_every": 1000,
                                               "league_exploiters": 0})
    trainer = LeagueTrainer(cfg)
    exploiter = trainer.learners[1]
    rows = trainer.iterate()
    assert rows[1]["snapshot"] == "main_exploiter0@1" and rows[1]["reset"] is True
    assert "snapshot" not in rows[0]  # the main agent snapshots on the period only
    assert exploiter.role.num_resets == 1 and len(exploiter.buffer) == 0
    for k, v in exploiter.net.state_dict().items():
        assert torch.equal(v, exploiter.initial[k]), k
    frozen = trainer.pool["main_exploiter0@1"]
    assert any(not torch.equal(frozen[k], exploiter.initial[k]) for k in frozen)  # the snapshot kept its training


def test_checkpoint_holds_plain_types_and_resume_is_exact(tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_league(tiny(straight, iterations=5), straight)
    cfg = tiny(split, iterations=5)
    assert run_league(cfg, split, stop_at=3).iterations == 3
    second = run_league(cfg, split, resume=True)
    assert second.iterations == 5
    raw = torch.load(split / "checkpoints" / "latest.pt", weights_only=True)  # no pickled code
    assert raw["format"] == "arena-league-1"
    a, b = load(straight / "checkpoints" / "latest.pt")["trainer"], load(split / "checkpoints" / "latest.pt")["trainer"]
    for la, lb in zip(a["learners"], b["learners"], strict=True):
        for k, v in la["learner"]["network"].items():
            assert torch.equal(v, lb["learner"]["network"][k]), (la["name"], k)
        assert la["role"] == lb["role"] and la["steps"] == lb["steps"]
        assert np.array_equal(la["buffer"]["obs"], lb["buffer"]["obs"])
    assert [n for n, _ in a["pool"]] == [n for n, _ in b["pool"]]
    assert a["payoff"] == b["payoff"] and a["rng"] == b["rng"]
    rows = [json.loads(x) for x in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if r["kind"] == "iteration"] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("flags", "needle"), [
    (["--league.weighting", "hardest"], "invalid choice 'hardest'"),
    (["--league.main-agents", "0"], "--league.main-agents must be in [1, 64]"),
    (["--league.snapshot-every", "0"], "--league.snapshot-every must be in [1,"),
    (["--league.main-pfsp", "0.9"], "must sum to 1"),
    (["--runner", "ray", "--num-workers", "0"], "--num-workers must be >= 1"),
])
def test_bad_input_is_one_line_and_exit_2(flags: list[str], needle: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "bad"
    assert main(["league", "league-tictactoe", *flags, "--log.run-dir", str(run), "--log.wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "\n" not in err and needle in err, err
    assert not (run / "checkpoints").exists()


def test_cli_league_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "cli"
    tiny_flags = ["--selfplay.games-per-iteration", "2", "--mcts.num-simulations", "4", "--selfplay.eval-every", "2",
                  "--selfplay.eval-games", "2", "--selfplay.anchors", "random", "--selfplay.min-positions", "1",
                  "--selfplay.train-steps-per-iteration", "1", "--agent.batch-size", "8", "--league.snapshot-every",
                  "1", "--log.wandb", "off", "--log.no-progress"]
    assert main(["league", "league-tictactoe", "--selfplay.iterations", "2", *tiny_flags,
                 "--log.run-dir", str(run)]) == 0
    assert (run / "checkpoints" / "model.pt").is_file() and (run / "elo_curve.png").is_file()
    kinds = {json.loads(x)["kind"] for x in (run / "metrics.jsonl").read_text().splitlines()}
    assert kinds == {"learner", "iteration", "eval"}
    assert main(["league", "--resume", str(run), "--selfplay.iterations", "3"]) == 0
    assert load(run / "checkpoints" / "latest.pt")["trainer"]["iteration"] == 3
    capsys.readouterr()
    # A league's model.pt is a self-play model: tournaments take the main agent.
    assert main(["tournament", "--game", "tictactoe", f"alphazero:{run / 'checkpoints' / 'model.pt'}:4", "random",
                 "--games-per-pair", "2", "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    assert main(["selfplay", "--resume", str(run)]) == 2  # a league is resumed with arena league
    assert "arena league --resume" in capsys.readouterr().err
    assert main(["presets"]) == 0
    assert "arena league PRESET:" in capsys.readouterr().out


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_checkpoints_the_league_then_exits_128_plus_signum(tmp_path: Path, sig: int, code: int) -> None:
    run_dir = tmp_path / "run"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "runners.cli", "league", "--selfplay.iterations", "100000",
         "--selfplay.games-per-iteration", "2", "--mcts.num-simulations", "4", "--selfplay.eval-every", "0",
         "--selfplay.min-positions", "1", "--agent.batch-size", "8", "--selfplay.checkpoint-every", "0",
         "--log.wandb", "off", "--log.no-progress", "--log.run-dir", str(run_dir)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run_dir / "metrics.jsonl"
    end = time.monotonic() + 90
    while not (metrics.is_file() and '"kind": "iteration"' in metrics.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "the league did not start"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "interrupted: resume with arena league --resume" in err
    assert load(run_dir / "checkpoints" / "latest.pt")["trainer"]["iteration"] >= 1


def test_resume_refuses_a_different_league(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run_league(tiny(run, iterations=1, eval_every=0), run)
    capsys.readouterr()
    assert main(["league", "--resume", str(run), "--league.main-exploiters", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "arena: error: --league.main-exploiters cannot change on resume (saved 1, given 2)", err


def test_league_connect4_preset_runs(tmp_path: Path) -> None:
    cfg = LEAGUE_PRESETS["league-connect4"]()
    cfg = replace(cfg, agent=replace(cfg.agent, batch_size=8), mcts=replace(cfg.mcts, num_simulations=4),
                  selfplay=replace(cfg.selfplay, iterations=1, games_per_iteration=2, train_steps_per_iteration=1,
                                   min_positions=1, eval_every=0),
                  league=replace(cfg.league, snapshot_every=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = run_league(cfg, tmp_path)
    assert result.iterations == 1 and result.pool == 3 and result.games == 6
