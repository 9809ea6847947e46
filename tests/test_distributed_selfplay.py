"""AlphaZero self-play on Ray: flags and one-line errors, then on a local Ray instance (num_cpus=2): a short
tic-tac-toe job with two workers trains, checkpoints and resumes (on Ray and in one process); synchronous
play with gating; and (slow) learning tic-tac-toe."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray
import torch

from agents.bots import make_player
from agents.errors import RunAbortedError
from envs.games import make_game
from runners.api import run_selfplay
from runners.cli.main import main
from runners.distributed.pool import WorkerLostError, WorkerPool
from runners.distributed.selfplay import RaySelfPlayTrainer, run_selfplay_ray
from runners.families.common import LogConfig
from runners.families.distributed import OnPolicyRayConfig
from runners.families.selfplay import SelfPlayConfig, alphazero_tictactoe
from runners.local.checkpoint import load
from runners.selfplay.match import play_match
from runners.selfplay.players import load_player
from tests.helpers import lines_lost
from tests.test_selfplay import tiny

RAY = OnPolicyRayConfig(kind="ray", num_workers=2, status_every=0)


def tiny_ray(run_dir: Path, iterations: int, **selfplay: object) -> SelfPlayConfig:
    """``tiny`` tic-tac-toe on two Ray workers, two games each per iteration."""
    opts: dict[str, object] = {"games_per_iteration": 4, "eval_every": 0, **selfplay}
    return replace(tiny("alphazero-tictactoe", run_dir, iterations=iterations, **opts), distributed=RAY)


def records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


# --- flags and one-line errors (refused before Ray starts) --------------------------------------------------
@pytest.mark.parametrize("cmd,args,message", [
    ("selfplay", ["alphazero-tictactoe", "--runner", "ray", "--num-workers", "0"], "--num-workers must be >= 1"),
    ("selfplay", ["alphazero-tictactoe", "--runner", "ray", "--ray-address", "127.0.0.1:9"],
     "no Ray cluster reachable"),
    ("train", ["alphazero-tictactoe", "--runner", "ray"], "use arena selfplay alphazero-tictactoe --runner ray"),
])
def test_bad_input_is_one_line(cmd: str, args: list[str], message: str, tmp_path: Path,
                               capfd: pytest.CaptureFixture[str]) -> None:
    assert main([cmd, *args, "--log.run-dir", str(tmp_path / "run"), "--log.wandb", "off"]) == 2
    err = capfd.readouterr().err.strip()  # file descriptor 2 too: Ray's C++ core logs past sys.stderr
    assert err.startswith("arena: error:") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


# --- on a local Ray instance ------------------------------------------------------------------------------
def test_two_workers_train_checkpoint_and_resume(local_ray: None, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_ray(tmp_path, iterations=5, eval_every=5)
    first = run_selfplay(cfg, tmp_path, stop_at=3)
    assert first.iterations == 3 and first.games == 12 and not first.interrupted
    its = records(tmp_path, "iteration")
    assert [r["games"] for r in its] == [4, 8, 12]
    last = its[-1]
    assert last["dist/learner_updates"] == 9  # 3 steps per iteration, from the first one (min_positions 1)
    # Both workers' games arrived: an iteration needs one batch (2 games) from each, and a worker may already
    # have delivered its next batch (one-step-off) by the time the iteration is logged.
    assert 6 <= last["dist/games_w0"] <= 8 and 6 <= last["dist/games_w1"] <= 8
    assert last["dist/version_w0"] > 0 and last["dist/version_w1"] > 0  # workers pulled newer parameters
    for key in ("loss", "policy_loss", "value_loss", "positions", "positions_per_s", "dist/policy_lag"):
        assert key in last, key
    assert max(r["dist/policy_lag_max"] for r in its) <= 3  # one-step-off: games lag one iteration at most

    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["runner"] == "ray" and saved["iteration"] == 3 and saved["learner"]["version"] == 9
    assert saved["buffer"]["added"] == last["positions"] > 0
    seen: dict[str, Any] = {}
    restore = RaySelfPlayTrainer.load_state_dict

    def check_restore(self: RaySelfPlayTrainer, state: dict[str, Any]) -> None:  # look inside the resumed run
        restore(self, state)
        seen.update(ray.get(self.learner_actor.state_dict.remote()), iteration=self.iteration, games=self.games)

    monkeypatch.setattr(RaySelfPlayTrainer, "load_state_dict", check_restore)
    second = run_selfplay(cfg, tmp_path, resume=True)
    assert seen["iteration"] == 3 and seen["games"] == 12
    assert seen["learner"]["version"] == 9 and seen["buffer"]["added"] == saved["buffer"]["added"]
    for k, v in saved["learner"]["network"].items():
        assert torch.equal(seen["learner"]["network"][k], v), k
    assert second.iterations == 5 and second.games == 20 and second.last_elo is not None
    assert records(tmp_path, "iteration")[-1]["dist/learner_updates"] == 15
    # The model is an ordinary self-play checkpoint: tournaments and arena play load it.
    game = make_game("tictactoe")
    player = load_player(tmp_path, game, simulations=4, seed=0)
    assert sum(play_match(game, player, make_player("random", game, seed=1), 2, seed=2)) == 2
    # A Ray checkpoint holds the single-process layout: it resumes in one process too.
    local = replace(cfg, selfplay=replace(cfg.selfplay, iterations=6), distributed=OnPolicyRayConfig())
    assert run_selfplay(local, tmp_path, resume=True).iterations == 6


def test_synchronous_play_with_gating(local_ray: None, tmp_path: Path) -> None:
    # max-policy-lag 0: no game starts while the learner updates; gate-win-rate 0: every candidate is adopted,
    # so every batch is played with the newest parameters.
    cfg = tiny_ray(tmp_path, iterations=3, gating=True, gate_games=2, gate_win_rate=0.0)
    cfg = replace(cfg, distributed=replace(RAY, max_policy_lag=0))
    result = run_selfplay(cfg, tmp_path)
    assert result.iterations == 3
    its = records(tmp_path, "iteration")
    assert all("gate_score" in r for r in its)
    assert [r["dist/policy_lag_max"] for r in its] == [0, 0, 0]
    assert its[-1]["dist/version_w0"] == its[-1]["dist/version_w1"] == 6


# --- learning (slow) ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_selfplay_learns_tictactoe(local_ray: None, tmp_path: Path, learning_seed: int,
                                      learning_report: dict[str, object]) -> None:
    """The alphazero-tictactoe preset with two Ray workers never loses against any line of play, as first or
    second player: the single-process learning test's bar (tests/test_learning_alphazero.py). Bounded by the
    preset's iterations, not wall time."""
    cfg = alphazero_tictactoe()
    cfg = replace(cfg, selfplay=replace(cfg.selfplay, seed=learning_seed, eval_every=0),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False), distributed=RAY)
    result = run_selfplay(cfg, tmp_path)
    assert result.iterations == cfg.selfplay.iterations
    game = make_game("tictactoe")
    az = load_player(tmp_path, game, simulations=None, seed=1)
    (lost_first, lines_first), (lost_second, lines_second) = lines_lost(az, game, 0), lines_lost(az, game, 1)
    learning_report.update(losses=[lost_first, lost_second], seconds=round(result.seconds, 1))
    assert lost_first == 0 and lost_second == 0, \
        f"lost {lost_first} of {lines_first} lines as first and {lost_second} of {lines_second} as second player"


def test_lost_workers_end_self_play_with_a_checkpoint(local_ray: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    take, calls = WorkerPool.take, [0]

    def lose_after_some(self: WorkerPool, ref: Any) -> Any:  # as if a worker stayed down past its restarts
        calls[0] += 1
        if calls[0] > 6:  # two workers: three iterations' batches, then the loss
            raise WorkerLostError("worker 1 died 6 time(s) and is not back")
        return take(self, ref)

    monkeypatch.setattr(WorkerPool, "take", lose_after_some)
    with pytest.raises(RunAbortedError, match=r"worker 1 died .* arena selfplay --resume"):
        run_selfplay_ray(tiny_ray(tmp_path, iterations=10), tmp_path)
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["iteration"] >= 2 and saved["learner"]["version"] > 0

