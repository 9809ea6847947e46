"""AlphaZero self-play runner: every preset runs, checkpoints resume exactly, bad input is one line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.alphazero.mcts import MCTS
from agents.alphazero.rollout import RandomRolloutEvaluator
from envs.games import make_game
from envs.games.base import GameState
from replay.types import GameRecord
from runners.api import run_selfplay
from runners.cli.main import main
from runners.families.common import LogConfig
from runners.families.selfplay import SELFPLAY_PRESETS, SelfPlayConfig
from runners.selfplay.trainer import augment, play_selfplay_games


def tiny(preset: str, run_dir: Path, iterations: int = 2, **selfplay: object) -> SelfPlayConfig:
    """``preset`` shrunk to seconds: few games, few simulations, a short Elo evaluation against random."""
    cfg = SELFPLAY_PRESETS[preset]()
    opts: dict[str, object] = dict(iterations=iterations, games_per_iteration=4, train_steps_per_iteration=3,
                                   min_positions=1, eval_every=2, eval_games=2, anchors=("random",),
                                   eval_simulations=4, checkpoint_every=1)
    opts.update(selfplay)
    agent = replace(cfg.agent, batch_size=16)
    return replace(cfg, agent=agent, mcts=replace(cfg.mcts, num_simulations=6),
                   selfplay=replace(cfg.selfplay, **opts),  # type: ignore[arg-type]
                   log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False))


def test_selfplay_positions_have_consistent_targets() -> None:
    game = make_game("tictactoe")
    rng = np.random.default_rng(0)
    mcts = MCTS(SELFPLAY_PRESETS["alphazero-tictactoe"]().mcts, RandomRolloutEvaluator(rng), rng)
    rec, stats = play_selfplay_games(game, mcts, 3, temperature_moves=2, rng=rng)
    assert stats.games == 3 and len(rec) == stats.positions
    assert np.allclose(rec.policy.sum(1), 1.0) and not (rec.policy * ~rec.legal_mask).any()
    assert set(np.unique(rec.value)) <= {-1.0, 0.0, 1.0}
    first = np.flatnonzero(rec.player == 0)
    assert np.all(rec.obs[first[0]] == 0)  # the first position is the empty board
    aug = augment(game, rec)
    assert len(aug) == 8 * len(rec)
    assert not (aug.policy * ~aug.legal_mask).any()  # masks are transformed like the policies


def test_random_opening_moves_spread_the_openings_and_keep_the_search_targets() -> None:
    """A network sure of one opening (all prior on the centre, no root noise, greedy) opens every game there;
    with ``random_moves=1`` the first move is uniform over the 9 cells, and the opening position still
    carries its searched visit distribution as the policy target."""
    game = make_game("tictactoe")

    class CentreEvaluator:
        def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
            masks = np.stack([s.legal_mask() for s in states]).astype(np.float32)  # [B, 9]
            priors = masks * np.where(np.arange(9) == 4, 1.0, 1e-3)
            return priors / priors.sum(1, keepdims=True), np.zeros(len(states), np.float32)

    def openings(random_moves: int) -> tuple[set[int], GameRecord]:
        rng = np.random.default_rng(0)
        cfg = replace(SELFPLAY_PRESETS["alphazero-tictactoe"]().mcts, num_simulations=8, dirichlet_epsilon=0.0)
        rec, _ = play_selfplay_games(game, MCTS(cfg, CentreEvaluator(), rng), 90, temperature_moves=0, rng=rng,
                                     random_moves=random_moves)
        empty = np.flatnonzero(rec.obs.reshape(len(rec), -1).sum(1) == 0)  # [90] each game's opening position
        assert len(empty) == 90
        # The position after the opening move has one stone, in the opponent's plane ([2, 3, 3]: mover first).
        return {int(np.flatnonzero(rec.obs[i + 1, 1].reshape(-1))[0]) for i in empty}, rec

    assert openings(0)[0] == {4}
    opened, rec = openings(1)
    assert opened == set(range(9))
    empty = np.flatnonzero(rec.obs.reshape(len(rec), -1).sum(1) == 0)
    assert np.allclose(rec.policy[empty].sum(1), 1.0) and (rec.policy[empty].argmax(1) == 4).all()  # searched



@pytest.mark.parametrize("preset", sorted(SELFPLAY_PRESETS))
def test_every_selfplay_preset_runs(preset: str, tmp_path: Path) -> None:
    result = run_selfplay(tiny(preset, tmp_path / preset), tmp_path / preset)
    assert result.iterations == 2 and result.last_elo is not None
    run = tmp_path / preset
    assert (run / "checkpoints" / "model.pt").is_file() and (run / "elo_curve.png").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in records}
    assert kinds == {"iteration", "eval"}
    it = [r for r in records if r["kind"] == "iteration"][-1]
    for key in ("loss", "policy_loss", "value_loss", "entropy", "value_error", "game_length", "positions_per_s"):
        assert key in it


def _params(run_dir: Path) -> dict[str, torch.Tensor]:
    from runners.local.checkpoint import load
    state = load(run_dir / "checkpoints" / "latest.pt")
    return state["trainer"]["learner"]["network"]


def test_resume_is_exact(tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    run_selfplay(tiny("alphazero-tictactoe", straight, iterations=4), straight)
    split = tmp_path / "split"
    cfg = tiny("alphazero-tictactoe", split, iterations=4)
    first = run_selfplay(cfg, split, stop_at=2)
    assert first.iterations == 2
    second = run_selfplay(cfg, split, resume=True)
    assert second.iterations == 4
    a, b = _params(straight), _params(split)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_gating_runs(tmp_path: Path) -> None:
    cfg = tiny("alphazero-tictactoe", tmp_path / "g", iterations=1, eval_every=0, gating=True, gate_games=2)
    run_selfplay(cfg, tmp_path / "g")
    it = json.loads((tmp_path / "g" / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0.0 <= it["gate_score"] <= 1.0


def test_cli_selfplay_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "cli"
    args = ["selfplay", "alphazero-tictactoe", "--selfplay.iterations", "1", "--selfplay.games-per-iteration", "2",
            "--mcts.num-simulations", "4", "--selfplay.eval-every", "0", "--selfplay.min-positions", "1",
            "--agent.batch-size", "8", "--log.wandb", "off", "--log.no-progress", "--log.run-dir", str(run)]
    assert main(args) == 0
    assert (run / "checkpoints" / "model.pt").is_file()
    capsys.readouterr()
    for bad, needle in [(["selfplay", "alphazero-tictactoe", "--game", "tictactoo"], "tictactoe"),
                        (["selfplay", "alphazero-chess"], "unknown self-play preset"),
                        (["selfplay", "--resume", str(tmp_path / "nothing")], "not an arena self-play run"),
                        (["tournament", "--game", "connect4", f"alphazero:{run}", "random"], "trained on tictactoe"),
                        (["tournament", "--game", "nosuchgame", "random", "minimax"], "nosuchgame")]:
        assert main(bad) == 2, bad
        err = capsys.readouterr().err.strip()
        assert err.startswith("arena: error:") and "\n" not in err and needle in err, (bad, err)


def test_an_evaluation_that_won_every_anchor_game_is_a_lower_bound(tmp_path: Path) -> None:
    from runners.selfplay.run import plot_elo, saturated

    won = {"iteration": 2, "games": 8, "elo": 1557.0, "elo_ci95": 600.0, "vs": {"random": [10, 0, 0]},
           "anchor_elo": {"random": 0.0}}
    drew = {**won, "iteration": 1, "games": 4, "vs": {"random": [9, 1, 0]}}
    assert saturated(won) and not saturated(drew)
    assert plot_elo([drew, won], tmp_path / "elo.png", "t") == tmp_path / "elo.png"


def test_a_signal_stops_the_elo_games_and_records_nothing(tmp_path: Path) -> None:
    """A signal during the Elo games (minutes with search-based anchors) ends them at the next turn; the
    unfinished evaluation is dropped, not logged with partial counts."""
    import signal

    from agents.bots import make_player
    from runners.local import signals
    from runners.selfplay.match import MatchStopped, play_match
    from runners.selfplay.trainer import SelfPlayTrainer

    game = make_game("tictactoe")
    with pytest.raises(MatchStopped):
        play_match(game, make_player("random", game, 0), make_player("random", game, 1), 4, seed=0,
                   stop=lambda: True)
    trainer = SelfPlayTrainer(tiny("alphazero-tictactoe", tmp_path))
    assert trainer.evaluate() is not None and len(trainer.elo_history) == 1
    with signals.deferred():
        signal.raise_signal(signal.SIGTERM)  # recorded, as in the run loop
        assert trainer.evaluate() is None
    assert len(trainer.elo_history) == 1
