"""The AlphaZero league on Ray: flags refused in one line before Ray starts, then on a local Ray instance
(num_cpus=2, shut down after the module): a tiny tic-tac-toe league plays on two workers, shares its frozen
snapshots through the object store, checkpoints, resumes in one process and back on Ray; a killed worker is
restarted and the run finishes; workers lost past their restarts end the run in one line with a checkpoint; a
PPO league plays on Ray and resumes in one process."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray

from agents.errors import RunAbortedError
from runners.api import run_league
from runners.cli.main import main
from runners.distributed.league import RayLeagueTrainer, run_league_ray
from runners.distributed.pool import WorkerLostError, WorkerPool
from runners.families.distributed import OnPolicyRayConfig
from runners.families.league import LeagueConfig
from runners.league.trainer import LeagueTrainer
from runners.local.checkpoint import load
from tests.test_league import tiny
from tests.test_league_ppo import tiny as tiny_ppo

RAY = OnPolicyRayConfig(kind="ray", num_workers=2, status_every=0)


def tiny_ray(run_dir: Path, iterations: int) -> LeagueConfig:
    """``tiny`` league (three learners, 4 games each per iteration) on two Ray workers, 2 games per call."""
    return replace(tiny(run_dir, iterations=iterations), distributed=RAY)


def records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


@pytest.mark.parametrize(("flags", "needle"), [
    (["--num-workers", "0"], "--num-workers must be >= 1"),
    (["--ray-address", "127.0.0.1:9"], "no Ray cluster reachable"),  # joined, not a local Ray started
    (["--league.agent", "ppo", "--league.fixed-opponents", "random"], "in one process only"),
])
def test_bad_input_is_one_line(flags: list[str], needle: str, tmp_path: Path,
                               capfd: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["league", "league-tictactoe", "--runner", "ray", *flags, "--log.run-dir", str(run),
                 "--log.wandb", "off"]) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("arena: error:") and needle in err and "\n" not in err, err
    assert not run.exists()


def test_league_on_ray_checkpoints_and_resumes_in_one_process_and_on_ray(local_ray: None, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    put, puts = ray.put, [0]

    def counted_put(value: Any, **kwargs: Any) -> Any:  # the driver's puts (workers are other processes)
        puts[0] += 1
        return put(value, **kwargs)

    monkeypatch.setattr(ray, "put", counted_put)
    result = run_league(tiny_ray(tmp_path, iterations=3), tmp_path)
    monkeypatch.setattr(ray, "put", put)
    assert result.iterations == 3 and result.games == 36 and result.pool == 3 and not result.interrupted
    its = records(tmp_path, "iteration")
    assert [r["games"] for r in its] == [12, 24, 36]
    assert its[-1]["dist/games_w0"] + its[-1]["dist/games_w1"] == 36 and its[-1]["dist/restarts"] == 0
    rows = records(tmp_path, "learner")
    assert len(rows) == 9 and all(r["games"] == r["wins"] + r["draws"] + r["losses"] == 4 for r in rows)
    assert all("loss" in r and r["positions"] > 0 for r in rows)
    # Weights go into the object store once per learner and iteration, and once per snapshot when it is frozen:
    # never once per game or per worker call.
    assert puts[0] == 3 * 3 + result.pool

    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["runner"] == "ray" and saved["iteration"] == 3 and all("ray_rng" in x for x in saved["learners"])
    assert [x["steps"] for x in saved["learners"]] == [6, 6, 6] and all(x["buffer"]["added"] > 0
                                                                         for x in saved["learners"])
    # The learner actor's optimisers: the main agent's 6 updates, the main exploiter's 2 since its reset at the
    # snapshot of iteration 2 (the league exploiter's either, by its reset's coin).
    versions = [x["learner"]["version"] for x in saved["learners"]]
    assert versions[:2] == [6, 2] and versions[2] in (2, 6)
    assert [name for name, _ in saved["pool"]] == ["main0@2", "main_exploiter0@2", "league_exploiter0@2"]
    assert (tmp_path / "checkpoints" / "model.pt").is_file()

    # A Ray league's checkpoint holds the single-process layout: it resumes in one process.
    seen: dict[str, Any] = {}
    restore = LeagueTrainer.load_state_dict

    def check_restore(self: LeagueTrainer, state: dict[str, Any]) -> None:
        restore(self, state)
        seen.update(iteration=self.iteration, added=[x.buffer.added for x in self.learners],
                    versions=[x.learner.version for x in self.learners])

    monkeypatch.setattr(LeagueTrainer, "load_state_dict", check_restore)
    cfg = tiny(tmp_path, iterations=4)
    local = run_league(cfg, tmp_path, resume=True)
    assert seen["iteration"] == 3 and seen["versions"] == versions
    assert seen["added"] == [x["buffer"]["added"] for x in saved["learners"]]
    assert local.iterations == 4 and local.games == 48

    # And a single-process checkpoint resumes on Ray: the learner actor gets every learner's optimiser and window.
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    ray_restore = RayLeagueTrainer.load_state_dict

    def check_ray_restore(self: RayLeagueTrainer, state: dict[str, Any]) -> None:
        ray_restore(self, state)
        held = ray.get(self.learner_actor.state_dict.remote())
        seen.update(versions=[h["learner"]["version"] for h in held], added=[h["buffer"]["added"] for h in held])

    monkeypatch.setattr(RayLeagueTrainer, "load_state_dict", check_ray_restore)
    again = run_league(tiny_ray(tmp_path, iterations=5), tmp_path, resume=True)
    assert seen["versions"] == [x["learner"]["version"] for x in saved["learners"]]
    assert seen["added"] == [x["buffer"]["added"] for x in saved["learners"]]
    assert again.iterations == 5 and again.games == 60


def test_killed_worker_is_restarted_and_the_league_finishes(local_ray: None, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    submit, calls = WorkerPool.submit, [0]

    def submit_then_kill(self: WorkerPool, i: int, *args: Any) -> None:
        submit(self, i, *args)
        calls[0] += 1
        if calls[0] == 8:  # in the second iteration (6 calls each), with the call just sent still in flight
            ray.kill(self.handles[i], no_restart=False)

    monkeypatch.setattr(WorkerPool, "submit", submit_then_kill)
    result = run_league(tiny_ray(tmp_path, iterations=4), tmp_path)
    assert result.iterations == 4 and result.games == 48  # the killed call's games were played again
    its = records(tmp_path, "iteration")
    assert its[-1]["dist/restarts"] == 1
    assert its[-1]["dist/games_w0"] + its[-1]["dist/games_w1"] == 48
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["iteration"] == 4 and all(x["steps"] == 8 for x in saved["learners"])


def test_lost_workers_end_the_league_in_one_line_with_a_checkpoint(local_ray: None, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    take, calls = WorkerPool.take, [0]

    def lose_after_some(self: WorkerPool, ref: Any) -> Any:  # as if a worker stayed down past its restarts
        calls[0] += 1
        if calls[0] > 12:  # two iterations' calls (6 each), then the loss
            raise WorkerLostError("worker 1 died 6 time(s) and is not back")
        return take(self, ref)

    monkeypatch.setattr(WorkerPool, "take", lose_after_some)
    with pytest.raises(RunAbortedError) as info:
        run_league_ray(tiny_ray(tmp_path, iterations=10), tmp_path)
    assert str(info.value) == ("worker 1 died 6 time(s) and is not back (checkpoint saved at iteration 2: "
                               f"arena league --resume {tmp_path})")
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["iteration"] == 2 and all(x["steps"] == 4 for x in saved["learners"])


def test_ppo_league_on_ray_resumes_in_one_process(local_ray: None, tmp_path: Path) -> None:
    """--league.agent ppo: a learner's games in one worker call, one PPO update in the learner actor."""
    result = run_league(replace(tiny_ppo(tmp_path, iterations=2), distributed=RAY), tmp_path)
    assert result.iterations == 2 and result.games == 48 and result.pool == 3
    rows = records(tmp_path, "learner")
    assert len(rows) == 6 and all(r["games"] == 8 and "loss" in r and r["positions"] > 0 for r in rows)
    saved = load(tmp_path / "checkpoints" / "latest.pt")["trainer"]
    assert saved["agent"] == "ppo" and saved["runner"] == "ray"
    assert all(x["steps"] > 0 for x in saved["learners"])
    assert saved["learners"][0]["agent"]["learner"]["updates"] == 2  # the main agent's (exploiters reset at 2)
    local = run_league(tiny_ppo(tmp_path, iterations=3), tmp_path, resume=True)
    assert local.iterations == 3 and local.games == 72
