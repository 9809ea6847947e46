"""The Ray runner: Ape-X pieces without Ray (epsilons, chunks, worker-side priorities), flag translation and
one-line errors, then on a shared local Ray instance (num_cpus=2): checkpoint/restore of learner and replay,
a worker killed mid-run, and (slow) DQN and PPO with 2 workers solving CartPole-v1."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray
import torch

from agents.dqn import build_q_network
from envs.make import spec_for
from replay.types import Rollout
from runners.api import train
from runners.cli.main import main
from runners.cli.runs import runner_flags
from runners.distributed.apex import ReplayShard, apex_epsilons
from runners.distributed.apex_driver import ApexTrainer
from runners.distributed.chunk import Chunk, PriorityCalculator
from runners.distributed.onpolicy import concat_rollouts
from runners.distributed.pool import WorkerLostError, WorkerPool
from runners.distributed.train import build_trainer
from runners.families.common import LogConfig
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.families.registry import PRESETS
from runners.local.checkpoint import load_trainer_state
from runners.local.loop import run
from tests.helpers import on_ray, quick, quick_pg


# --- no Ray ----------------------------------------------------------------------------------------------
def test_apex_epsilons_follow_horgan_et_al() -> None:
    assert apex_epsilons(0.4, 7.0, 1) == [0.4]
    eps = apex_epsilons(0.4, 7.0, 3)
    assert eps == pytest.approx([0.4, 0.4 ** 4.5, 0.4 ** 8])


def _chunk(rng: np.random.Generator, t: int, e: int, obs_dim: int, p_end: float) -> Chunk:
    obs = rng.normal(size=(t, e, obs_dim)).astype(np.float32)
    ends = rng.random((t, e)) < p_end
    terminated = ends & (rng.random((t, e)) < 0.5)
    truncated = ends & ~terminated
    index = np.flatnonzero(ends.reshape(-1))
    return Chunk(obs, rng.normal(size=(e, obs_dim)).astype(np.float32), rng.integers(0, 2, (t, e)),
                 rng.normal(size=(t, e)).astype(np.float32), terminated, truncated, index,
                 rng.normal(size=(len(index), obs_dim)).astype(np.float32))


def test_chunk_rebuilds_next_obs() -> None:
    c = _chunk(np.random.default_rng(0), 5, 3, 2, 0.3)
    nxt = c.next_obs()
    flat = nxt.reshape(-1, 2)
    ended = np.zeros(15, bool)
    ended[c.final_index] = True
    np.testing.assert_array_equal(flat[c.final_index], c.final_obs)
    follows = np.concatenate([c.obs[1:], c.last_obs[None]]).reshape(-1, 2)
    np.testing.assert_array_equal(flat[~ended], follows[~ended])


@pytest.mark.parametrize("n_step", [1, 3])
def test_worker_priorities_line_up_with_the_shards_writes(n_step: int) -> None:
    cfg = PRESETS["dqn-cartpole"]()
    assert isinstance(cfg, TrainConfig)
    cfg = replace(cfg, agent=replace(cfg.agent, prioritized=True, n_step=n_step))
    spec = spec_for("CartPole-v1")
    net = build_q_network(cfg.agent, cfg.torso, spec)
    calc = PriorityCalculator(net, 2, n_step, cfg.agent.gamma)
    shard = ReplayShard(cfg, spec, {0: (0, 2), 1: (2, 2)}, 1_000, seed=0)
    rng = np.random.default_rng(1)
    for k in range(6):
        chunk = _chunk(rng, 8, 2, 4, 0.2)
        prios = calc(chunk)
        written = shard.add(0, k == 0, chunk, prios)
        shard.add(1, k == 0, _chunk(rng, 8, 2, 4, 0.2), None)  # another worker's chunks interleave
        assert written == len(prios)
    assert shard.mismatched == 0
    if n_step == 1:  # one-step TD by hand: r + gamma (1 - terminated) max_a Q(s', a) - Q(s, a)
        with torch.no_grad():
            q = net.q_values(net(torch.as_tensor(chunk.obs.reshape(-1, 4)))[0]).numpy()
            q_next = net.q_values(net(torch.as_tensor(chunk.next_obs().reshape(-1, 4)))[0]).numpy().max(1)
        td = chunk.reward.reshape(-1) + cfg.agent.gamma * ~chunk.terminated.reshape(-1) * q_next \
            - q[np.arange(16), chunk.action.reshape(-1)]
        np.testing.assert_allclose(prios, np.abs(td), rtol=1e-4, atol=1e-5)


def test_concat_rollouts_joins_envs_and_pads_time() -> None:
    def rollout(t: int, n: int, fill: float) -> Rollout:
        f = np.full((t, n), fill, np.float32)
        return Rollout(obs=np.full((t, n, 4), fill, np.float32), action=np.zeros((t, n), np.int64), reward=f,
                       next_obs=np.full((t, n, 4), fill, np.float32), terminated=np.zeros((t, n), bool),
                       truncated=np.zeros((t, n), bool), log_prob=f, value=f, last_obs=np.zeros((n, 4), np.float32),
                       mask=np.ones((t, n), bool))

    joined = concat_rollouts([rollout(3, 2, 1.0), rollout(5, 1, 2.0)])
    assert joined.obs.shape == (5, 3, 4) and joined.last_obs.shape == (3, 4)
    assert joined.mask[:, :2].sum() == 6 and joined.mask[:, 2].all()
    assert (joined.reward[:3, :2] == 1).all() and (joined.reward[:, 2] == 2).all()
    assert joined.obs.flags.writeable


# --- flags and one-line errors (no Ray needed: they are refused before it starts) -------------------------
def test_cli_translates_the_issues_flags() -> None:
    assert runner_flags(["ppo-cartpole", "--runner", "ray", "--num-workers=3", "--ray-address", "auto",
                          "--runner.seed", "1"]) == [
        "ppo-cartpole", "--distributed.kind", "ray", "--distributed.num-workers=3", "--distributed.ray-address",
        "auto", "--runner.seed", "1"]


@pytest.mark.parametrize("args,message", [
    (["dqn-cartpole", "--runner", "ray", "--num-workers", "0"], "--num-workers must be >= 1"),
    (["ppo-cartpole", "--runner", "ray", "--imitation", "bc"], "--imitation bc takes no env steps"),
    (["alphazero-tictactoe", "--runner", "ray"], "self-play does not run on Ray"),
    (["dqn-cartpole", "--runner", "ray", "--ray-address", "127.0.0.1:9"], "no Ray cluster reachable"),
])
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path,
                               capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *args, "--log.run-dir", str(tmp_path / "run"), "--log.wandb", "off"]) == 2
    err = capfd.readouterr().err.strip()  # file descriptor 2 too: Ray's C++ core logs past sys.stderr
    assert err.startswith("arena: error:") and message in err and "\n" not in err


# --- on a local Ray instance ------------------------------------------------------------------------------
def test_oversubscription_is_a_config_error(local_ray: None) -> None:
    from agents.errors import ConfigError

    cfg = on_ray(quick("dqn-cartpole", Path("unused")), num_workers=3, worker_cpus=1.0)
    with pytest.raises(ConfigError, match="need 4 CPUs, the Ray cluster has 2"):
        build_trainer(cfg)


def test_resume_restores_learner_and_replay(local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = quick("dqn-cartpole", tmp_path, total_steps=800)
    cfg = on_ray(replace(cfg, agent=replace(cfg.agent, prioritized=True, n_step=3),
                          runner=replace(cfg.runner, train_every=4)))
    first = train(cfg, tmp_path)
    state = load_trainer_state(tmp_path)
    assert state["runner"] == "ray" and len(state["replay"]["shards"]) == 1
    assert first.updates > 0 and state["step"] == first.steps
    seen: dict[str, Any] = {}
    load = ApexTrainer.load_state_dict

    def check_restore(self: ApexTrainer, saved: dict[str, Any]) -> None:  # look inside the resumed run
        load(self, saved)
        seen.update(learner=ray.get(self.learner_actor.state_dict.remote()), notes=list(self.notes),
                    replay=self.buffer.state_dict()["shards"][0], step=self.step, updates=self.learner.updates)

    monkeypatch.setattr(ApexTrainer, "load_state_dict", check_restore)
    resumed = train(replace(cfg, runner=replace(cfg.runner, total_steps=1_200)), tmp_path, resume=True)
    assert seen["notes"] == []  # the replay fitted the same worker layout
    for k, v in state["learner"]["online"].items():
        assert torch.equal(seen["learner"]["online"][k], v), k
    assert seen["updates"] == state["learner"]["updates"] and seen["step"] == state["step"]
    saved_replay = state["replay"]["shards"][0]
    assert seen["replay"]["total_added"] == saved_replay["total_added"]
    np.testing.assert_array_equal(seen["replay"]["sampler"]["priorities"], saved_replay["sampler"]["priorities"])
    assert resumed.steps >= 1_200 and resumed.updates > first.updates


@pytest.mark.parametrize("preset", ["dqn-cartpole", "ppo-cartpole"])
def test_killed_worker_is_restarted_and_training_goes_on(preset: str, local_ray: None, tmp_path: Path) -> None:
    base = quick(preset, tmp_path, 100_000) if preset.startswith("dqn") else quick_pg(preset, tmp_path, 100_000)
    if isinstance(base, TrainConfig):  # the learner is not under test: fewer updates per env step
        base = replace(base, runner=replace(base.runner, train_every=8))
    base = replace(base, runner=replace(base.runner, eval_episodes=0))
    trainer = build_trainer(on_ray(base))
    try:
        run(trainer, lambda t, final: None, stop_at=800)
        updates, step = trainer.learner.updates, trainer.step
        assert updates > 0
        ray.kill(trainer.pool.handles[0], no_restart=False)  # its collect call is in flight: killed mid-run
        deadline = time.monotonic() + 60
        while trainer.pool.down_since[0] is not None or trainer.pool.deaths[0] == 0:  # until it delivers again
            assert time.monotonic() < deadline, "the killed worker did not come back"
            run(trainer, lambda t, final: None, stop_at=trainer.step + 500)
        assert trainer.pool.deaths == [1, 0]
        assert trainer.step > step and trainer.learner.updates > updates  # the learner kept its state, went on
        run(trainer, lambda t, final: None, stop_at=trainer.step + 500)  # and both workers carry on
        assert trainer.pool.deaths == [1, 0]
    finally:
        trainer.close()


def test_lost_workers_end_the_run_in_one_line_with_a_checkpoint(local_ray: None, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    take, calls = WorkerPool.take, [0]

    def lose_after_some(self: WorkerPool, ref: Any) -> Any:  # as if worker 0 stayed down past its restarts
        calls[0] += 1
        if calls[0] > 40:
            raise WorkerLostError("worker 0 died 6 time(s) and is not back")
        return take(self, ref)

    monkeypatch.setattr(WorkerPool, "take", lose_after_some)
    run_dir = tmp_path / "run"
    code = main(["train", "dqn-cartpole", "--runner", "ray", "--runner.total-steps", "100000", "--runner.eval-episodes",
                 "0", "--replay.learning-starts", "200", "--runner.train-every", "8", "--log.run-dir", str(run_dir),
                 "--log.wandb", "off", "--log.no-progress"])
    assert code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("arena: error: worker 0 died") and f"arena train --resume {run_dir}" in last
    state = load_trainer_state(run_dir)  # nothing learned is lost: the learner's state was saved on the way out
    assert state["step"] > 0 and state["learner"]["updates"] > 0


def test_synchronous_reinforce_learns_only_fresh_rollouts(local_ray: None, tmp_path: Path) -> None:
    cfg = quick_pg("reinforce-cartpole", tmp_path, 2_000)
    trainer = build_trainer(on_ray(cfg, max_policy_lag=0))
    try:
        result = run(trainer, lambda t, final: None)
        assert result.updates > 0 and trainer.dropped == 0
        assert trainer.metrics["dist/policy_lag_max"] == 0.0  # lag 0: every rollout came from the current policy
    finally:
        trainer.close()


# --- learning (slow): the acceptance thresholds -------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("preset", ["dqn-cartpole", "ppo-cartpole"])
def test_two_workers_solve_cartpole(preset: str, local_ray: None, tmp_path: Path, learning_seed: int,
                                    learning_report: dict[str, object]) -> None:
    cfg = PRESETS[preset]()
    assert cfg.runner.eval_episodes == 10 and cfg.runner.target_return == 475.0
    # DQN on Ray within 100k env steps, twice the preset's 50k: Ray runs are not bit-reproducible (chunk arrival
    # order): 18 of 19 measured runs solved at 18k-37.5k, but one stayed near 100 from 10k to 50k after a dip that
    # most runs show (benchmarks/results/learning_robustness.md). Runs stop at the first evaluation >= 475.
    steps = 100_000 if preset.startswith("dqn") else cfg.runner.total_steps
    cfg = replace(on_ray(cfg), runner=replace(cfg.runner, seed=learning_seed, torch_threads=1, total_steps=steps),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    assert isinstance(cfg, (TrainConfig, PGTrainConfig))
    result = train(cfg, tmp_path)
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    best = max(r["eval_mean"] for r in evals if r["kind"] == "eval")
    learning_report.update(best=best, steps=result.steps, steps_to_threshold=next(
        (r["step"] for r in evals if r["kind"] == "eval" and r["eval_mean"] >= 475.0), None))
    assert best >= 475.0, f"best eval mean {best:.1f} < 475"
    assert result.last_eval is not None and result.last_eval.mean >= 475.0  # the saved model is the solver
