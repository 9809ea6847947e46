"""Tournaments end to end: matches, round robins, outputs, the CLI commands and ``arena play``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.bots import RandomPlayer, make_player
from envs.games import GameError, TicTacToe
from runners.cli.main import main
from runners.cli.parse import UsageError
from runners.cli.play import cmd_play, play_game
from runners.cli.tournament import cmd_tournament
from runners.selfplay.match import play_match
from runners.selfplay.players import resolve_player
from runners.selfplay.report import log_to_wandb, write_outputs
from runners.selfplay.tournament import round_robin


def test_play_match_counts_and_reproducibility() -> None:
    game = TicTacToe()
    w, d, l = play_match(game, RandomPlayer(0), RandomPlayer(1), 50, seed=3)
    assert w + d + l == 50 and w > l  # moving first is an advantage
    assert play_match(game, RandomPlayer(5), RandomPlayer(6), 50, seed=3) == (w, d, l)  # reseeded by the match
    finished: list[int] = []
    play_match(game, RandomPlayer(0), RandomPlayer(1), 7, seed=0, on_game_end=finished.append)
    assert sum(finished) == 7


def test_round_robin_three_bots(tmp_path: Path) -> None:
    game = TicTacToe()
    specs = ["random", "minimax", "mcts:25"]
    players = {s: make_player(s, game, i) for i, s in enumerate(specs)}
    result = round_robin(game, players, 10, seed=0, progress=False)
    assert result.names == tuple(specs)
    games = result.wins + result.wins.T + result.draws
    assert (games[~np.eye(3, dtype=bool)] == 10).all()
    # Both colours: 5 games each way, and the per-colour results add up to the totals.
    np.testing.assert_array_equal(result.as_first.sum(axis=2)[~np.eye(3, dtype=bool)], 5)
    np.testing.assert_array_equal(result.as_first[..., 0] + result.as_first[..., 2].T, result.wins)
    i_min = specs.index("minimax")
    assert result.wins[:, i_min].sum() == 0  # minimax never loses
    assert result.elo.order()[0] == i_min
    assert result.elo.ratings[specs.index("random")] == 0.0

    json_path, png_path = write_outputs(result, tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert data["players"] == specs and data["games_per_pair"] == 10 and data["seed"] == 0
    assert max(data["elo"]["ratings"], key=data["elo"]["ratings"].get) == "minimax"
    assert data["as_first"]["minimax"]["random"][2] == 0
    assert png_path.stat().st_size > 10_000 and png_path.read_bytes()[:4] == b"\x89PNG"


def test_cmd_tournament_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t"
    code = cmd_tournament(["--game", "tictactoe", "random", "minimax:2", "--games-per-pair", "4", "--seed", "1",
                           "--out", str(out), "--no-progress"])
    assert code == 0
    assert (out / "results.json").is_file() and (out / "tournament.png").is_file()
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["players"] == ["random", "minimax:2"] and data["config"]["seed"] == 1
    printed = capsys.readouterr().out
    assert "Elo" in printed and "minimax:2" in printed


def test_console_tables_show_whole_names_on_a_narrow_terminal() -> None:
    """Long player specs are never cut: the matrix uses P1..Pk with a legend, and the ranking's names wrap."""
    from rich.console import Console

    from runners.selfplay.report import print_results

    game = TicTacToe()
    long_a = "openspiel-mcts:1000"
    players = {spec: make_player(spec, game, k) for k, spec in enumerate(["random", "minimax:2", long_a])}
    result = round_robin(game, players, 2, seed=0, progress=False)
    buf = io.StringIO()
    print_results(result, Console(file=buf, width=60))
    text = buf.getvalue()
    assert "…" not in text
    assert "P3" in text and long_a in "".join(text.split())  # the legend gives the whole name (maybe wrapped)


def test_tournament_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(GameError, match="unknown game"):
        cmd_tournament(["--game", "chezz", "random", "minimax", "--out", str(tmp_path)])
    with pytest.raises(GameError, match="unknown player 'minimx'"):
        cmd_tournament(["--game", "tictactoe", "random", "minimx", "--out", str(tmp_path)])
    with pytest.raises(UsageError, match="at least two"):
        cmd_tournament(["--game", "tictactoe", "random"])
    with pytest.raises(GameError, match="alphazero:CHECKPOINT"):
        resolve_player("alphazero:", TicTacToe(), 0)
    # Through the CLI: one line, exit code 2.
    assert main(["tournament", "--game", "tictactoe", "random", "bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error: unknown player 'bogus'") and "\n" not in err


def test_log_to_wandb_with_a_run() -> None:
    class FakeRun:
        def __init__(self) -> None:
            self.logged: dict[str, Any] = {}
            self.summary: dict[str, Any] = {}

        def log(self, record: dict[str, Any]) -> None:
            self.logged.update(record)

    game = TicTacToe()
    result = round_robin(game, {"random": RandomPlayer(0), "minimax": make_player("minimax", game, 1)}, 2, 0,
                         progress=False)
    run = FakeRun()
    assert log_to_wandb(result, run)
    assert {"tournament/elo", "tournament/results"} <= set(run.logged)
    assert set(run.summary) == {"tournament/elo/random", "tournament/elo/minimax"}


def test_play_game_with_fake_stdin() -> None:
    game = TicTacToe()
    # Unreadable, then every cell in order: the taken ones are refused, and the game goes on to its end.
    moves = "z9\n\n" + "".join(f"{c}{r}\n" for r in "123" for c in "abc")
    out = io.StringIO()
    result = play_game(game, make_player("minimax", game, 0), True, io.StringIO(moves), out)
    text = out.getvalue()
    assert result in (0, -1)  # nobody beats minimax
    # The prompt has no newline (the person's typing ends it), so a message follows it on the same line here.
    illegal = [line[line.index("illegal move"):] for line in text.splitlines() if "illegal move" in line]
    assert len(illegal) >= 2 and all(m.startswith("illegal move: ") for m in illegal)
    assert "'z9'" in illegal[0]
    assert text.rstrip().endswith(("draw", "minimax wins"))


def test_cmd_play_reads_stdin_and_quits_on_eof(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("b2\nb2\n"))
    assert cmd_play(["--game", "tictactoe", "random", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "illegal move:" in out and out.rstrip().endswith("quit")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cmd_play(["--game", "connect4", "minimax:2", "--no-human-first"]) == 0
    assert "minimax:2 plays" in capsys.readouterr().out
    with pytest.raises(GameError):
        cmd_play(["--game", "tictactoe", "nobody"])
