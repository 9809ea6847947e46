"""Atari training throughput on Pong, Nature CNN, batch 32, one update every 4 env steps, in one run:

1. the raw ALE vector env ceiling (random actions, no learning),
2. the compute limit: measured env, forward (acting) and update costs combined per env step,
3. arena's training SPS (DQNTrainer: env, actor, replay, learner),
4. Stable-Baselines3 DQN's training SPS with the same settings.

Usage: python benchmarks/atari_throughput.py [--steps 4000] [--num-envs 4] [--threads 1]
Writes benchmarks/results/atari_throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.dqn import DQNActor, DQNLearner, build_q_network  # noqa: E402
from benchmarks._timing import median_s  # noqa: E402
from benchmarks.atari_env_ceiling import measure_ale_ceiling  # noqa: E402
from envs import make  # noqa: E402
from replay.types import Batch  # noqa: E402
from runners.families.common import LogConfig  # noqa: E402
from runners.families.dqn_presets import dqn_atari  # noqa: E402
from runners.local.dqn import DQNTrainer  # noqa: E402
from runners.local.logging import NullLogger  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LEARNING_STARTS = 1_000
CAPACITY = 50_000


def config(num_envs: int):  # type: ignore[no-untyped-def]
    cfg = dqn_atari()
    # SB3's DQN defaults (Adam, gradient norm clipped at 10) on both sides, so only the code differs.
    agent = replace(cfg.agent, optimizer="adam", lr=2.5e-4, optimizer_eps=1e-8, max_grad_norm=10.0)
    return replace(cfg, agent=agent, env=replace(cfg.env, num_envs=num_envs),
                   replay=replace(cfg.replay, capacity=CAPACITY, learning_starts=LEARNING_STARTS),
                   runner=replace(cfg.runner, train_every=4, eval_episodes=0, checkpoint_every=0),
                   log=LogConfig(wandb="off", progress=False))


def compute_costs(num_envs: int) -> dict[str, float]:
    """Median forward (acting on num_envs observations) and update (batch 32) times in ms."""
    cfg = config(num_envs)
    env = make("ale:pong", num_envs, 0)
    spec = env.spec
    env.close()
    learner = DQNLearner(build_q_network(cfg.agent, cfg.torso, spec), cfg.agent)
    actor = DQNActor(learner.online, cfg.agent, seed=0)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (num_envs, 4, 84, 84), dtype=np.uint8)
    b = 32
    batch = Batch(rng.integers(0, 256, (b, 4, 84, 84), dtype=np.uint8), rng.integers(0, 6, b),
                  rng.standard_normal(b).astype(np.float32), rng.integers(0, 256, (b, 4, 84, 84), dtype=np.uint8),
                  np.full(b, 0.99, np.float32), np.ones(b, np.float32), np.arange(b))
    return {"forward_ms": median_s(lambda: actor.act(obs), 200, 20) * 1e3,
            "update_ms": median_s(lambda: learner.step(batch), 100, 20) * 1e3}


def arena_sps(num_envs: int, steps: int) -> float:
    trainer = DQNTrainer(config(num_envs), NullLogger())
    while trainer.step < LEARNING_STARTS:
        trainer.env_step()
        trainer.learn()
    start_step, t0 = trainer.step, time.perf_counter()
    while trainer.step < LEARNING_STARTS + steps:
        trainer.env_step()
        trainer.learn()
    sps = (trainer.step - start_step) / (time.perf_counter() - t0)
    trainer.close()
    return sps


def sb3_sps(num_envs: int, steps: int) -> float | str:
    try:
        import ale_py
        import gymnasium as gym
        from stable_baselines3 import DQN
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack
    except ImportError as e:
        return f"not installed ({e})"
    gym.register_envs(ale_py)

    class Timer(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.t0: float | None = None
            self.s0 = 0

        def _on_step(self) -> bool:
            if self.t0 is None and self.num_timesteps >= LEARNING_STARTS:
                self.t0, self.s0 = time.perf_counter(), self.num_timesteps
            return True

    env = VecFrameStack(make_atari_env("PongNoFrameskip-v4", n_envs=num_envs, seed=0), n_stack=4)
    # train_freq counts vector steps: 1 vector step of 4 envs = 4 env steps per update, as in arena.
    model = DQN("CnnPolicy", env, buffer_size=CAPACITY, learning_starts=LEARNING_STARTS, batch_size=32,
                train_freq=max(1, 4 // num_envs), gradient_steps=1, target_update_interval=10_000,
                learning_rate=2.5e-4, optimize_memory_usage=False, device="cpu", seed=0, verbose=0)
    timer = Timer()
    model.learn(total_timesteps=LEARNING_STARTS + steps, callback=timer)
    assert timer.t0 is not None
    sps = (model.num_timesteps - timer.s0) / (time.perf_counter() - timer.t0)
    env.close()
    return sps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4_000, help="timed env steps after learning starts")
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch and ALE threads")
    p.add_argument("--repeats", type=int, default=2, help="alternate arena and SB3 this many times; best of each")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    # Every quantity is measured once per repeat, interleaved, and each one's best is kept: on a
    # shared machine that cancels most of the drift between them.
    ceilings: list[float] = []
    cost_runs: list[dict[str, float]] = []
    ours_all: list[float] = []
    theirs_all: list[float | str] = []
    for _ in range(a.repeats):
        ceilings.append(measure_ale_ceiling("pong", num_envs=a.num_envs, num_threads=a.threads, seconds=10))
        cost_runs.append(compute_costs(a.num_envs))
        ours_all.append(arena_sps(a.num_envs, a.steps))
        theirs_all.append(sb3_sps(a.num_envs, a.steps))
    ceiling = max(ceilings)
    costs = {k: min(c[k] for c in cost_runs) for k in cost_runs[0]}
    per_step_ms = 1e3 / ceiling + costs["forward_ms"] / a.num_envs + costs["update_ms"] / 4
    limit = 1e3 / per_step_ms
    ours = max(ours_all)
    numeric = [t for t in theirs_all if isinstance(t, float)]
    theirs: float | str = max(numeric) if numeric else theirs_all[0]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    import os
    result = {
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "threads": a.threads},
        "settings": {"game": "pong", "num_envs": a.num_envs, "batch_size": 32, "env_steps_per_update": 4,
                     "torso": "nature_cnn", "timed_steps": a.steps, "learning_starts": LEARNING_STARTS},
        "ale_ceiling_sps": ceiling, **costs, "compute_limit_sps": limit, "arena_sps": ours, "sb3_sps": theirs,
        "arena_sps_runs": ours_all, "sb3_sps_runs": theirs_all,
        "ale_ceiling_runs": ceilings, "cost_runs": cost_runs,
        "arena_vs_limit": ours / limit,
        "arena_vs_sb3": ours / theirs if isinstance(theirs, float) else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "atari_throughput.json").write_text(json.dumps(result, indent=1) + "\n")
    sb3 = f"{theirs:,.0f}" if isinstance(theirs, float) else theirs
    vs = f"{result['arena_vs_sb3']:.2f}x" if result["arena_vs_sb3"] else "n/a"
    md = f"""# Atari training throughput (Pong, Nature CNN, batch 32, 1 update / 4 env steps)

Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__},
{a.threads} torch/ALE thread(s), {a.num_envs} envs. All rows measured in one run of
`python benchmarks/atari_throughput.py`; {a.steps:,} timed env steps after {LEARNING_STARTS:,} warm-up steps,
every row measured {a.repeats} times, interleaved, best of each shown (all runs in the JSON).

| what | env steps / s | ratio |
|---|---:|---:|
| raw ALE vector env ceiling (random actions) | {ceiling:,.0f} | |
| compute limit: env {1e3 / ceiling:.2f} ms + forward {costs['forward_ms']:.2f} ms / {a.num_envs} + update {costs['update_ms']:.2f} ms / 4 per step | {limit:,.0f} | 1.00 |
| arena training | {ours:,.0f} | {ours / limit:.2f} x limit |
| Stable-Baselines3 DQN training | {sb3} | arena = {vs} SB3 |

Both sides: Nature CNN, Adam (lr 2.5e-4), Huber loss, gradient norm clipped at 10, replay of {CAPACITY:,},
one gradient step on a batch of 32 every 4 env steps. Targets: arena >= 0.85 x the compute limit and >= 1.3 x SB3.
"""
    (RESULTS / "atari_throughput.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
