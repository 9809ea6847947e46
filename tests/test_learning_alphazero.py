"""Learning test (slow): AlphaZero trained on tic-tac-toe for at most 10 minutes of this CPU never loses to
perfect minimax in 50 games as first and 50 as second player (greedy MCTS, no noise)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agents.bots import make_player
from envs.games import make_game
from runners.alphazero_player import load_player
from runners.config import LogConfig
from runners.selfplay_config import alphazero_tictactoe
from runners.selfplay_run import run_selfplay
from runners.tournament import play_match


@pytest.mark.slow
def test_tictactoe_never_loses_to_minimax(tmp_path: Path) -> None:
    cfg = alphazero_tictactoe()
    cfg = replace(cfg, selfplay=replace(cfg.selfplay, seed=0, time_limit_s=600.0, eval_every=0),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = run_selfplay(cfg, tmp_path)
    assert result.seconds <= 630.0
    game = make_game("tictactoe")
    az = load_player(tmp_path, game, simulations=None, seed=1)
    perfect = make_player("minimax", game, seed=2)
    w1, d1, l1 = play_match(game, az, perfect, 50, seed=3)  # alphazero moves first
    l2, d2, w2 = play_match(game, perfect, az, 50, seed=4)  # alphazero moves second
    assert w1 + w2 == 0  # nobody beats perfect play
    assert l1 == 0 and l2 == 0, f"lost {l1} as first and {l2} as second player (draws {d1}, {d2})"
