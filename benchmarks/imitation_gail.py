"""GAIL sample and time efficiency: arena against the ``imitation`` library, from the same demonstrations.

Both sides learn CartPole-v1 and Pendulum-v1 from the same expert episodes (1, 4 or 10), several seeds,
and are evaluated the same way: every ``eval_every`` env steps, 10 deterministic episodes on the true
reward. Measured: env steps and training wall time (evaluation excluded, on both sides) until the
evaluation mean first reaches the target, the last and best evaluations, and the curves.

Target return: ``random + 0.95 * (expert - random)``, 95% of the way from a uniform random policy to the
expert (for CartPole-v1 about 476 of 500; for Pendulum, whose returns are negative, "95% of the expert's
return" only makes sense this way). The expert return is the mean over the 10 recorded episodes.

Experts: CartPole-v1, the linear controller of tests/test_imitation.py (500 in every episode);
Pendulum-v1, an energy-pumping swing-up with a PD controller near the top (-155.0 over the 10 recorded
episodes; no training needed, so nothing to cache). Demonstrations are recorded once with ``replay.demos.record_dataset``
(a local Minari dataset under runs/bench-imitation/minari) and written again as an ``.npz`` of
trajectories for the imitation side; the 1- and 4-episode sets are the first episodes of the 10.

The imitation side (imitation 1.0.1, Stable-Baselines3 2.2.1 PPO generator, gymnasium 0.29) cannot share
arena's venv: on first use this script creates ``benchmarks/.venv-imitation`` (``python3.11 -m venv``,
pinned installs, CPU torch) and runs ``benchmarks/imitation_worker.py`` there once per run.

Matched settings (same env count, rollout length, PPO epochs and minibatches, networks, discriminator
width, depth and learning rate, discriminator steps per round); what still differs is listed in the
markdown. Each finished run is cached as JSON under runs/bench-imitation/results/, so the grid can be
filled over several sessions; the results files always show every cached run.

Usage: python benchmarks/imitation_gail.py [--envs CartPole-v1,Pendulum-v1] [--episodes 1,4,10] [--seeds 0,1,2]
       [--libs arena,imitation] [--max-steps N] [--arena-variant preset] [--report-only]
Writes benchmarks/results/imitation_gail.{json,md} and imitation_gail_{steps,time}.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import runners.onpolicy as onpolicy  # noqa: E402
from agents.gail.config import GAILConfig  # noqa: E402
from envs import spec_for  # noqa: E402
from replay.demos import load_demos, record_dataset  # noqa: E402
from runners.config import LogConfig  # noqa: E402
from runners.pg_config import PGTrainConfig  # noqa: E402
from runners.pg_presets import gail_cartpole, gail_pendulum  # noqa: E402
from runners.plot import read_metrics  # noqa: E402
from runners.train import train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BENCH = ROOT / "runs" / "bench-imitation"
CACHE = BENCH / "results"
MINARI_ROOT = BENCH / "minari"
VENV = ROOT / "benchmarks" / ".venv-imitation"
WORKER = ROOT / "benchmarks" / "imitation_worker.py"
# Exact pins: imitation 1.0.1 needs gymnasium ~0.29 and SB3 ~2.2.1; numpy < 2 for gymnasium 0.29; torch
# pinned as everywhere in arena (a CPU machine takes the CPU wheel, never the multi-GB CUDA default).
IMITATION_PINS = ["torch==2.13.0", "imitation==1.0.1", "stable-baselines3==2.2.1",
                  "gymnasium[classic-control]==0.29.1", "numpy==1.26.4"]
DEMO_SEED = 1
MAX_DEMO_EPISODES = 10
EVAL_EPISODES = 10
FRACTION = 0.95
ENV_SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"preset": gail_cartpole, "max_steps": 200_000, "eval_every": 2_048, "short": "cartpole"},
    "Pendulum-v1": {"preset": gail_pendulum, "max_steps": 300_000, "eval_every": 10_000, "short": "pendulum"},
}


# ----------------------------------------------------------------------------------------- experts


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    """The linear controller of tests/test_imitation.py: balances CartPole-v1 for all 500 steps."""
    return (obs @ np.array([0.1, 0.5, 3.0, 1.0]) > 0).astype(np.int64)


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    """Energy-pumping swing-up, PD control near the top (cos theta > 0.9); about -155 on Pendulum-v1.

    theta'' = 15 sin(theta) + 3 u, so E = theta_dot^2 / 2 + 15 cos(theta) is 15 at rest upright: below the
    top, push along theta_dot in proportion to the missing energy (saturating at the torque limit 2).
    """
    c, s, w = obs[:, 0], obs[:, 1], obs[:, 2]
    theta = np.arctan2(s, c)
    pd = -(8.0 * theta + 2.0 * w)
    pump = (15.0 - (0.5 * w**2 + 15.0 * c)) * np.sign(w + 1e-6)
    return np.clip(np.where(c > 0.9, pd, pump), -2.0, 2.0)[:, None].astype(np.float32)


EXPERTS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "CartPole-v1": (cartpole_expert, "linear controller (tests/test_imitation.py)"),
    "Pendulum-v1": (pendulum_expert, "energy-pumping swing-up + PD near the top"),
}


def demos_for(env_id: str, episodes: int) -> tuple[Path, Path]:
    """The Minari dataset of the first ``episodes`` expert episodes and its ``.npz`` twin (made once)."""
    name = f"{ENV_SETTINGS[env_id]['short']}-expert-{episodes}ep"
    dataset = MINARI_ROOT / "arena" / f"{name}-v0"
    npz = BENCH / "demos" / f"{name}.npz"
    if not (dataset / "data").is_dir():
        policy, what = EXPERTS[env_id]
        record_dataset(policy, env_id, episodes, DEMO_SEED, name, {"algorithm": what}, root=MINARI_ROOT)
    if not npz.exists():
        d = load_demos(str(dataset), spec_for(env_id))
        ends = np.flatnonzero(d.terminated | d.truncated)
        starts = np.concatenate([[0], ends[:-1] + 1])
        obs = np.concatenate([np.concatenate([d.obs[a:b + 1], d.next_obs[b:b + 1]]) for a, b in zip(starts, ends,
                                                                                                   strict=True)])
        npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(npz, obs=obs, acts=d.actions, lengths=ends - starts + 1, terminated=d.terminated[ends],
                 returns=d.episode_returns)
    return dataset, npz


def references(env_id: str) -> dict[str, float]:
    """Expert return (mean of the 10 recorded episodes), random-policy return (100 episodes), target."""
    path = BENCH / "references.json"
    refs = json.loads(path.read_text()) if path.exists() else {}
    if env_id not in refs:
        import gymnasium as gym
        _, npz = demos_for(env_id, MAX_DEMO_EPISODES)
        expert = float(np.load(npz)["returns"].mean())
        env = gym.make(env_id)
        env.action_space.seed(12345)
        rets = []
        for ep in range(100):
            env.reset(seed=10_000 + ep)
            total, done = 0.0, False
            while not done:
                _, r, term, trunc, _ = env.step(env.action_space.sample())
                total += float(r)
                done = term or trunc
            rets.append(total)
        env.close()
        rand = float(np.mean(rets))
        refs[env_id] = {"expert_return": expert, "random_return": rand,
                        "target": rand + FRACTION * (expert - rand)}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(refs, indent=1) + "\n")
    return dict(refs[env_id])


# ------------------------------------------------------------------------------------------- arena

# Settings changes tried in the benchmark only (the presets are untouched); "preset" is the preset with the
# generator's learning-rate annealing off, to match what SB3 PPO can do inside imitation's rounds.
ARENA_VARIANTS: dict[str, Callable[[GAILConfig], GAILConfig]] = {
    "preset": lambda g: g,
    "disc-lr-1e-4": lambda g: replace(g, disc_lr=1e-4),
    "logit-reward": lambda g: replace(g, reward_form="log D - log(1-D)"),
    "disc-steps-2": lambda g: replace(g, disc_steps=2),
    "bc-2000": lambda g: replace(g, bc_pretrain_steps=2_000),
    "gp-1": lambda g: replace(g, grad_penalty=1.0),
}


def arena_config(env_id: str, demos: Path, seed: int, max_steps: int, target: float | None, variant: str,
                 run_dir: Path) -> PGTrainConfig:
    s = ENV_SETTINGS[env_id]
    cfg: PGTrainConfig = s["preset"]()
    return replace(cfg, demos=str(demos), gail=ARENA_VARIANTS[variant](cfg.gail),
                   ppo=replace(cfg.ppo, anneal_lr=False),
                   runner=replace(cfg.runner, seed=seed, total_steps=max_steps, eval_every=s["eval_every"],
                                  eval_episodes=EVAL_EPISODES, target_return=target, checkpoint_every=0,
                                  device="cpu", torch_threads=1),
                   log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False, log_every=5_000))


def run_arena(env_id: str, episodes: int, seed: int, max_steps: int, target: float | None, variant: str,
              run_dir: Path) -> dict[str, Any]:
    dataset, _ = demos_for(env_id, episodes)
    cfg = arena_config(env_id, dataset, seed, max_steps, target, variant, run_dir)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted run starts over (results are only cached when complete)
    eval_seconds: list[float] = []
    original = onpolicy.evaluate_policy

    def timed(*args: Any, **kwargs: Any) -> Any:  # evaluation time, to leave it out of the training clock
        t = time.perf_counter()
        out = original(*args, **kwargs)
        eval_seconds.append(time.perf_counter() - t)
        return out

    onpolicy.evaluate_policy = timed  # type: ignore[assignment]
    t0 = time.perf_counter()
    try:
        result = train(cfg, run_dir)
    finally:
        onpolicy.evaluate_policy = original  # type: ignore[assignment]
    wall = time.perf_counter() - t0
    records: list[dict[str, Any]] = [r for r in read_metrics(run_dir) if r["kind"] == "eval"]
    assert len(records) == len(eval_seconds), (len(records), len(eval_seconds))
    evals: list[dict[str, Any]] = []
    spent = 0.0
    for rec, sec in zip(records, eval_seconds, strict=True):
        spent += sec
        evals.append({"step": rec["step"], "eval_mean": rec["eval_mean"], "eval_std": rec["eval_std"],
                      "train_seconds": round(float(rec["time"]) - spent, 3), "wall_seconds": rec["time"]})
    return {"steps": result.steps, "train_seconds": round(result.seconds - sum(eval_seconds), 3),
            "wall_seconds": round(wall, 3), "eval_seconds": round(sum(eval_seconds), 3), "evals": evals,
            "run_dir": str(run_dir.relative_to(ROOT))}


# --------------------------------------------------------------------------------------- imitation


def imitation_python() -> Path:
    """The imitation venv's python, created and installed on first use."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text().split() == IMITATION_PINS:
        return python
    base = shutil.which("python3.11") or sys.executable
    print(f"creating {VENV.relative_to(ROOT)} for imitation ({' '.join(IMITATION_PINS)}): a few minutes, once",
          flush=True)
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *IMITATION_PINS], check=True)
    stamp.write_text(" ".join(IMITATION_PINS) + "\n")
    return python


def imitation_settings(env_id: str, npz: Path, seed: int, max_steps: int, target: float | None,
                       stop_at_target: bool, log_dir: Path) -> dict[str, Any]:
    """The worker's settings, read off the arena preset so that both sides run the same numbers."""
    cfg: PGTrainConfig = ENV_SETTINGS[env_id]["preset"]()
    p, g, n = cfg.ppo, cfg.gail, cfg.env.num_envs
    rollout = p.rollout_length * n
    # imitation refuses expert batches larger than the demonstrations (arena samples with replacement): halve
    # the batch and double the steps, so that D still sees as many samples per round (1 Pendulum episode).
    demo_batch, disc_updates = g.disc_batch_size, g.disc_steps * max(rollout // g.disc_batch_size, 1)
    transitions = int(np.load(npz)["lengths"].sum())
    while demo_batch > transitions:
        demo_batch, disc_updates = demo_batch // 2, disc_updates * 2
    assert cfg.torso.kind == "mlp" and cfg.torso.hidden == g.disc_hidden
    return {
        "env_id": env_id, "seed": seed, "demos_npz": str(npz), "num_envs": n, "max_steps": max_steps,
        "eval_every": ENV_SETTINGS[env_id]["eval_every"], "eval_episodes": EVAL_EPISODES, "target": target,
        "stop_at_target": stop_at_target, "torch_threads": 1, "log_dir": str(log_dir),
        "hidden": list(cfg.torso.hidden), "activation": cfg.torso.activation,
        "obs_norm": cfg.net.obs_norm, "reward_norm": p.reward_scaling,
        # imitation checks that every episode has the same length unless told otherwise; CartPole's do not.
        "allow_variable_horizon": env_id == "CartPole-v1",
        "ppo": {"n_steps": p.rollout_length, "batch_size": rollout // p.num_minibatches, "n_epochs": p.epochs,
                "gamma": p.gamma, "gae_lambda": p.gae_lambda, "lr": p.lr, "clip": p.clip, "ent_coef": p.ent_coef,
                "vf_coef": p.value_coef, "max_grad_norm": p.max_grad_norm, "log_std_init": cfg.net.log_std_init},
        # arena: disc_steps passes over the rollout in minibatches of disc_batch_size, each against as many
        # expert samples; imitation: n_disc_updates_per_round steps of demo_batch_size expert + as many
        # generator samples drawn from a buffer holding the last rollout.
        "disc": {"hidden": list(cfg.torso.hidden) + list(g.disc_hidden), "lr": g.disc_lr,
                 "demo_batch_size": demo_batch, "n_disc_updates_per_round": disc_updates,
                 "gen_replay_buffer_capacity": rollout},
    }


def run_imitation(env_id: str, episodes: int, seed: int, max_steps: int, target: float | None,
                  stop_at_target: bool, run_dir: Path) -> dict[str, Any]:
    python = imitation_python()
    _, npz = demos_for(env_id, episodes)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    settings = imitation_settings(env_id, npz, seed, max_steps, target, stop_at_target, run_dir / "log")
    (run_dir / "settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TQDM_DISABLE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    with (run_dir / "worker.log").open("w") as log:
        subprocess.run([str(python), str(WORKER), "--settings", str(run_dir / "settings.json"),
                        "--out", str(run_dir / "result.json")], check=True, stdout=log, stderr=subprocess.STDOUT,
                       env=env, cwd=ROOT)
    out: dict[str, Any] = json.loads((run_dir / "result.json").read_text())
    out["process_seconds"] = round(time.perf_counter() - t0, 3)
    out["run_dir"] = str(run_dir.relative_to(ROOT))
    out["settings"] = settings
    return out


# ----------------------------------------------------------------------------------------- results


def reached(evals: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    return next((e for e in evals if e["eval_mean"] >= target), None)


def summarise(run: dict[str, Any], target: float) -> dict[str, Any]:
    hit = reached(run["evals"], target)
    means = [e["eval_mean"] for e in run["evals"]]
    return {"steps_to_target": hit["step"] if hit else None,
            "seconds_to_target": hit["train_seconds"] if hit else None,
            "final_return": means[-1] if means else None, "best_return": max(means) if means else None}


def cache_path(lib: str, env_id: str, episodes: int, seed: int, variant: str) -> Path:
    suffix = "" if lib == "imitation" or variant == "preset" else f"-{variant}"
    return CACHE / f"{lib}{suffix}-{env_id}-{episodes}ep-s{seed}.json"


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    import gymnasium
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "torch_threads": 1}


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per env and demo count: medians over seeds of each side (arena preset variant only) and the ratios.

    A seed that did not reach the target counts as its cap (the steps and training seconds it ran), a lower
    bound of its true value: a median over such seeds is a lower bound too, and the ratio then a bound.
    """
    rows = []
    for env_id in ENV_SETTINGS:
        for episodes in sorted({r["episodes"] for r in runs if r["env_id"] == env_id}):
            group = [r for r in runs if r["env_id"] == env_id and r["episodes"] == episodes]
            row: dict[str, Any] = {"env_id": env_id, "episodes": episodes}
            for lib in ("arena", "imitation"):
                mine = [r for r in group if r["lib"] == lib and r.get("variant", "preset") == "preset"]
                row[lib] = {"seeds": sorted(r["seed"] for r in mine),
                            "reached": sum(r["steps_to_target"] is not None for r in mine),
                            "median_steps": _median([r["steps_to_target"] or r["steps"] for r in mine]),
                            "median_seconds": _median([r["seconds_to_target"] or r["train_seconds"] for r in mine]),
                            "median_final": _median([r["final_return"] for r in mine]),
                            "median_sps": _median([r["steps"] / r["train_seconds"] for r in mine])}
            a, b = row["arena"], row["imitation"]
            missed_a, missed_b = len(a["seeds"]) - a["reached"], len(b["seeds"]) - b["reached"]
            for key in ("steps", "seconds"):
                ratio: dict[str, Any] = {"value": None, "kind": "n/a"}
                if a["seeds"] and b["seeds"] and not (missed_a and missed_b) and 2 * missed_a < len(a["seeds"]):
                    ratio["value"] = a[f"median_{key}"] / b[f"median_{key}"]
                    # imitation's median a lower bound: the true ratio is at most this; arena's: at least.
                    ratio["kind"] = "<=" if missed_b else (">=" if missed_a else "=")
                row[f"ratio_{key}"] = ratio
            # Each seed's own ratio (both sides of a seed from the same demonstrations, run back to back).
            pairs = {(r["lib"], r["seed"]): r for r in group if r.get("variant", "preset") == "preset"}
            row["per_seed"] = {seed: {k: round(pairs["arena", seed][f"{k}_to_target"]
                                               / pairs["imitation", seed][f"{k}_to_target"], 2)
                                      for k in ("steps", "seconds")}
                               for seed in sorted({sd for _, sd in pairs})
                               if ("arena", seed) in pairs and ("imitation", seed) in pairs
                               and pairs["arena", seed]["steps_to_target"] is not None
                               and pairs["imitation", seed]["steps_to_target"] is not None}
            rows.append(row)
    return rows


def _fmt_ratio(r: dict[str, Any]) -> str:
    if r["value"] is None:
        return "n/a"
    return f"{'' if r['kind'] == '=' else r['kind'] + ' '}{r['value']:.2f}x"


def _fmt(x: float | None, spec: str = ",.0f", none: str = "not reached") -> str:
    return none if x is None else format(x, spec)


def plot(runs: list[dict[str, Any]], refs: dict[str, dict[str, float]], x_key: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    envs = [e for e in ENV_SETTINGS if any(r["env_id"] == e for r in runs)]
    counts = sorted({r["episodes"] for r in runs})
    fig, axes = plt.subplots(len(envs), len(counts), figsize=(4.2 * len(counts), 3.3 * len(envs)), squeeze=False)
    colours = {"arena": "tab:blue", "imitation": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    for i, env_id in enumerate(envs):
        for j, episodes in enumerate(counts):
            ax = axes[i][j]
            for r in sorted(runs, key=lambda r: (r["lib"], r.get("variant", "preset"), r["seed"])):
                if r["env_id"] != env_id or r["episodes"] != episodes:
                    continue
                variant = r.get("variant", "preset")
                label = r["lib"] + ("" if variant == "preset" else f" ({variant})") + f" s{r['seed']}"
                xs = [e[x_key] / (1e3 if x_key == "step" else 1) for e in r["evals"]]
                colour = colours[r["lib"]] if variant == "preset" else None
                ax.plot(xs, [e["eval_mean"] for e in r["evals"]], styles[r["seed"] % len(styles)], color=colour,
                        label=label, lw=1.4)
            if not any(r["env_id"] == env_id and r["episodes"] == episodes for r in runs):
                ax.text(0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes, fontsize=9)
            ref = refs[env_id]
            ax.axhline(ref["expert_return"], color="grey", lw=0.8, label="expert")
            ax.axhline(ref["target"], color="black", ls=":", lw=0.8, label="target")
            ax.set_title(f"{env_id}, {episodes} demo episode{'s' if episodes > 1 else ''}", fontsize=9)
            ax.set_xlabel("env steps (thousands)" if x_key == "step" else "training wall time (s)", fontsize=8)
            ax.set_ylabel("eval return (10 episodes)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(runs: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    refs = {e: references(e) for e in ENV_SETTINGS if any(r["env_id"] == e for r in runs)}
    rows = aggregate(runs)
    m = machine()
    versions: dict[str, str] = next((r["versions"] for r in runs if r["lib"] == "imitation"), {})
    result = {"machine": m, "imitation_side": versions, "references": refs, "fraction": FRACTION,
              "eval_episodes": EVAL_EPISODES, "summary": rows,
              "runs": [{k: v for k, v in r.items() if k != "settings"} for r in runs]}
    (RESULTS / "imitation_gail.json").write_text(json.dumps(result, indent=1) + "\n")
    if runs:
        plot(runs, refs, "step", RESULTS / "imitation_gail_steps.png")
        plot(runs, refs, "train_seconds", RESULTS / "imitation_gail_time.png")

    ref_lines = "\n".join(f"- {e}: expert {v['expert_return']:.1f} ({EXPERTS[e][1]}), random "
                          f"{v['random_return']:.1f}, target {v['target']:.1f}" for e, v in refs.items())
    summary = ["| env | demo episodes | seeds (arena / imitation) | arena steps | imitation steps | steps ratio | "
               "arena time (s) | imitation time (s) | time ratio | final return (arena / imitation) | "
               "env steps / training s (arena / imitation) |",
               "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        a, b = row["arena"], row["imitation"]

        def cell(side: dict[str, Any], key: str) -> str:
            if not side["seeds"]:
                return "not run"
            n, k = len(side["seeds"]), side["reached"]
            if 2 * (n - k) >= n + (n % 2 == 0):  # the median itself is a seed that missed
                return f"> {side[f'median_{key}']:,.0f} ({k}/{n})"
            return f"{side[f'median_{key}']:,.0f}" + ("" if k == n else f" ({k}/{n})")
        seeds = f"{a['seeds'] or '-'} / {b['seeds'] or '-'}"
        finals = f"{_fmt(a['median_final'], '.1f', '-')} / {_fmt(b['median_final'], '.1f', '-')}"
        speed = f"{_fmt(a['median_sps'], ',.0f', '-')} / {_fmt(b['median_sps'], ',.0f', '-')}"
        summary.append(f"| {row['env_id']} | {row['episodes']} | {seeds} | {cell(a, 'steps')} | "
                       f"{cell(b, 'steps')} | {_fmt_ratio(row['ratio_steps'])} | "
                       f"{cell(a, 'seconds')} | {cell(b, 'seconds')} | "
                       f"{_fmt_ratio(row['ratio_seconds'])} | {finals} | {speed} |")
    per_seed = [f"- {row['env_id']}, {row['episodes']} episode(s): " + ", ".join(
        f"s{seed} {v['steps']:.2f}x steps / {v['seconds']:.2f}x time" for seed, v in row["per_seed"].items())
        for row in rows if row["per_seed"]]
    verdicts = []
    for row in rows:
        parts = []
        for key, what in (("steps", "env steps"), ("seconds", "wall time")):
            r = row[f"ratio_{key}"]
            if r["value"] is None:
                parts.append(f"{what} untested")
            elif r["value"] <= 0.5 and r["kind"] in ("=", "<="):
                parts.append(f"{what} met ({_fmt_ratio(r)})")
            elif r["value"] > 0.5 and r["kind"] in ("=", ">="):
                parts.append(f"{what} missed ({_fmt_ratio(r)})")
            else:
                parts.append(f"{what} undecided ({_fmt_ratio(r)})")
        n = min(len(row["arena"]["seeds"]), len(row["imitation"]["seeds"]))
        verdicts.append(f"- {row['env_id']}, {row['episodes']} episode(s), {n} seed(s): " + "; ".join(parts))
    per_run = ["| library | variant | env | demo episodes | seed | steps run | steps to target | "
               "training s to target | training s (all) | env steps / training s | final return | best return |",
               "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(runs, key=lambda r: (r["env_id"], r["episodes"], r["seed"], r["lib"], r.get("variant", ""))):
        per_run.append(f"| {r['lib']} | {r.get('variant', '-') if r['lib'] == 'arena' else '-'} | {r['env_id']} | "
                       f"{r['episodes']} | {r['seed']} | {r['steps']:,} | {_fmt(r['steps_to_target'])} | "
                       f"{_fmt(r['seconds_to_target'], ',.1f')} | {r['train_seconds']:,.1f} | "
                       f"{r['steps'] / max(r['train_seconds'], 1e-9):,.0f} | "
                       f"{_fmt(r['final_return'], '.1f', '-')} | {_fmt(r['best_return'], '.1f', '-')} |")
    imitation_versions = ", ".join(f"{k} {v}" for k, v in versions.items()) or "not run yet"
    md = f"""# GAIL: arena against imitation, from the same demonstrations

Machine: {m['cpu']}, {m['cores']} cores (shared with other work), Python {m['python']}, one torch thread per
run, runs one at a time. arena: torch {m['torch']}, gymnasium {m['gymnasium']}. imitation side (its own venv,
`benchmarks/.venv-imitation`): {imitation_versions}. Written by `python benchmarks/imitation_gail.py` from every
run cached so far under `runs/bench-imitation/results/`; curves: `imitation_gail_steps.png` (return against
env steps) and `imitation_gail_time.png` (against training wall time).

Target return = random + {FRACTION} x (expert - random), from the expert's 10 recorded episodes and 100
uniform-random episodes:
{ref_lines}

Steps and time to target: the first evaluation (10 deterministic episodes on the true reward, every
{ENV_SETTINGS['CartPole-v1']['eval_every']:,} env steps on CartPole-v1 and {ENV_SETTINGS['Pendulum-v1']['eval_every']:,}
on Pendulum-v1) whose mean reaches the target; medians over seeds, a seed that missed counting as its cap
(k/n: k of n seeds reached it; "> x": the median seed missed, within x).
Time is training wall time with evaluation taken out, on both sides. Runs stop at the first evaluation that
reaches the target (as arena's runner does with a target return), so "final return" is the return there, or
at the step cap. Ratios are arena / imitation: the issue's targets are <= 0.5x in env steps and <= 0.5x in wall
time. "<= x": some imitation seeds missed the target within their cap, so the true ratio is at most x
(">= x" the same for arena). Curves stop at the target.

## Summary (arena preset settings, medians over seeds)

{chr(10).join(summary)}

Targets (arena <= 0.5x imitation, on the medians):
{chr(10).join(verdicts) or "- nothing run yet"}

Reading the table: both sides run the same algorithm with the same settings, so the env steps they need differ
by seed noise and implementation details (below), not by design; where arena is ahead in wall time and not in
steps, the difference is throughput (last column: env steps per training second, evaluation excluded). Steps
to target are also quantised by the evaluation interval, and a single 10-episode evaluation decides a crossing.

Each seed's own ratios (arena / imitation, same seed, both reached the target):
{chr(10).join(per_seed) or "- none yet"}

## Every run

{chr(10).join(per_run)}

## Settings

Both sides, from arena's presets (`gail-cartpole`, `gail-pendulum`) read by the script:
- CartPole-v1: 8 envs x 32 steps per round (256 env steps), PPO 10 epochs of 4 minibatches (64 samples), gamma
  0.98, GAE lambda 0.8, Adam lr 1e-3 (constant), clip 0.2, value coefficient 0.5, no entropy bonus, gradient norm
  0.5, separate 64x64 tanh MLPs, orthogonal init. Discriminator: 4 Adam steps (lr 3e-4) per round, each on 64
  expert + 64 generator samples from the round's rollout; 4 hidden tanh layers of 64; reward -log(1 - D).
- Pendulum-v1: 4 envs x 256 steps per round (1,024 env steps), PPO 10 epochs of 16 minibatches (64 samples),
  gamma 0.9, lambda 0.95, lr 1e-3, clip 0.2, Gaussian policy (state-independent log-std, initial 0), observation
  normalisation, reward scaling by the running discounted-return std. Discriminator: 4 steps per round of 256 +
  256 samples, lr 3e-4, 4 x 64 tanh, reward -log(1 - D).

What differs:
- Generator learning rate: constant on both sides (arena's presets anneal it linearly; SB3 PPO inside
  imitation is called once per round with `reset_num_timesteps=False`, so its schedule cannot span the run).
- Discriminator shape: arena's is a 64x64 torso over the observation, then 64x64 over [features, action];
  imitation's `BasicRewardNet` is one MLP (4 x 64, tanh) over [observation, action] (action one-hot for
  CartPole). Same depth and width, the action enters two layers earlier. Neither normalises D's inputs.
- Discriminator batches: arena makes one shuffled pass over the rollout (each generator sample used once);
  imitation samples each step's generator batch from a buffer holding the last rollout (with repeats).
  imitation multiplies D by nothing else (no entropy bonus, no gradient penalty), as arena's presets.
- Pendulum normalisation: arena normalises observations inside the policy network and scales rewards in
  the learner; imitation's generator gets SB3's `VecNormalize` (obs clipped at 10, rewards at 10) on top of
  imitation's reward wrapper (D still sees raw observations).
- Pendulum-v1 from 1 episode (200 transitions): imitation refuses an expert batch larger than the
  demonstrations, so its discriminator takes 8 steps of 128 + 128 samples per round instead of 4 of 256.
- CartPole-v1 episodes vary in length: imitation needs `allow_variable_horizon=True` (its docs warn that
  episode ends can leak reward information; arena's runner has no such check). Same reward form on both.
- Evaluation: the same protocol (10 deterministic episodes every N env steps, at the first round boundary past
  each multiple), but different episode seeds; arena evaluates on gymnasium 1.2.2, imitation on 0.29.1.
- Weight initialisation and random streams differ; each library seeds its own.
"""
    (RESULTS / "imitation_gail.md").write_text(md)


def load_cached() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(CACHE.glob("*.json"))] if CACHE.is_dir() else []


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", default="CartPole-v1,Pendulum-v1")
    p.add_argument("--episodes", default="1,4,10", help="demo episode counts")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--libs", default="arena,imitation")
    p.add_argument("--max-steps", type=int, default=None, help="env-step cap per run (default: 200k CartPole, "
                   "300k Pendulum)")
    p.add_argument("--imitation-max-steps", type=int, default=None, help="cap for imitation only (default: "
                   "--max-steps)")
    p.add_argument("--arena-variant", default="preset", choices=sorted(ARENA_VARIANTS),
                   help="arena GAIL settings change (benchmark only); 'preset' is what the summary compares")
    p.add_argument("--no-stop-at-target", action="store_true", help="run every run to its cap")
    p.add_argument("--force", action="store_true", help="rerun runs that are cached")
    p.add_argument("--report-only", action="store_true", help="rewrite the results files from the cache")
    a = p.parse_args()
    torch.set_num_threads(1)
    os.environ["MINARI_DATASETS_PATH"] = str(MINARI_ROOT)
    if not a.report_only:
        for env_id in a.envs.split(","):
            if env_id not in ENV_SETTINGS:
                p.error(f"unknown env {env_id}; choose from {', '.join(ENV_SETTINGS)}")
            target = references(env_id)["target"]
            for episodes in (int(x) for x in a.episodes.split(",")):
                for seed in (int(x) for x in a.seeds.split(",")):
                    for lib in a.libs.split(","):
                        cap = a.max_steps or ENV_SETTINGS[env_id]["max_steps"]
                        if lib == "imitation" and a.imitation_max_steps:
                            cap = a.imitation_max_steps
                        variant = a.arena_variant if lib == "arena" else "preset"
                        path = cache_path(lib, env_id, episodes, seed, variant)
                        if path.exists() and not a.force:
                            old = json.loads(path.read_text())
                            if old["steps_to_target"] is not None or old["steps"] >= cap:
                                print(f"cached: {path.name}", flush=True)
                                continue
                        name = path.stem
                        print(f"running {name} (cap {cap:,} env steps)", flush=True)
                        stop = not a.no_stop_at_target
                        if lib == "arena":
                            out = run_arena(env_id, episodes, seed, cap, target if stop else None, variant,
                                            BENCH / name)
                        elif lib == "imitation":
                            out = run_imitation(env_id, episodes, seed, cap, target, stop, BENCH / name)
                        else:
                            p.error(f"unknown library {lib}")
                        out.update(lib=lib, env_id=env_id, episodes=episodes, seed=seed, cap=cap,
                                   stop_at_target=stop, **({"variant": variant} if lib == "arena" else {}))
                        out.update(summarise(out, target))
                        CACHE.mkdir(parents=True, exist_ok=True)
                        path.write_text(json.dumps(out, indent=1) + "\n")
                        print(f"  {name}: steps to target {out['steps_to_target']}, training s "
                              f"{out['seconds_to_target']}, final {out['final_return']:.1f}", flush=True)
                        write_results(load_cached())
    write_results(load_cached())
    print((RESULTS / "imitation_gail.md").read_text())


if __name__ == "__main__":
    main()
