"""GAIL's three learned-reward forms on survival tasks and on a termination-goal task.

Measures arena's GAIL (PPO generator) with each reward form of ``agents.gail.config.RewardForm``:
``-log(1-D)`` (always positive: a survival bonus), ``log D`` (always negative: a per-step cost that pushes
to end episodes early) and ``log D - log(1-D)`` (the logit, AIRL's form, either sign), from 4 expert
episodes, seeds 0, 1, 2, on CartPole-v1 (survival, cap 100k env steps), Pendulum-v1 (fixed length, cap
200k) and MountainCar-v0 (termination goal: the episode ends at the flag, cap 200k). A run stops at the
first evaluation (10 deterministic episodes on the true reward) that reaches the target
``random + 0.95 * (expert - random)``, as in ``benchmarks/imitation_gail.py``.

Everything but MountainCar comes from ``benchmarks/imitation_gail.py``: experts, demonstrations (same
seed, the first 4 of the 10 recorded episodes), references, run settings (its ``arena_config``: the preset
with the generator's LR annealing off, one torch thread) and the run itself (``run_arena``). MountainCar-v0
is added to its tables in this process only: a scripted energy-pumping expert (push along the velocity,
about -120 per episode; uniform random -200) and the ``gail-cartpole`` preset with the env id changed and the
policy's observations normalised (``--mountaincar-raw-obs`` runs it without, for the note under the table).

Each finished run is cached as JSON under runs/bench-gail-forms/results/, so the script resumes where it
stopped; the results files always show every cached run and name the missing ones (the summary is over seeds
0-2; runs of other seeds, e.g. ``--seeds 3,4,5``, get a second table over every seed). ``--report-only``
rewrites only the markdown, from benchmarks/results/gail_reward_forms.json (the cache may be absent).

Usage: python benchmarks/gail_reward_forms.py [--envs MountainCar-v0,CartPole-v1,Pendulum-v1]
       [--forms all] [--seeds 0,1,2] [--force] [--mountaincar-raw-obs] [--report-only]
Writes benchmarks/results/gail_reward_forms.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.gail.config import RewardForm  # noqa: E402
from agents.gail.discriminator import auto_reward_form  # noqa: E402
from benchmarks.imitation_gail import (  # noqa: E402
    ENV_SETTINGS,
    EVAL_EPISODES,
    EXPERTS,
    FRACTION,
    MINARI_ROOT,
    demos_for,
    references,
    run_arena,
)
from benchmarks.imitation_gail_report import machine, summarise  # noqa: E402
from envs import spec_for  # noqa: E402
from replay.demos import load_demos  # noqa: E402
from runners.families.imitation_presets import gail_cartpole  # noqa: E402
from runners.families.pg import PGTrainConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BENCH = ROOT / "runs" / "bench-gail-forms"
CACHE = BENCH / "results"
RAW_OBS = BENCH / "results-raw-obs"  # MountainCar runs with gail-cartpole's raw observations (see gail_mountaincar)
EPISODES = 4
SEEDS = (0, 1, 2)
# Most informative first: the termination task, where the forms are expected to differ most.
ENVS = ("MountainCar-v0", "CartPole-v1", "Pendulum-v1")
CAPS = {"MountainCar-v0": 200_000, "CartPole-v1": 100_000, "Pendulum-v1": 200_000}
KIND = {"MountainCar-v0": "termination goal", "CartPole-v1": "survival", "Pendulum-v1": "fixed length"}
# Reward form -> imitation_gail's ARENA_VARIANTS entry that sets it (the first is the current default).
FORMS: dict[RewardForm, str] = {"-log(1-D)": "softplus-reward", "log D": "logd-reward",
                                "log D - log(1-D)": "logit-reward"}


def mountaincar_expert(obs: np.ndarray) -> np.ndarray:
    """Energy pumping: push along the velocity (2 if velocity >= 0, else 0); about -120 on MountainCar-v0."""
    return np.where(obs[:, 1] >= 0.0, 2, 0).astype(np.int64)


def gail_mountaincar(obs_norm: bool = True) -> PGTrainConfig:
    """``gail-cartpole`` (PPO generator, discrete actions) with the env id changed and the policy's observations
    normalised (as in ``gail-pendulum``): MountainCar's velocity is within +-0.07, and without the normalisation no
    form learned it (0 of 9 runs, 3 forms x 3 seeds, reached the target; all ended at -200;
    ``--mountaincar-raw-obs``)."""
    base = gail_cartpole()
    return replace(base, preset="gail-mountaincar", env=replace(base.env, id="MountainCar-v0"),
                   net=replace(base.net, obs_norm=obs_norm))


# imitation_gail's experts and per-env settings are keyed by env id: add MountainCar there, in this process only.
ENV_SETTINGS.setdefault("MountainCar-v0", {"preset": gail_mountaincar, "max_steps": CAPS["MountainCar-v0"],
                                           "eval_every": 4_096, "short": "mountaincar"})
EXPERTS.setdefault("MountainCar-v0", (mountaincar_expert, "energy pumping: push along the velocity"))


def slug(form: RewardForm) -> str:
    return FORMS[form].removesuffix("-reward")


def cache_path(env_id: str, form: RewardForm, seed: int, where: Path = CACHE) -> Path:
    return where / f"{ENV_SETTINGS[env_id]['short']}-{slug(form)}-{EPISODES}ep-s{seed}.json"


def normalised(ret: float | None, refs: dict[str, float]) -> float | None:
    """(return - random) / (expert - random): 0 is the random policy, 1 the expert."""
    if ret is None:
        return None
    return (ret - refs["random_return"]) / (refs["expert_return"] - refs["random_return"])


def run_one(env_id: str, form: RewardForm, seed: int, where: Path = CACHE) -> dict[str, Any]:
    refs = references(env_id)
    path = cache_path(env_id, form, seed, where)
    run_dir = BENCH / path.stem if where == CACHE else BENCH / f"{where.name}-{path.stem}"
    out = run_arena(env_id, EPISODES, seed, CAPS[env_id], refs["target"], FORMS[form], run_dir)
    out.update(env_id=env_id, form=form, variant=FORMS[form], episodes=EPISODES, seed=seed, cap=CAPS[env_id])
    out.update(summarise(out, refs["target"]))
    out.update(final_normalised=normalised(out["final_return"], refs),
               best_normalised=normalised(out["best_return"], refs))
    where.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def load_cached(where: Path = CACHE) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(where.glob("*.json"))] if where.is_dir() else []


def _median(xs: list[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


def summary(runs: list[dict[str, Any]], seeds: tuple[int, ...] | None = SEEDS) -> list[dict[str, Any]]:
    """Per env x form over ``seeds`` (None: all): targets reached, median steps (a missed seed counts as the steps
    it ran), scores."""
    rows = []
    for env_id in ENVS:
        for form in FORMS:
            mine = [r for r in runs if r["env_id"] == env_id and r["form"] == form
                    and (seeds is None or r["seed"] in seeds)]
            done = {r["seed"] for r in mine}
            rows.append({"env_id": env_id, "form": form, "seeds": sorted(done),
                         "missing_seeds": [s for s in SEEDS if s not in done],
                         "reached": sum(r["steps_to_target"] is not None for r in mine),
                         "median_steps": _median([r["steps_to_target"] or r["steps"] for r in mine]),
                         "median_final_normalised": _median([r["final_normalised"] for r in mine]),
                         "median_best_normalised": _median([r["best_normalised"] for r in mine]),
                         "median_train_seconds": _median([r["train_seconds"] for r in mine])})
    return rows


def reading(rows: list[dict[str, Any]], all_rows: list[dict[str, Any]]) -> str:
    """A factual paragraph from the numbers: per env, each form's targets, steps and score; which forms work on every
    env (over the main seeds); then the targets over every seed run, where other seeds were run too."""
    parts = []
    for env_id in ENVS:
        mine = [r for r in rows if r["env_id"] == env_id and r["seeds"]]
        bits = [f"`{r['form']}` {r['reached']}/{len(r['seeds'])} (median "
                f"{'>= ' if 2 * r['reached'] < len(r['seeds']) else ''}{_fmt(r['median_steps'])} steps, final "
                f"score {_fmt(r['median_final_normalised'], 2)})" for r in mine]
        parts.append(f"{env_id} ({KIND[env_id]}): " + (", ".join(bits) if bits else "no runs yet") + ".")

    def worst(form: RewardForm) -> float:  # the lowest per-env share of seeds that reached the target
        return min((r["reached"] / len(r["seeds"]) for r in rows if r["form"] == form and r["seeds"]), default=0.0)

    alike = [f for f in FORMS if worst(f) > 0.5]
    ranked = sorted(FORMS, key=lambda f: -worst(f))
    if len(alike) == 1:
        verdict = f"Only `{alike[0]}` reached the target on most seeds of every env."
    elif alike:
        verdict = ("Forms that reached the target on most seeds of every env: "
                   + ", ".join(f"`{f}`" for f in alike) + ".")
    else:
        verdict = (f"No form reached the target on most seeds of every env; the best worst-env share is "
                   f"`{ranked[0]}`'s {worst(ranked[0]):.0%}.")
    done = sum(len(r["seeds"]) for r in rows)
    expected = len(ENVS) * len(FORMS) * len(SEEDS)
    missing = f" Runs done: {done} of {expected} (missing seeds are listed in the table)." if done < expected else ""
    more = [r for r in all_rows if len(r["seeds"]) > len([x for x in r["seeds"] if x in SEEDS])]
    if more:
        missing += (" Over every seed run (" + "; ".join(f"{r['env_id']} `{r['form']}` {r['reached']}/{len(r['seeds'])}"
                                                         for r in more) + ").")
    return " ".join(parts) + " " + verdict + missing


def auto_choices() -> dict[str, dict[str, str]]:
    """What ``--gail.reward-form auto`` (the default) picks from each env's demonstrations, and why."""
    out = {}
    for env_id in ENVS:
        dataset, _ = demos_for(env_id, EPISODES)
        d = load_demos(str(dataset), spec_for(env_id))
        form, why = auto_reward_form(d.terminated, d.truncated)
        out[env_id] = {"form": form, "why": why}
    return out


def auto_lines(rows: list[dict[str, Any]], auto: dict[str, dict[str, str]]) -> list[str]:
    """The default's result per env: the runs of the fixed form it picks (the same configuration, so the same runs)."""
    out = []
    for env_id, pick in auto.items():
        r = next((r for r in rows if r["env_id"] == env_id and r["form"] == pick["form"]), None)
        if r is not None and r["seeds"]:
            out.append(f"- {env_id}: `{pick['form']}` ({pick['why']}): {r['reached']}/{len(r['seeds'])} seeds "
                       f"reached the target, median final score {_fmt(r['median_final_normalised'], 2)}")
    return out


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:,.{digits}f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The summary rows as markdown table lines."""
    out = ["| env | reward form | seeds run | reached target | median steps to target | median final score "
           "| median best score | median training s |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        n = len(r["seeds"])
        steps = _fmt(r["median_steps"]) if n else "-"
        if n and 2 * (n - r["reached"]) > n:
            steps = f">= {steps}"  # the median seed missed: it ran to its cap
        seeds = f"{r['seeds']}" + (f", missing {r['missing_seeds']}" if r["missing_seeds"] else "")
        out.append(f"| {r['env_id']} | `{r['form']}` | {seeds} | {r['reached']}/{n} | {steps} | "
                   f"{_fmt(r['median_final_normalised'], 2)} | {_fmt(r['median_best_normalised'], 2)} | "
                   f"{_fmt(r['median_train_seconds'])} |")
    return out


def markdown(result: dict[str, Any]) -> str:
    rows, runs, refs = result["summary"], result["runs"], result["references"]
    m = result["machine"]
    out = ["# GAIL reward forms on survival and termination tasks", "",
           "**Reading.** " + reading(rows, result["summary_all_seeds"]), "",
           f"Written by `python benchmarks/gail_reward_forms.py` from every run cached under "
           f"`runs/bench-gail-forms/results/`. Machine: {m['cpu']}, {m['cores']} cores (shared with other work), "
           f"Python {m['python']}, torch {m['torch']}, gymnasium {m['gymnasium']}, one torch thread, one run at a "
           f"time.", "",
           f"Setup: arena GAIL with a PPO generator, {result['episodes']} expert episodes, seeds {list(SEEDS)}; "
           "settings of `benchmarks/imitation_gail.py` (the `gail-cartpole` / `gail-pendulum` preset with the "
           "generator's LR annealing off); MountainCar-v0 uses `gail-cartpole` with the env id changed and the "
           "policy's observations normalised (`net.obs_norm=True`, as in `gail-pendulum`). Only the reward form "
           f"differs between rows. A run stops at the first evaluation ({result['eval_episodes']} deterministic "
           f"episodes on the true reward) whose mean reaches the target, random + {result['fraction']} x (expert - "
           "random), or at its cap (CartPole 100k, Pendulum 200k, MountainCar 200k env steps). Score = (return - "
           "random) / (expert - random): 0 random, 1 expert; 'final' is the return at the stop. Runs are "
           "reproducible per seed (the discriminator's initial weights are seeded, agents/gail/reward_model.py).", ""]
    for env_id in ENVS:
        if env_id in refs:
            r = refs[env_id]
            out.append(f"- {env_id} ({KIND[env_id]}; expert: {EXPERTS[env_id][1]}): expert {r['expert_return']:.1f}, "
                       f"random {r['random_return']:.1f}, target {r['target']:.1f}; evaluation every "
                       f"{ENV_SETTINGS[env_id]['eval_every']:,} env steps")
    raw = result.get("mountaincar_raw_obs", [])
    if raw:
        out += ["", f"MountainCar-v0 with `gail-cartpole`'s settings unchanged (raw observations: the velocity is "
                f"within +-0.07): {sum(r['steps_to_target'] is not None for r in raw)} of {len(raw)} runs (all "
                f"forms, seeds {sorted({r['seed'] for r in raw})}) reached the target, best return "
                f"{max(r['best_return'] for r in raw):.1f}; the runs above normalise the policy's observations."]
    auto = result.get("auto", {})
    if auto:
        out += ["", "## The default, `--gail.reward-form auto`", "",
                "It picks `-log(1-D)` when most expert episodes run to the time limit and the logit when most end "
                "by termination (agents/gail/discriminator.py `auto_reward_form`). Per env, from the demonstrations "
                "above, over every seed run:", "", *auto_lines(result["summary_all_seeds"], auto)]
    out += ["", f"## Summary (medians over seeds {list(SEEDS)})", "", *table(rows)]
    extra = sorted({r["seed"] for r in runs} - set(SEEDS))
    if extra:
        out += ["", f"## All seeds run (also {extra}; medians over every cached seed)", "",
                *table(result["summary_all_seeds"])]
    out += ["", "Steps to target: a seed that missed counts as its cap (the steps it ran), so a median over missed "
            "seeds is a lower bound. Steps are quantised by the evaluation interval.", "", "## Every run", "",
            "| env | reward form | seed | steps run | steps to target | final return | final score | best return "
            "| best score | training s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(runs, key=lambda r: (ENVS.index(r["env_id"]), list(FORMS).index(r["form"]), r["seed"])):
        out.append(f"| {r['env_id']} | `{r['form']}` | {r['seed']} | {r['steps']:,} | {_fmt(r['steps_to_target'])} "
                   f"| {_fmt(r['final_return'], 1)} | {_fmt(r['final_normalised'], 2)} | {_fmt(r['best_return'], 1)} "
                   f"| {_fmt(r['best_normalised'], 2)} | {_fmt(r['train_seconds'])} |")
    return "\n".join(out) + "\n"


def write_results(runs: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    refs = {e: references(e) for e in ENVS if any(r["env_id"] == e for r in runs)}
    result = {"machine": machine(), "episodes": EPISODES, "fraction": FRACTION, "eval_episodes": EVAL_EPISODES,
              "caps": CAPS, "references": refs, "summary": summary(runs),
              "summary_all_seeds": summary(runs, None), "runs": runs, "auto": auto_choices(),
              "mountaincar_raw_obs": [{k: r[k] for k in ("form", "seed", "steps", "steps_to_target", "best_return")}
                                      for r in load_cached(RAW_OBS)]}
    (RESULTS / "gail_reward_forms.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "gail_reward_forms.md").write_text(markdown(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", default=",".join(ENVS))
    p.add_argument("--forms", default="all", help=f"comma-separated, of {list(FORMS)}")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    p.add_argument("--force", action="store_true", help="rerun runs that are cached")
    p.add_argument("--mountaincar-raw-obs", action="store_true", help="MountainCar-v0 with gail-cartpole's raw "
                   "observations instead (the note under the table), cached under "
                   "runs/bench-gail-forms/results-raw-obs/")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the markdown from benchmarks/results/gail_reward_forms.json (no runs)")
    a = p.parse_args()
    if a.report_only:
        # The recorded JSON alone, left as it is: the run cache is absent on a fresh clone, and the machine line
        # must stay the measuring machine's.
        md = markdown(json.loads((RESULTS / "gail_reward_forms.json").read_text()))
        (RESULTS / "gail_reward_forms.md").write_text(md)
        print(md)
        return
    torch.set_num_threads(1)
    os.environ["MINARI_DATASETS_PATH"] = str(MINARI_ROOT)
    envs = [e for e in ENVS if e in a.envs.split(",")]  # always in the informative order
    where = CACHE
    if a.mountaincar_raw_obs:
        ENV_SETTINGS["MountainCar-v0"]["preset"] = partial(gail_mountaincar, obs_norm=False)
        envs, where = ["MountainCar-v0"], RAW_OBS
    forms: list[RewardForm] = list(FORMS) if a.forms == "all" else [f for f in FORMS if f in a.forms.split(",")]
    # Seed-major: every env and form on seed 0 first, so that a partial grid is still a comparison.
    for seed in (int(x) for x in a.seeds.split(",")):
        for env_id in envs:
            for form in forms:
                path = cache_path(env_id, form, seed, where)
                if path.exists() and not a.force:
                    print(f"cached: {path.name}", flush=True)
                    continue
                print(f"running {path.stem} (cap {CAPS[env_id]:,} env steps)", flush=True)
                out = run_one(env_id, form, seed, where)
                print(f"  {path.stem}: steps to target {out['steps_to_target']}, final {out['final_return']:.1f} "
                      f"(score {out['final_normalised']:.2f}), training s {out['train_seconds']:.0f}", flush=True)
                write_results(load_cached())
    write_results(load_cached())
    print((RESULTS / "gail_reward_forms.md").read_text())


if __name__ == "__main__":
    main()
