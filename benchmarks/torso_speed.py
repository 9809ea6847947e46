"""Acting and learning speed of every arena torso, against plain-PyTorch references, in one run.

Torsos: ``mlp`` on masked CartPole (obs ``[2]`` float32) and ``small_cnn`` on MinAtar Breakout (obs
``[4, 10, 10]`` uint8), each feed-forward and with an ``lstm``, ``gru`` or ``attention`` core (``TorsoConfig``
defaults: MLP 128x128, core width 128; attention memory 16, 2 layers, 4 heads; small_cnn with fc 128 as in the
MinAtar presets). A linear Q head sits on top of every torso on both sides.

- act b1 / act b32: env steps / s streaming one step at a time under ``torch.no_grad``, state carried, batch 1
  (one actor) and batch 32. Memory torsos get an all-false ``reset`` tensor, as a vector actor would pass.
- learn: forward + backward + Adam step over ``[80, 32]`` observations (``forward_sequence`` for memory torsos;
  the 2,560 observations flattened for feed-forward ones); env steps / s = 80 * 32 * updates / s.
- learn, resets: the same with episode starts inside the sequences (each step of each row starts an episode
  with probability 1 / ``--episode-length``), memory torsos only.

Peers, plain PyTorch in the same process: the same feature layers as ``nn.Sequential``; for lstm / gru a
Python loop over ``nn.LSTMCell`` / ``nn.GRUCell`` per step (what a naive framework does) and one fused
``nn.LSTM`` / ``nn.GRU`` call (the ceiling; it cannot reset rows inside a sequence); for attention
``nn.TransformerEncoder`` (pre-LN, same width / heads / layers / MLP) with a causal mask over the 80 steps and
no memory, acting by re-encoding a window of the last 16 steps. The transformer is NOT the same model (no
gates, no relative positions, no per-layer memory): a reference point only.

Every measurement runs for ``--min-time`` seconds after a warm-up, ``--repeats`` times interleaved across
implementations; the median is reported (all runs in the JSON).

Usage: python benchmarks/torso_speed.py [--quick] [--threads 1] [--repeats 5] [--min-time 0.3]
Writes benchmarks/results/torso_speed.{json,md}. The peers are in benchmarks/torso_speed_peers.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.torsos import SequenceTorso, Torso, TorsoConfig, build_torso  # noqa: E402
from benchmarks.torso_speed_peers import (  # noqa: E402
    Impl,
    PeerCellLoop,
    PeerFF,
    PeerFused,
    PeerTransformer,
    peer_feature,
)
from envs.base import EnvSpec  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SEQ_LEN, LEARN_BATCH = 80, 32
# The specs envs.make reports for these ids, written out so the benchmark needs no env (MinAtar imports
# matplotlib, ~2 s).
SPECS = {
    "mlp": EnvSpec("arena/CartPoleMasked-v1", (2,), "float32", 2, "vector"),
    "small_cnn": EnvSpec("minatar:breakout", (4, 10, 10), "uint8", 3, "image"),
}
METRICS = ("act_b1", "act_b32", "learn", "learn_resets")


class Arena(Impl):
    """An arena torso as an actor and a learner call it."""

    def __init__(self, torso: Torso) -> None:
        super().__init__()
        self.torso, self.out_dim = torso, torso.output_dim

    def initial_state(self, batch: int) -> Any:
        return self.torso.initial_state(batch)

    def step(self, obs: torch.Tensor, state: Any, reset: torch.Tensor) -> tuple[torch.Tensor, Any]:
        if self.torso.is_recurrent:
            return self.torso(obs, state, reset)
        return self.torso(obs, state)

    def sequence(self, obs: torch.Tensor, reset: torch.Tensor | None) -> torch.Tensor:
        if isinstance(self.torso, SequenceTorso):
            return self.torso.forward_sequence(obs, None, reset)[0]
        return self.torso(obs.flatten(0, 1))[0].unflatten(0, obs.shape[:2])


def build_case(kind: str, core: str) -> dict[str, Impl]:
    """Arena's torso and its peers, each seeded alike (weights differ: speed does not depend on them)."""
    spec, cfg = SPECS[kind], TorsoConfig(kind=kind, fc=128, core=core)  # type: ignore[arg-type]
    impls: dict[str, Impl] = {}
    torch.manual_seed(0)
    impls["arena"] = Arena(build_torso(cfg, spec))
    torch.manual_seed(0)
    feature, width = peer_feature(kind, spec)
    if core == "none":
        impls["torch nn.Sequential"] = PeerFF(feature, width)
    elif core in ("lstm", "gru"):
        impls[f"torch {'LSTMCell' if core == 'lstm' else 'GRUCell'} loop"] = PeerCellLoop(feature, width, core)
        torch.manual_seed(0)
        impls[f"torch fused {'nn.LSTM' if core == 'lstm' else 'nn.GRU'}"] = PeerFused(
            peer_feature(kind, spec)[0], width, core)
    else:
        impls["torch TransformerEncoder (not the same model)"] = PeerTransformer(
            feature, width, cfg.core_hidden, cfg.attention_heads, cfg.attention_layers, cfg.attention_memory)
    return impls


def random_obs(spec: EnvSpec, *lead: int) -> torch.Tensor:
    if spec.obs_dtype == "uint8":
        return torch.randint(0, 2, (*lead, *spec.obs_shape), dtype=torch.uint8)  # MinAtar planes are 0/1
    return torch.randn(*lead, *spec.obs_shape)


def act_fn(impl: Impl, head: nn.Module, spec: EnvSpec, batch: int) -> Callable[[], None]:
    """One actor step: no_grad forward of torso + head with the state carried (the actor's hot path)."""
    obs, reset = random_obs(spec, batch), torch.zeros(batch, dtype=torch.bool)
    carry = [impl.initial_state(batch)]

    def step() -> None:
        with torch.no_grad():
            out, carry[0] = impl.step(obs, carry[0], reset)
            head(out).argmax(-1)

    return step


def learn_fn(impl: Impl, head: nn.Module, spec: EnvSpec, reset: torch.Tensor | None) -> Callable[[], None]:
    """One update: sequence forward, a Q-like squared loss, backward, Adam step."""
    obs = random_obs(spec, SEQ_LEN, LEARN_BATCH)
    opt = torch.optim.Adam([*impl.parameters(), *head.parameters()], lr=1e-4)

    def update() -> None:
        loss = head(impl.sequence(obs, reset)).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return update


def calls_per_s(fn: Callable[[], None], min_time: float) -> float:
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            return n / elapsed


def spans(reset: torch.Tensor) -> int:
    """Core calls arena's RecurrentTorso makes for this reset pattern (a new span wherever any row resets)."""
    return 1 + int(reset[1:].any(dim=1).sum())


def machine(threads: int) -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": threads}


def run(args: argparse.Namespace) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    reset = torch.rand(SEQ_LEN, LEARN_BATCH, generator=gen) < 1.0 / args.episode_length  # [T, B]
    cases: dict[str, dict[str, Any]] = {}
    for kind in SPECS:
        for core in ("none", "lstm", "gru", "attention"):
            name = kind if core == "none" else f"{kind}+{core}"
            if args.only and name not in args.only:
                continue
            impls = build_case(kind, core)
            spec = SPECS[kind]
            fns: dict[str, dict[str, Callable[[], None]]] = {}
            for label, impl in impls.items():
                torch.manual_seed(1)
                head = nn.Linear(impl.out_dim, spec.num_actions)
                f = {"act_b1": act_fn(impl, head, spec, 1), "act_b32": act_fn(impl, head, spec, LEARN_BATCH),
                     "learn": learn_fn(impl, head, spec, None)}
                if core != "none" and impl.handles_resets:
                    f["learn_resets"] = learn_fn(impl, head, spec, reset)
                for fn in f.values():  # warm-up: allocator, oneDNN kernel selection, Adam state
                    for _ in range(args.warmup):
                        fn()
                fns[label] = f
            runs: dict[str, dict[str, list[float]]] = {lb: {m: [] for m in f} for lb, f in fns.items()}
            for _ in range(args.repeats):  # interleaved, so drift on the shared machine hits every side alike
                for label, f in fns.items():
                    for metric, fn in f.items():
                        runs[label][metric].append(calls_per_s(fn, args.min_time))
            rates = {lb: {m: statistics.median(v) for m, v in r.items()} for lb, r in runs.items()}
            steps = {"act_b1": 1, "act_b32": LEARN_BATCH, "learn": SEQ_LEN * LEARN_BATCH,
                     "learn_resets": SEQ_LEN * LEARN_BATCH}
            cases[name] = {
                "params": {lb: sum(p.numel() for p in impl.parameters()) for lb, impl in impls.items()},
                "env_steps_per_s": {lb: {m: r * steps[m] for m, r in rt.items()} for lb, rt in rates.items()},
                "updates_per_s": {lb: {m: rt[m] for m in ("learn", "learn_resets") if m in rt}
                                  for lb, rt in rates.items()},
                "calls_per_s_runs": runs,
            }
            print(f"{name}: " + "; ".join(f"{lb} " + ", ".join(f"{m} {v:,.0f}" for m, v in sp.items())
                                          for lb, sp in cases[name]["env_steps_per_s"].items()), flush=True)
    return {"machine": machine(torch.get_num_threads()),
            "settings": {"seq_len": SEQ_LEN, "learn_batch": LEARN_BATCH, "repeats": args.repeats,
                         "min_time_s": args.min_time, "warmup_calls": args.warmup, "quick": args.quick,
                         "episode_length": args.episode_length, "reset_fraction": float(reset.float().mean()),
                         "arena_rnn_spans_with_resets": spans(reset),
                         "specs": {k: {"env_id": s.env_id, "obs_shape": s.obs_shape, "obs_dtype": s.obs_dtype}
                                   for k, s in SPECS.items()},
                         "torso_config": "TorsoConfig(kind, fc=128, core); other fields default"},
            "cases": cases}


def cell(value: float | None, arena: float | None, is_arena: bool) -> str:
    if value is None:
        return "n/a"
    if is_arena or arena is None:
        return f"{value:,.0f}"
    return f"{value:,.0f} ({arena / value:.2f}x)"


def markdown(result: dict[str, Any], command: str) -> str:
    m, s = result["machine"], result["settings"]
    rows = []
    for name, case in result["cases"].items():
        sps, ups = case["env_steps_per_s"], case["updates_per_s"]
        for label, rates in sps.items():
            arena = sps["arena"]
            metrics = [cell(rates.get(k), arena.get(k), label == "arena") for k in METRICS]
            upd = ups[label].get("learn")
            rows.append(f"| {name if label == 'arena' else ''} | {label} | {case['params'][label]:,} | "
                        + " | ".join(metrics[:3]) + f" | {upd:,.1f} | {metrics[3]} |")
    return f"""# Torso speed: acting and learning

Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; Python {m['python']}, torch {m['torch']}
(`torch.set_num_threads({m['torch_threads']})`). Produced by `{command}`; each cell is the median of
{s['repeats']} runs of >= {s['min_time_s']} s, interleaved across implementations (all runs in the JSON).
Absolute numbers on a shared machine are noisy: read the ratios.

Columns (env steps / s unless marked; peer cells show `value (arena / peer)`, above 1x means arena is faster):
- **act b1**, **act b32**: one actor step under `torch.no_grad` (torso + linear Q head + argmax), state carried,
  batch 1 and batch {s['learn_batch']}; memory torsos get an all-false `reset`.
- **learn**: forward + backward + Adam over `[{s['seq_len']}, {s['learn_batch']}]` observations from a zero state
  (`forward_sequence`; feed-forward torsos see the {s['seq_len'] * s['learn_batch']:,} observations flattened),
  env steps = {s['seq_len']} x {s['learn_batch']} per update; **updates / s** is the same measurement.
- **learn, resets**: the same with episode starts inside the sequences ({100 * s['reset_fraction']:.1f}% of
  (step, row) cells, mean episode {s['episode_length']} steps); arena's LSTM / GRU then runs
  {s['arena_rnn_spans_with_resets']} `nn.LSTM` / `nn.GRU` calls per sequence instead of 1. n/a: the peer cannot reset
  inside a sequence.

Torsos: `TorsoConfig(kind, fc=128, core)` with other fields default (MLP 128x128 on masked CartPole obs `[2]`;
small_cnn = conv 16x3x3 + fc 128 on MinAtar Breakout obs `[4, 10, 10]` uint8; lstm / gru width 128; attention
width 128, memory 16, 2 gated layers, 4 heads). Peers, plain PyTorch: `nn.Sequential` with the same layers
(contiguous memory format); a per-step `LSTMCell` / `GRUCell` loop (naive); one fused `nn.LSTM` / `nn.GRU`
call (the ceiling); `nn.TransformerEncoder` (pre-LN, same width, heads, layers and MLP, causal over the
{s['seq_len']} steps, acting by re-encoding the last {TorsoConfig().attention_memory} steps) is **not the same model** as arena's gated
memory transformer, only a reference point. All modules stay in training mode, as arena's DQN / PPO actors
leave them (no dropout anywhere).

| torso | implementation | params | act b1 | act b32 | learn | updates / s | learn, resets |
|---|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds: short runs, one repeat")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats; the median is reported")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds per measurement")
    p.add_argument("--warmup", type=int, default=3, help="calls of each measured function before timing")
    p.add_argument("--episode-length", type=float, default=100.0, help="mean episode length for 'learn, resets'")
    p.add_argument("--only", nargs="*", default=[], help="case names to run (e.g. mlp+lstm); default all")
    a = p.parse_args()
    if a.quick:
        a.repeats, a.min_time, a.warmup = 1, 0.02, 1
    torch.set_num_threads(a.threads)
    result = run(a)
    command = "python benchmarks/torso_speed.py" + " ".join(
        [""] + (["--quick"] if a.quick else []) + ([f"--threads {a.threads}"] if a.threads != 1 else []))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "torso_speed.json").write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(result, command)
    (RESULTS / "torso_speed.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
