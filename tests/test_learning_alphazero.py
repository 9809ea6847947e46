"""Learning test (slow): the alphazero-tictactoe preset (a fixed number of iterations, a few minutes on a
2-core machine) never loses a game of tic-tac-toe, as first or as second player, against any line of play
(greedy MCTS with the preset's evaluation simulations, no noise; every opponent move is tried, so this covers
perfect minimax and every blunder).

The run is bounded by iterations, not wall time, so a loaded machine takes longer but learns the same thing;
benchmarks/results/learning_robustness.md has this test on 5 seeds under two CPU kernel sets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from envs.games import make_game
from runners.api import run_selfplay
from runners.families.common import LogConfig
from runners.families.selfplay import alphazero_tictactoe
from runners.selfplay.players import load_player
from tests.helpers import lines_lost


@pytest.mark.slow
def test_tictactoe_never_loses_against_any_line(tmp_path: Path, learning_seed: int,
                                                learning_report: dict[str, object]) -> None:
    cfg = alphazero_tictactoe()
    assert cfg.selfplay.time_limit_s == 0.0  # iterations bound the run
    cfg = replace(cfg, selfplay=replace(cfg.selfplay, seed=learning_seed, eval_every=0),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = run_selfplay(cfg, tmp_path)
    assert result.iterations == cfg.selfplay.iterations
    game = make_game("tictactoe")
    az = load_player(tmp_path, game, simulations=None, seed=1)  # the preset's evaluation simulations
    (lost_first, lines_first), (lost_second, lines_second) = lines_lost(az, game, 0), lines_lost(az, game, 1)
    learning_report.update(losses=[lost_first, lost_second], lines=[lines_first, lines_second],
                           seconds=round(result.seconds, 1))
    assert lost_first == 0 and lost_second == 0, \
        f"lost {lost_first} of {lines_first} lines as first and {lost_second} of {lines_second} as second player"
