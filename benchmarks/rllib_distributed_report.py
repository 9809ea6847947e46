"""The analysis and report of ``benchmarks/rllib_distributed.py``: arena / RLlib ratios against the targets
(``compare``) and the markdown page (``report``), written from the result dict so ``--report-only`` can redo it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# Runs recorded before each run kept its own limits all ran with these (--cap, --max-minutes).
EARLIER_LIMITS = (100_000, 4.0)


def _fmt(x: float | int | None, unit: str = "") -> str:
    if x is None:
        return "not reached"
    return f"{x:,.0f}{unit}"



def compare(runs: dict[str, Any], earlier: dict[str, list[Any]]) -> dict[str, Any]:
    """arena / RLlib ratios and the targets, per algorithm."""
    comparisons: dict[str, Any] = {}
    for algo in ("dqn", "ppo"):
        ours, theirs = runs.get(f"arena_{algo}"), runs.get(f"rllib_{algo}")
        if not ours or not theirs:
            continue
        c: dict[str, Any] = {}
        if ours["sps"] and theirs["sps"]:
            c["sps_ratio"] = round(ours["sps"] / theirs["sps"], 2)
            c["sps_target_met"] = c["sps_ratio"] >= 2.0
        if ours.get("sps_training") and theirs.get("sps_training"):
            c["sps_training_ratio"] = round(ours["sps_training"] / theirs["sps_training"], 2)
        # Conservative over reruns: arena's slowest run, RLlib's fastest.
        ours_all = [ours, *earlier.get(f"arena_{algo}", [])]
        theirs_all = [theirs, *earlier.get(f"rllib_{algo}", [])]
        ours_steps = None if any(r["steps_to_475"] is None for r in ours_all) else \
            max(r["steps_to_475"] for r in ours_all)
        reached = [r["steps_to_475"] for r in theirs_all if r["steps_to_475"] is not None]
        theirs_steps = min(reached) if reached else None
        if ours_steps is not None and theirs_steps is not None:
            c["steps_ratio"] = round(ours_steps / theirs_steps, 2)
            c["steps_target_met"] = c["steps_ratio"] <= 0.5
        elif ours_steps is not None:  # RLlib did not reach it within theirs["steps"] steps
            c["steps_ratio_at_most"] = round(ours_steps / max(r["steps"] for r in theirs_all), 2)
            # RLlib needs more than theirs["steps"]: the ratio is below the bound; above 0.5 it is undecided.
            c["steps_target_met"] = True if c["steps_ratio_at_most"] <= 0.5 else None
        else:
            c["steps_target_met"] = False
        comparisons[algo] = c
    return comparisons


def _limits(result: dict[str, Any]) -> str:
    """Each run's step and time limits, grouped (runs recorded without them used ``EARLIER_LIMITS``)."""
    groups: dict[str, list[str]] = {}
    named = [(n, r) for n, r in result["runs"].items()]
    named += [(f"{n} (earlier)", r) for n, rs in result.get("earlier_runs", {}).items() for r in rs]
    for name, r in named:
        cap, minutes = r.get("cap_steps", EARLIER_LIMITS[0]), r.get("max_minutes", EARLIER_LIMITS[1])
        groups.setdefault(f"{cap:,} env steps or {minutes:g} minutes of training", []).append(name)
    return "; ".join(f"{limit} ({', '.join(sorted(set(names)))})" for limit, names in groups.items())


def report(result: dict[str, Any]) -> None:
    """Write benchmarks/results/rllib_distributed.md from the result dict (also: --report-only)."""
    m, st, runs, comparisons = result["machine"], result["settings"], result["runs"], result["comparisons"]
    lines = ["# arena on Ray vs RLlib, 2 env workers each, CartPole-v1", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, torch {m['torch']}, Ray {m['ray']}; "
             f"shared with other jobs (load average {result['load_start'][0]:.1f} at the start, "
             f"{result['load_end'][0]:.1f} at the end; per run below). Commit {result['git']['head']}. "
             f"Last command: `python benchmarks/rllib_distributed.py --cap {st['cap_steps']} --max-minutes "
             f"{st['max_minutes']:g}{' --only ' + ' '.join(st['only']) if st.get('only') else ''}`. Each run stops "
             f"at the first evaluation >= 475 or at its limits: {_limits(result)}. One seed ({result['settings']['seed']}) per run, so "
             "steps-to-475 is one sample of a noisy quantity; reruns are listed as earlier runs.", "",
             "| run | env steps / s | env steps / s, evaluations excluded | s per evaluation | env steps to eval >= 475 "
             "| wall s to 475 | steps run | evals (step: mean) | load 1 min before/after |",
             "|---|---:|---:|---|---:|---:|---:|---|---|"]
    for name, r in runs.items():
        evals = ", ".join(f"{step // 1000}k: {mean:.0f}" for step, mean in r["evals"])
        spent = r.get("eval_seconds")
        each = f"{min(spent):.1f}-{max(spent):.1f}" if spent else "n/a"
        training = _fmt(r["sps_training"]) if r.get("sps_training") else "n/a"
        lines.append(f"| {name} | {_fmt(r['sps'])} | {training} | {each} | {_fmt(r['steps_to_475'])} | "
                     f"{_fmt(r['seconds_to_475'])} | {r['steps']:,} | {evals} | "
                     f"{r['load_before'][0]:.1f}/{r['load_after'][0]:.1f} |")
    for name, old_runs in result.get("earlier_runs", {}).items():
        for r in old_runs:
            lines.append(f"| {name} (earlier run, same settings) | {_fmt(r['sps'])} | "
                         f"{_fmt(r['sps_training']) if r.get('sps_training') else 'n/a'} | n/a | "
                         f"{_fmt(r['steps_to_475'])} | {_fmt(r['seconds_to_475'])} | {r['steps']:,} | "
                         + ", ".join(f"{step // 1000}k: {mean:.0f}" for step, mean in r["evals"])
                         + f" | {r['load_before'][0]:.1f}/{r['load_after'][0]:.1f} |")
    lines += ["", "| algorithm | arena / RLlib SPS (target >= 2) | same, evaluations excluded | arena / RLlib steps to 475 "
              "(target <= 0.5) |", "|---|---|---|---|"]
    for algo, c in comparisons.items():
        sps = f"{c['sps_ratio']:.2f} ({'met' if c['sps_target_met'] else 'not met'})" if "sps_ratio" in c else "n/a"
        if "steps_ratio" in c:
            steps = f"{c['steps_ratio']:.2f}"
        elif "steps_ratio_at_most" in c:
            steps = f"<= {c['steps_ratio_at_most']:.2f} (RLlib not reached in {runs[f'rllib_{algo}']['steps']:,})"
        else:
            steps = "arena not reached"
        verdict = {True: "met", False: "not met", None: "undecided"}[c["steps_target_met"]]
        training = f"{c['sps_training_ratio']:.2f}" if "sps_training_ratio" in c else "n/a"
        lines.append(f"| {algo} | {sps} | {training} | {steps} ({verdict}) |")
    ours_eval = [x for n in ("arena_dqn", "arena_ppo") for x in runs.get(n, {}).get("eval_seconds", [])]
    theirs_eval = [x for n in ("rllib_dqn", "rllib_ppo") for x in runs.get(n, {}).get("eval_seconds", [])]
    if ours_eval and theirs_eval and min(ours_eval) > 5 * max(theirs_eval):
        lines += ["", f"Why arena's SPS with evaluations is low: each arena evaluation took {min(ours_eval):.1f}-"
                  f"{max(ours_eval):.1f} s against {min(theirs_eval):.1f}-{max(theirs_eval):.1f} s for 10 episodes of "
                  "RLlib's policy (up to 500 steps each on both sides). The Ray driver evaluates with torch's default intra-op threads (one per "
                  "core): `--runner.torch-threads` is applied in every actor and in the single-process runner, not in "
                  "the driver, and on a busy machine a 2-thread forward of a tiny MLP stalls (a standalone check here: "
                  "0.4 s with 1 thread, 21-27 s with 2 for the same evaluation). The RLlib driver here runs with one "
                  "thread. The 'evaluations excluded' column is the training throughput of each side."]
    lines += ["", "Steps to 475 are compared conservatively over every run listed: arena's slowest run against "
              "RLlib's fastest."]
    dqn = runs.get("rllib_dqn")
    arena_dqn_steps = [r["steps_to_475"] for r in [runs.get("arena_dqn"), *result.get("earlier_runs", {}).get(
        "arena_dqn", [])] if r and r.get("steps_to_475") is not None]
    if dqn and dqn.get("steps_to_475") is None and dqn.get("timed_out"):
        lines += ["", f"RLlib DQN ran out of its {st['max_minutes']:g} minutes at {dqn['steps']:,} env steps "
                  f"({dqn['sps']:.0f} env steps / s here) without reaching 475 (its tuned example aims at 450 within "
                  "200,000 steps, ~35 minutes at this speed): the steps-to-475 ratio can only be bounded. arena's "
                  "runs of the same settings needed " + " and ".join(f"{x:,}" for x in arena_dqn_steps) + " steps; "
                  "the bound uses the slowest."]
    lines += ["", "Settings:", ""]
    for algo in ("dqn", "ppo"):
        lines += [f"- arena {algo}: {st['arena'][algo]}.", f"- RLlib {algo}: {st['rllib'][algo]}."]
    lines += ["", "Evaluation: every 5,000 env steps, 10 greedy episodes (one per seeded CartPole-v1 sub-env, arena's "
              "`run_policy_episodes` on both sides; RLlib's learner module rolled out in the driver at the first "
              "iteration boundary past each multiple of 5,000). SPS counts evaluation time on both sides and "
              "excludes Ray's start and actor construction.", ""]
    md = "\n".join(lines)
    (RESULTS / "rllib_distributed.md").write_text(md)
    print(md)
