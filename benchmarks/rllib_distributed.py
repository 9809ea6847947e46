"""arena's Ray runner against RLlib with the same number of env runners, DQN and PPO on CartPole-v1: env steps
per second and env steps to the first evaluation with mean return >= 475.

- arena: the real CLI, ``python -m runners.cli train dqn-cartpole|ppo-cartpole --runner ray --num-workers 2
  --distributed.num-cpus 2`` (a local Ray instance with 2 logical CPUs), the presets' own settings, stopping at
  the first evaluation >= 475 (the presets' ``--runner.target-return``) or at the cap.
- RLlib 2.60, new API stack, 2 remote env runners (``num_env_runners=2``, 1 env each for DQN as arena's
  dqn-cartpole has 1 env per worker; RLlib's default 1 env each for PPO), the learner in the driver
  (``num_learners=0``), ``ray.init(num_cpus=2)`` with 0.5 logical CPU per env runner (RLlib reserves 1 for
  the driver), one torch thread in the driver. Hyperparameters are RLlib's own tuned CartPole examples
  (``rllib/tuned_examples/dqn/cartpole_dqn.py``, ``rllib/tuned_examples/ppo/cartpole_ppo.py``), i.e. what an
  RLlib user would run; they differ from arena's presets (listed in the report).

Evaluation, the same on both sides: every 5,000 env steps (at the first iteration boundary past each multiple
for RLlib; arena's driver checks after every worker message), 10 greedy episodes, one per sub-env of CartPole-v1,
seeded as arena seeds its evaluations (``seed + 1_000_003 * (k + 1)``): arena's own ``runners.local.evaluate``
``run_policy_episodes`` rolls out RLlib's learner weights (Q argmax for DQN, logits argmax for PPO), in the
driver, inside the timed loop as arena's evaluations are.

Ray renices its actors to 15 by default (RLlib's learner lives in the nice-0 driver, arena's in an actor); the
script sets ``RAY_worker_niceness=0`` so both sides' processes have the same priority on this shared machine.

SPS: env steps between the first record at >= 1,000 steps and the end, over the wall time between them (Ray's
start and actor construction excluded on both sides, evaluations included on both). Each run is capped at
``--cap`` env steps and ``--max-minutes``; "not reached" is reported as such. One seed each (a 2-core shared
machine); the load average is recorded with every run.

Usage: python benchmarks/rllib_distributed.py [--cap 100000] [--max-minutes 10] [--only arena_dqn rllib_ppo ...]
Writes benchmarks/results/rllib_distributed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.rllib_distributed_report import compare, report  # noqa: E402
from runners.local.evaluate import run_policy_episodes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ENV_ID = "CartPole-v1"
EVAL_EVERY, EVAL_EPISODES, TARGET, SEED = 5_000, 10, 475.0, 0
FIRST = 1_000  # SPS is measured from the first record at or past this many env steps

RLLIB_SETTINGS = {
    "dqn": "RLlib tuned example cartpole_dqn.py: lr 5e-4, batch 32, one update per 32 sampled env steps (16 per "
           "runner), prioritized episode replay (capacity 50,000, alpha 0.6, beta 0.4), n-step uniform in [2, 5], "
           "double + dueling, epsilon 1 -> 0.02 over 10,000 steps, MLP [256] tanh + head [256], target update "
           "every 500 steps, learning from 1,000 steps",
    "ppo": "RLlib tuned example cartpole_ppo.py: lr 3e-4, 6 epochs, vf_loss_coeff 0.01, MLP [32] linear, shared "
           "value layers; RLlib defaults otherwise (train batch 4,000, minibatch 128, GAE 0.95, gamma 0.99, KL loss)",
}
ARENA_SETTINGS = {
    "dqn": "arena preset dqn-cartpole: lr 1e-3, batch 64, one update per 2 env steps, uniform replay 50,000, "
           "1-step, soft target updates (tau 0.01), epsilon 1 -> 0.04 over 8,000 steps (Ray: Ape-X fixed epsilons "
           "0.4 and 0.4^8 for the 2 workers), MLP 128x128, learning from 1,000 steps; 2 workers x 1 env",
    "ppo": "arena preset ppo-cartpole: 8 envs (2 workers x 4) x 32 steps, 10 epochs of 4 minibatches, lr 1e-3 "
           "annealed over the cap, GAE 0.8, gamma 0.98, separate 64x64 tanh MLPs; one-step-off (max policy lag 1)",
}


def _sps(points: list[tuple[int, float]]) -> float | None:
    """Env steps / s between the first point at >= FIRST steps and the last point."""
    start = next((p for p in points if p[0] >= FIRST), None)
    end = points[-1] if points else None
    if start is None or end is None or end[1] <= start[1]:
        return None
    return (end[0] - start[0]) / (end[1] - start[1])


def _sps_training(points: list[tuple[int, float]], evals: list[tuple[float, float]]) -> float | None:
    """Like ``_sps`` with the evaluations' wall time (``(start, end)`` pairs) taken out of the window."""
    start = next((p for p in points if p[0] >= FIRST), None)
    if start is None or not points:
        return None
    end = points[-1]
    spent = sum(b - a for a, b in evals if a >= start[1] and b <= end[1])
    return (end[0] - start[0]) / (end[1] - start[1] - spent) if end[1] - start[1] > spent else None


def run_arena(algo: str, cap: int, max_minutes: float, work: Path) -> dict[str, Any]:
    preset = {"dqn": "dqn-cartpole", "ppo": "ppo-cartpole"}[algo]
    run_dir = work / f"arena-{algo}"
    cmd = [sys.executable, "-m", "runners.cli", "train", preset, "--runner", "ray", "--num-workers", "2",
           "--distributed.num-cpus", "2", "--distributed.status-every", "0", "--runner.total-steps", str(cap),
           "--runner.eval-every", str(EVAL_EVERY), "--runner.eval-episodes", str(EVAL_EPISODES),
           "--runner.target-return", str(TARGET), "--runner.checkpoint-every", "0", "--runner.seed", str(SEED),
           "--log.wandb", "off", "--log.no-progress", "--log.run-dir", str(run_dir)]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    log = (work / f"arena-{algo}.log").open("w")
    try:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=max_minutes * 60 + 120)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    log.close()
    wall = time.perf_counter() - t0
    if not timed_out and proc.returncode != 0:
        raise RuntimeError(f"arena {algo} failed:\n{(work / f'arena-{algo}.log').read_text()[-3000:]}")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    points = [(r["step"], r["time"]) for r in records if r["kind"] in ("train", "eval")]
    evals = [(r["step"], round(r["eval_mean"], 1), r["time"]) for r in records if r["kind"] == "eval"]
    # An evaluation runs between the record logged just before it (same loop turn) and its own record.
    spans = [(records[i - 1]["time"], r["time"]) for i, r in enumerate(records) if r["kind"] == "eval" and i > 0]
    reached = next(((s, t) for s, m, t in evals if m >= TARGET), None)
    return {"sps": _sps(points), "sps_training": _sps_training(points, spans),
            "eval_seconds": [round(b - a, 2) for a, b in spans], "steps": max(p[0] for p in points), "seconds": max(p[1] for p in points),
            "steps_to_475": reached[0] if reached else None, "seconds_to_475": reached[1] if reached else None,
            "evals": [(s, m) for s, m, _ in evals], "process_wall_s": round(wall, 1), "timed_out": timed_out,
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def rllib_config(algo: str) -> Any:
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    config: Any
    if algo == "dqn":
        from ray.rllib.algorithms.dqn import DQNConfig

        config = (DQNConfig()
                  .environment(ENV_ID)
                  .training(lr=5e-4, train_batch_size_per_learner=32,
                            replay_buffer_config={"type": "PrioritizedEpisodeReplayBuffer", "capacity": 50_000,
                                                  "alpha": 0.6, "beta": 0.4},
                            n_step=(2, 5), double_q=True, dueling=True, epsilon=[(0, 1.0), (10_000, 0.02)])
                  .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[256], fcnet_activation="tanh",
                                                             fcnet_bias_initializer="zeros_",
                                                             head_fcnet_bias_initializer="zeros_",
                                                             head_fcnet_hiddens=[256])))
    else:
        from ray.rllib.algorithms.ppo import PPOConfig

        config = (PPOConfig()
                  .environment(ENV_ID)
                  .training(lr=3e-4, num_epochs=6, vf_loss_coeff=0.01)
                  .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[32], fcnet_activation="linear",
                                                             vf_share_layers=True)))
    return (config.framework("torch")
            .env_runners(num_env_runners=2, num_envs_per_env_runner=1, num_cpus_per_env_runner=0.5)  # type: ignore[arg-type]
            .learners(num_learners=0)
            .debugging(seed=SEED))


def rllib_greedy_returns(algo_obj: Any, algo: str, seed: int) -> list[float]:
    """Arena's evaluation protocol (``run_policy_episodes``) on the learner's current module, greedy."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    module = algo_obj.learner_group._learner.module[DEFAULT_MODULE_ID]  # num_learners=0: the driver's learner

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module.forward_inference({"obs": torch.as_tensor(obs, dtype=torch.float32)})
        if algo == "dqn":
            return out["actions"].cpu().numpy().astype(np.int64)
        return out["action_dist_inputs"].argmax(dim=-1).cpu().numpy().astype(np.int64)

    return run_policy_episodes(act, ENV_ID, {}, EVAL_EPISODES, seed)


def run_rllib(algo: str, cap: int, max_minutes: float) -> dict[str, Any]:
    import ray

    load_before = os.getloadavg()
    t_init = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        algo_obj = rllib_config(algo).build_algo()
        torch.set_num_threads(1)
        build_s = time.perf_counter() - t_init
        t0 = time.perf_counter()
        points: list[tuple[int, float]] = []
        evals: list[tuple[int, float, float]] = []
        spans: list[tuple[float, float]] = []
        evals_done, reached, steps = 0, None, 0
        while steps < cap and time.perf_counter() - t0 < max_minutes * 60:
            result = algo_obj.train()
            steps = int(result.get("num_env_steps_sampled_lifetime")
                        or result["env_runners"]["num_env_steps_sampled_lifetime"])
            points.append((steps, time.perf_counter() - t0))
            if steps // EVAL_EVERY > evals_done:
                evals_done = steps // EVAL_EVERY
                before = time.perf_counter() - t0
                mean = float(np.mean(rllib_greedy_returns(algo_obj, algo, SEED + 1_000_003 * (evals_done + 1))))
                evals.append((steps, round(mean, 1), time.perf_counter() - t0))
                spans.append((before, time.perf_counter() - t0))
                points[-1] = (steps, time.perf_counter() - t0)
                if mean >= TARGET:
                    reached = (steps, time.perf_counter() - t0)
                    break
        algo_obj.stop()
    finally:
        ray.shutdown()
    return {"sps": _sps(points), "sps_training": _sps_training(points, spans),
            "eval_seconds": [round(b - a, 2) for a, b in spans], "steps": steps,
            "seconds": points[-1][1] if points else 0.0,
            "steps_to_475": reached[0] if reached else None, "seconds_to_475": reached[1] if reached else None,
            "evals": [(s, m) for s, m, _ in evals], "build_s": round(build_s, 1),
            "timed_out": reached is None and steps < cap,
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def git_state() -> dict[str, Any]:
    """The commit measured, and which runner files had uncommitted changes (the checkout is shared)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"head": git("rev-parse", "--short", "HEAD"),
            "uncommitted_runner_files": git("status", "--porcelain", "runners", "agents", "replay").splitlines()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cap", type=int, default=100_000, help="env steps per run at most")
    p.add_argument("--max-minutes", type=float, default=10.0, help="wall time per run at most")
    p.add_argument("--only", nargs="*", default=None,
                   help="subset of arena_dqn arena_ppo rllib_dqn rllib_ppo (the others are kept from the JSON)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown from benchmarks/results/rllib_distributed.json (no runs)")
    a = p.parse_args()
    # Ray renices its worker processes (every actor) to 15 by default, below the nice-0 driver and below other
    # users' niced jobs on a shared machine; 0 puts every process of every side at the same priority.
    os.environ["RAY_worker_niceness"] = "0"
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    out_json = RESULTS / "rllib_distributed.json"
    if a.report_only:  # the recorded result as it stands: the JSON is left as measured
        report(json.loads(out_json.read_text()))
        return
    previous = json.loads(out_json.read_text()) if out_json.exists() and a.only else {}
    load_start = os.getloadavg()
    runs: dict[str, Any] = dict(previous.get("runs", {}))
    earlier: dict[str, list[Any]] = dict(previous.get("earlier_runs", {}))
    work = Path(tempfile.mkdtemp(prefix="arena-rllib-bench-"))
    try:
        for name in ("arena_dqn", "rllib_dqn", "arena_ppo", "rllib_ppo"):
            if a.only and name not in a.only:
                continue
            side, algo = name.split("_")
            if name in runs:  # a rerun (--only): the earlier run stays in the record
                earlier.setdefault(name, []).append(runs[name])
            runs[name] = run_arena(algo, a.cap, a.max_minutes, work) if side == "arena" else \
                run_rllib(algo, a.cap, a.max_minutes)
            runs[name].update(cap_steps=a.cap, max_minutes=a.max_minutes)  # reruns may use other limits
            print(name, {k: v for k, v in runs[name].items() if k != "evals"}, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_end = os.getloadavg()
    comparisons = compare(runs, earlier)
    import gymnasium
    import ray

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    result = {
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "ray": ray.__version__, "gymnasium": gymnasium.__version__},
        "git": git_state(),
        "load_start": [round(x, 2) for x in load_start], "load_end": [round(x, 2) for x in load_end],
        "settings": {"env": ENV_ID, "workers_or_env_runners": 2, "ray_num_cpus": 2, "ray_worker_niceness": 0, "cap_steps": a.cap, "only": a.only,
                     "max_minutes": a.max_minutes, "eval_every": EVAL_EVERY, "eval_episodes": EVAL_EPISODES,
                     "target": TARGET, "seed": SEED, "arena": ARENA_SETTINGS, "rllib": RLLIB_SETTINGS},
        "runs": runs, "earlier_runs": earlier, "comparisons": comparisons,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    report(result)


if __name__ == "__main__":
    main()
