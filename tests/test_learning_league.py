"""Learning test (slow): the league-tictactoe preset (a fixed number of iterations, about two minutes on a 2-core
machine) gives a main agent that never loses a game of tic-tac-toe, as first or as second player, against any
line of play (greedy MCTS with the preset's evaluation simulations, no noise; every opponent move is tried, so
this covers perfect minimax and every blunder), as tests/test_learning_alphazero.py checks self-play's network.

The run is bounded by iterations, not wall time, so a loaded machine takes longer but learns the same thing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from envs.games import make_game
from runners.api import run_league
from runners.families.common import LogConfig
from runners.families.league import league_tictactoe
from runners.selfplay.players import load_player
from tests.helpers import lines_lost


@pytest.mark.slow
def test_league_main_never_loses_against_any_line(tmp_path: Path, learning_seed: int,
                                                  learning_report: dict[str, object]) -> None:
    cfg = league_tictactoe()
    assert cfg.selfplay.time_limit_s == 0.0  # iterations bound the run
    cfg = replace(cfg, selfplay=replace(cfg.selfplay, seed=learning_seed, eval_every=0),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = run_league(cfg, tmp_path)
    assert result.iterations == cfg.selfplay.iterations
    game = make_game("tictactoe")
    main = load_player(tmp_path, game, simulations=None, seed=1)  # model.pt: the main agent, as self-play's
    (lost_first, lines_first), (lost_second, lines_second) = lines_lost(main, game, 0), lines_lost(main, game, 1)
    learning_report.update(losses=[lost_first, lost_second], lines=[lines_first, lines_second],
                           seconds=round(result.seconds, 1))
    assert lost_first == 0 and lost_second == 0, \
        f"lost {lost_first} of {lines_first} lines as first and {lost_second} of {lines_second} as second player"
