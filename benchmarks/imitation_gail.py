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
Writes benchmarks/results/imitation_gail.{json,md} and imitation_gail_{steps,time}.png (``--report-only``: the
markdown and the curves only, from the JSON as recorded); the summaries, curves and markdown are in
benchmarks/imitation_gail_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

import runners.local.pg as onpolicy  # noqa: E402
from agents.gail.config import GAILConfig  # noqa: E402
from benchmarks.imitation_gail_report import aggregate, machine, markdown, plot, summarise  # noqa: E402
from envs import spec_for  # noqa: E402
from replay.demos import load_demos, record_dataset  # noqa: E402
from runners.api import train  # noqa: E402
from runners.families.common import LogConfig  # noqa: E402
from runners.families.imitation_presets import gail_cartpole, gail_pendulum  # noqa: E402
from runners.families.pg import PGTrainConfig  # noqa: E402
from runners.local.plot import read_metrics  # noqa: E402

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
    "logd-reward": lambda g: replace(g, reward_form="log D"),
    "softplus-reward": lambda g: replace(g, reward_form="-log(1-D)"),  # explicit, whatever the preset's default
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


def cache_path(lib: str, env_id: str, episodes: int, seed: int, variant: str) -> Path:
    suffix = "" if lib == "imitation" or variant == "preset" else f"-{variant}"
    return CACHE / f"{lib}{suffix}-{env_id}-{episodes}ep-s{seed}.json"


def write_results(runs: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    refs = {e: references(e) for e in ENV_SETTINGS if any(r["env_id"] == e for r in runs)}
    rows = aggregate(runs, list(ENV_SETTINGS))
    m = machine()
    versions: dict[str, str] = next((r["versions"] for r in runs if r["lib"] == "imitation"), {})
    result = {"machine": m, "imitation_side": versions, "references": refs, "fraction": FRACTION,
              "eval_episodes": EVAL_EPISODES, "summary": rows,
              "runs": [{k: v for k, v in r.items() if k != "settings"} for r in runs]}
    (RESULTS / "imitation_gail.json").write_text(json.dumps(result, indent=1) + "\n")
    write_pages(result)


def write_pages(result: dict[str, Any]) -> None:
    """The curves and the markdown from the results JSON's contents only (its runs keep their evaluations), so
    that ``--report-only`` redraws them without the run cache."""
    runs, refs = result["runs"], result["references"]
    if runs:
        plot(runs, refs, "step", RESULTS / "imitation_gail_steps.png", list(ENV_SETTINGS))
        plot(runs, refs, "train_seconds", RESULTS / "imitation_gail_time.png", list(ENV_SETTINGS))
    md = markdown(result, {e: what for e, (_, what) in EXPERTS.items()},
                  {e: s["eval_every"] for e, s in ENV_SETTINGS.items()})
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
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown and curves from benchmarks/results/imitation_gail.json (no runs)")
    a = p.parse_args()
    if a.report_only:
        # The recorded JSON alone, left as it is: the run cache is absent on a fresh clone, and the machine line
        # must stay the measuring machine's.
        write_pages(json.loads((RESULTS / "imitation_gail.json").read_text()))
        print((RESULTS / "imitation_gail.md").read_text())
        return
    torch.set_num_threads(1)
    os.environ["MINARI_DATASETS_PATH"] = str(MINARI_ROOT)
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
                        out = run_arena(env_id, episodes, seed, cap, target if stop else None, variant, BENCH / name)
                    elif lib == "imitation":
                        out = run_imitation(env_id, episodes, seed, cap, target, stop, BENCH / name)
                    else:
                        p.error(f"unknown library {lib}")
                    out.update(lib=lib, env_id=env_id, episodes=episodes, seed=seed, cap=cap, stop_at_target=stop,
                               **({"variant": variant} if lib == "arena" else {}))
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
