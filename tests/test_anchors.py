"""Anchors that grow with the agent (runners/selfplay/anchors.py) and the league's Elo over time (league_elo.png):
a rung is added exactly when the margin is reached, grown anchors resume exactly, bad ladders are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from runners.api import run_league, run_selfplay
from runners.cli.main import main
from runners.local.checkpoint import load
from runners.selfplay.anchors import next_rung, rung_strength
from runners.selfplay.trainer import SelfPlayTrainer
from tests.test_league import tiny as tiny_league
from tests.test_selfplay import tiny as tiny_selfplay

LADDER = {"grow_anchors": "mcts:{n}", "grow_start": 2, "grow_factor": 2.0}  # rungs mcts:2, mcts:4, ...: cheap


def entry(vs: dict[str, list[int]], elo: dict[str, float]) -> dict[str, Any]:
    return {"vs": vs, "anchor_elo": elo}


def test_next_rung_needs_the_margin_against_the_strongest_anchor() -> None:
    anchors = ["random", "mcts:200", "minimax"]
    elo = {"random": 0.0, "mcts:200": 300.0, "minimax": 500.0}
    # 7/10 against minimax (the strongest) is short of 0.75, whatever the score against the weaker ones.
    short = entry({"random": [10, 0, 0], "mcts:200": [10, 0, 0], "minimax": [6, 2, 2]}, elo)
    enough = entry({"random": [10, 0, 0], "mcts:200": [5, 0, 5], "minimax": [7, 1, 2]}, elo)
    assert next_rung([short], "mcts:{n}", 100, 2.0, 0.75, anchors) is None
    # 7.5 / 10 reaches the margin; the ladder climbs past the fixed mcts:200 (100, 200 are not above it).
    assert next_rung([enough], "mcts:{n}", 100, 2.0, 0.75, anchors) == "mcts:400"
    assert next_rung([short, enough], "mcts:{n}", 100, 2.0, 0.75, anchors) == "mcts:400"  # any main agent
    assert next_rung([enough], "mcts:{n}", 100, 2.0, 0.75, [*anchors, "mcts:400"]) == "mcts:800"
    assert next_rung([enough], "", 100, 2.0, 0.75, anchors) is None  # no ladder: never grows
    assert next_rung([short], "openspiel-mcts:{n}", 50, 3.0, 0.0, anchors) == "openspiel-mcts:50"  # margin 0
    assert rung_strength("mcts:{n}", "mcts:64") == 64 and rung_strength("mcts:{n}", "minimax") is None
    assert rung_strength("openspiel-mcts:{n}", "mcts:64") is None


def test_a_rung_is_added_exactly_when_the_margin_is_reached(tmp_path: Path) -> None:
    """Margin 0: every evaluation adds the next rung, which plays the other anchors once (cached) and is rated on
    the one scale (random = 0). Margin 1 against perfect minimax (it never loses tic-tac-toe): never."""
    trainer = SelfPlayTrainer(tiny_selfplay("alphazero-tictactoe", tmp_path, grow_margin=0.0, **LADDER))
    first = trainer.evaluate()
    assert first is not None and first["added_anchor"] == "mcts:2" and trainer.grown_anchors == ["mcts:2"]
    assert set(first["vs"]) == {"random"}  # the new rung plays from the next evaluation on
    second = trainer.evaluate()
    assert second is not None and set(second["vs"]) == {"random", "mcts:2"}
    assert second["anchor_elo"]["random"] == 0.0 and set(second["anchor_elo"]) == {"random", "mcts:2"}
    assert {"random|mcts:2", "mcts:2|random"} <= set(trainer.anchor_results)
    assert trainer.grown_anchors == ["mcts:2", "mcts:4"] and second["added_anchor"] == "mcts:4"

    never = SelfPlayTrainer(tiny_selfplay("alphazero-tictactoe", tmp_path, anchors=("minimax",), grow_margin=1.0,
                                          **LADDER))
    for _ in range(2):
        e = never.evaluate()
        assert e is not None and "added_anchor" not in e
    assert never.grown_anchors == []


def test_grown_anchors_survive_checkpoint_and_resume_exactly(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    def cfg(run: Path) -> Any:
        return tiny_selfplay("alphazero-tictactoe", run, iterations=4, eval_every=1, grow_margin=0.0, **LADDER)

    straight, split = tmp_path / "straight", tmp_path / "split"
    run_selfplay(cfg(straight), straight)
    assert "anchors: added mcts:2" in capsys.readouterr().err
    run_selfplay(cfg(split), split, stop_at=2)
    raw = torch.load(split / "checkpoints" / "latest.pt", weights_only=True)  # plain types only
    assert raw["trainer"]["grown_anchors"] == ["mcts:2", "mcts:4"]
    run_selfplay(cfg(split), split, resume=True)
    a, b = load(straight / "checkpoints" / "latest.pt")["trainer"], load(split / "checkpoints" / "latest.pt")["trainer"]
    assert a["grown_anchors"] == b["grown_anchors"] == ["mcts:2", "mcts:4", "mcts:8", "mcts:16"]
    assert a["anchor_results"] == b["anchor_results"] and a["elo_history"] == b["elo_history"]
    for k, v in a["learner"]["network"].items():
        assert torch.equal(v, b["learner"]["network"][k]), k
    assert (split / "elo_curve.png").is_file()


def test_league_grows_anchors_and_plots_its_elo_over_time(tmp_path: Path) -> None:
    """Every fit of the league Elo is in the iteration rows (every learner and snapshot, rating and interval),
    league_elo.png is written, and the league's grown anchors resume exactly."""
    def cfg(run: Path) -> Any:
        return tiny_league(run, iterations=4, eval_every=2, grow_margin=0.0, **LADDER)

    straight, split = tmp_path / "straight", tmp_path / "split"
    run_league(cfg(straight), straight)
    run_league(cfg(split), split, stop_at=2)  # at an evaluation: a stop elsewhere evaluates (and grows) once more
    run_league(cfg(split), split, resume=True)
    a, b = load(straight / "checkpoints" / "latest.pt")["trainer"], load(split / "checkpoints" / "latest.pt")["trainer"]
    assert a["grown_anchors"] == b["grown_anchors"] == ["mcts:2", "mcts:4"]
    assert a["elo_history"] == b["elo_history"]
    for run in (straight, split):
        assert (run / "league_elo.png").is_file() and (run / "elo_curve.png").is_file()
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        fits = [r for r in rows if r["kind"] == "iteration"]
        assert [r["iteration"] for r in fits] == [1, 2, 3, 4]
        learners = {r["learner"] for r in rows if r["kind"] == "learner"}
        snapshots = {r["snapshot"] for r in rows if r["kind"] == "learner" and "snapshot" in r}
        assert learners == {"main0", "main_exploiter0", "league_exploiter0"} and len(snapshots) >= 6
        last = fits[-1]["league_elo"]
        assert set(last) == learners | snapshots
        assert last["main0"] == [0.0, 0.0]  # the first main agent anchors the league's scale
        assert all(len(v) == 2 and v[1] >= 0 for v in last.values())


@pytest.mark.parametrize(("flags", "needle"), [
    (["--selfplay.grow-anchors", "mcts"], "names its strength once as {n}"),
    (["--selfplay.grow-anchors", "mcts:{n}:{n}"], "names its strength once as {n}"),
    (["--selfplay.grow-anchors", "mcts:{m}"], "names its strength once as {n}"),
    (["--selfplay.grow-anchors", "mcts:{n"], "names its strength once as {n}"),
    (["--selfplay.grow-anchors", "alphazero:{n}"], "not a network"),
    (["--selfplay.grow-anchors", "stockfish:{n}"], "unknown player 'stockfish:"),
    (["--selfplay.grow-factor", "1"], "--selfplay.grow-factor must be"),
    (["--selfplay.grow-margin", "1.5"], "--selfplay.grow-margin must be in [0, 1]"),
])
@pytest.mark.parametrize("command", ["selfplay", "league"])
def test_bad_ladders_are_one_line_and_exit_2(command: str, flags: list[str], needle: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "bad"
    assert main([command, *flags, "--log.run-dir", str(run), "--log.wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "\n" not in err and needle in err, err
    assert not (run / "checkpoints").exists()


def test_league_elo_goes_to_an_offline_wandb_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The learners' league Elo as scalars, every fit as a table and league_elo.png, in an offline run (no network)."""
    from dataclasses import replace

    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = tiny_league(tmp_path, iterations=2, eval_every=0)
    run_league(replace(cfg, log=replace(cfg.log, wandb="offline")), tmp_path)
    offline = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    logged = b"".join(f.read_bytes() for f in offline[0].rglob("*.wandb"))
    for key in (b"league_elo/main0", b"league_elo_ci95/league_exploiter0", b"league/elo", b"league/elo_plot"):
        assert key in logged, key
