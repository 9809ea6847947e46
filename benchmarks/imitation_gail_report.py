"""Results of benchmarks/imitation_gail.py: each run's summary (steps and training time to the target
return), the machine, the per-env and per-demo-count medians and arena / imitation ratios, the curves
(matplotlib) and the markdown page.

Everything here works from finished runs and the reference returns; the curves and the markdown need only what
benchmarks/results/imitation_gail.json holds, so ``--report-only`` redraws them from it without the run cache.
"""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path
from typing import Any

import torch


def reached(evals: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    return next((e for e in evals if e["eval_mean"] >= target), None)


def summarise(run: dict[str, Any], target: float) -> dict[str, Any]:
    hit = reached(run["evals"], target)
    means = [e["eval_mean"] for e in run["evals"]]
    return {"steps_to_target": hit["step"] if hit else None,
            "seconds_to_target": hit["train_seconds"] if hit else None,
            "final_return": means[-1] if means else None, "best_return": max(means) if means else None}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    import gymnasium
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "gymnasium": gymnasium.__version__, "torch_threads": 1}


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def aggregate(runs: list[dict[str, Any]], env_ids: list[str]) -> list[dict[str, Any]]:
    """Per env and demo count: medians over seeds of each side (arena preset variant only) and the ratios.

    A seed that did not reach the target counts as its cap (the steps and training seconds it ran), a lower
    bound of its true value: a median over such seeds is a lower bound too, and the ratio then a bound.
    """
    rows = []
    for env_id in env_ids:
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


def plot(runs: list[dict[str, Any]], refs: dict[str, dict[str, float]], x_key: str, path: Path,
         env_ids: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    envs = [e for e in env_ids if any(r["env_id"] == e for r in runs)]
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


def markdown(result: dict[str, Any], experts: dict[str, str], eval_every: dict[str, int]) -> str:
    """The results page from the results JSON (``experts``: each env's expert in words; ``eval_every``: each
    env's evaluation interval in env steps)."""
    m, refs, rows, runs = result["machine"], result["references"], result["summary"], result["runs"]
    versions: dict[str, str] = result["imitation_side"]
    ref_lines = "\n".join(f"- {e}: expert {v['expert_return']:.1f} ({experts[e]}), random "
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

Target return = random + {result['fraction']} x (expert - random), from the expert's 10 recorded episodes and 100
uniform-random episodes:
{ref_lines}

Steps and time to target: the first evaluation (10 deterministic episodes on the true reward, every
{eval_every['CartPole-v1']:,} env steps on CartPole-v1 and {eval_every['Pendulum-v1']:,}
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
    return md
