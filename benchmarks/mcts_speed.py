"""MCTS speed on Connect Four, in one run:

(a) random-rollout MCTS: arena's ``MCTS`` + ``RandomRolloutEvaluator`` against OpenSpiel's python
    ``MCTSBot`` + ``RandomRolloutEvaluator(n_rollouts=1)``, the same simulations per move from the same
    positions (the empty board and positions reached by a fixed random move sequence);
(b) network-evaluated MCTS: sims/s when 64 games search at once (one batched forward per round) against
    the same 64 games searched one at a time (batch 1), same network, evaluation cache off.

Usage: python benchmarks/mcts_speed.py [--quick] [--sims 1000] [--net-sims 32] [--repeats 3]
Writes benchmarks/results/mcts_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.alphazero.evaluator import NetworkEvaluator, UniformEvaluator  # noqa: E402
from agents.alphazero.mcts import MCTS, MCTSConfig  # noqa: E402
from agents.alphazero.network import build_policy_value_net  # noqa: E402
from agents.alphazero.rollout import RandomRolloutEvaluator  # noqa: E402
from agents.torsos import TorsoConfig  # noqa: E402
from envs.games.connect4 import Connect4, Connect4State  # noqa: E402
from runners.families.selfplay import alphazero_connect4  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def random_line(seed: int, length: int) -> list[int]:
    """A random sequence of legal Connect Four moves that leaves the game unfinished."""
    rng = np.random.default_rng(seed)
    while True:
        s, moves = Connect4State(), []
        for _ in range(length):
            a = int(rng.choice(s.legal_actions()))
            s.apply(a)
            moves.append(a)
            if s.is_terminal():
                break
        if not s.is_terminal():
            return moves


def arena_rollout_sps(moves: list[int], sims: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    mcts = MCTS(MCTSConfig(num_simulations=sims), RandomRolloutEvaluator(rng), rng)
    state = Connect4().new_initial_state()
    for a in moves:
        state.apply(a)
    t = time.perf_counter()
    root = mcts.new_root(state)
    mcts.search([root])
    return sims / (time.perf_counter() - t)


def arena_tree_sps(sims: int) -> float:
    """Sims/s of the search alone: uniform priors, value 0, no playouts (the per-simulation overhead)."""
    mcts = MCTS(MCTSConfig(num_simulations=sims), UniformEvaluator(), np.random.default_rng(0))
    t = time.perf_counter()
    mcts.search([mcts.new_root(Connect4().new_initial_state())])
    return sims / (time.perf_counter() - t)


def openspiel_rollout_sps(moves: list[int], sims: int, seed: int) -> float:
    import pyspiel
    from open_spiel.python.algorithms import mcts as os_mcts

    game = pyspiel.load_game("connect_four")
    evaluator = os_mcts.RandomRolloutEvaluator(n_rollouts=1, random_state=np.random.RandomState(seed))
    # solve=False: plain MCTS like arena's (the solver may also stop a search early).
    bot = os_mcts.MCTSBot(game, uct_c=2.0, max_simulations=sims, evaluator=evaluator, solve=False,
                          random_state=np.random.RandomState(seed))
    state = game.new_initial_state()
    for a in moves:
        state.apply_action(a)
    t = time.perf_counter()
    root = bot.mcts_search(state)
    return root.explore_count / (time.perf_counter() - t)


def network_sps(net: torch.nn.Module, lines: list[list[int]], sims: int, batched: bool, leaves: int) -> float:
    """Sims/s of fresh searches from every position of ``lines``: all at once, or one at a time."""
    evaluator = NetworkEvaluator(net, cache_size=0)  # no cache: every leaf costs a forward pass
    mcts = MCTS(MCTSConfig(num_simulations=sims, leaves_per_tree=leaves), evaluator, np.random.default_rng(0))
    states = []
    for moves in lines:
        s = Connect4().new_initial_state()
        for a in moves:
            s.apply(a)
        states.append(s)
    t = time.perf_counter()
    roots = [mcts.new_root(s) for s in states]
    if batched:
        mcts.search(roots, add_noise=True)
    else:
        for root in roots:
            mcts.search([root], add_noise=True)
    return sims * len(roots) / (time.perf_counter() - t)


def machine() -> dict[str, object]:
    import numba
    import pyspiel

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "torch": torch.__version__,
            "open_spiel": getattr(pyspiel, "__version__", "?"), "torch_threads": torch.get_num_threads()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few seconds: fewer simulations and one repeat")
    p.add_argument("--sims", type=int, default=1000, help="(a) simulations per search")
    p.add_argument("--net-sims", type=int, default=32, help="(b) simulations per game")
    p.add_argument("--games", type=int, default=64, help="(b) games searched together")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats; best of each is reported")
    a = p.parse_args()
    if a.quick:
        a.sims, a.net_sims, a.games, a.repeats = 200, 4, 16, 1
    torch.set_num_threads(1)

    # (a) Rollout MCTS, one position at a time, arena and OpenSpiel alternating.
    positions = {"empty": [], **{f"ply {n}": random_line(n, n) for n in (8, 16, 24)}}
    arena_rollout_sps([], 50, 0)  # compile / load the numba kernels outside the timing
    openspiel_rollout_sps([], 50, 0)  # and import OpenSpiel
    runs_a: dict[str, dict[str, list[float]]] = {k: {"arena": [], "openspiel": []} for k in positions}
    tree_runs: list[float] = []
    for rep in range(a.repeats):
        for name, moves in positions.items():
            runs_a[name]["arena"].append(arena_rollout_sps(moves, a.sims, rep))
            runs_a[name]["openspiel"].append(openspiel_rollout_sps(moves, a.sims, rep))
        tree_runs.append(arena_tree_sps(a.sims))
    tree = max(tree_runs)
    best_a = {k: {side: max(v) for side, v in r.items()} for k, r in runs_a.items()}
    # Overall: harmonic mean of per-position rates = total sims / total time of the best runs.
    total = {side: len(positions) / sum(1 / best_a[k][side] for k in positions) for side in ("arena", "openspiel")}

    # (b) Network MCTS: the alphazero-connect4 preset's ResNet, a bigger and a smaller one.
    lines = [random_line(1000 + i, i % 12) for i in range(a.games)]
    preset = alphazero_connect4().torso
    nets = {f"alphazero-connect4 ResNet ({preset.channels} ch, {preset.blocks} blocks)": preset,
            "ResNet (64 ch, 4 blocks)": TorsoConfig(kind="resnet", channels=64, blocks=4),
            "small ResNet (32 ch, 1 block)": TorsoConfig(kind="resnet", channels=32, blocks=1)}
    modes = {"one game at a time (batch 1)": (False, 1), f"{a.games} games at once (batch {a.games})": (True, 1),
             f"{a.games} games x 4 leaves, virtual loss (batch {4 * a.games})": (True, 4)}
    runs_b: dict[str, dict[str, list[float]]] = {n: {m: [] for m in modes} for n in nets}
    built = {}
    for n, tcfg in nets.items():
        torch.manual_seed(0)
        built[n] = build_policy_value_net(Connect4(), tcfg).eval()
        network_sps(built[n], lines[:2], 2, True, 1)  # warm-up
    for _ in range(a.repeats):
        for n in nets:
            for m, (batched, leaves) in modes.items():
                runs_b[n][m].append(network_sps(built[n], lines, a.net_sims, batched, leaves))
    best_b = {n: {m: max(v) for m, v in r.items()} for n, r in runs_b.items()}
    params = {n: sum(p.numel() for p in built[n].parameters()) for n in nets}
    speedup = {n: best_b[n][list(modes)[1]] / best_b[n][list(modes)[0]] for n in nets}

    mach = machine()
    result = {
        "machine": mach,
        "settings": {"sims_per_search": a.sims, "openspiel_uct_c": 2.0, "arena_c_puct": MCTSConfig().c_puct,
                     "positions": positions, "net_sims_per_game": a.net_sims, "games": a.games,
                     "repeats": a.repeats, "quick": a.quick},
        "rollout_sims_per_s": best_a, "rollout_overall": total,
        "rollout_arena_vs_openspiel": total["arena"] / total["openspiel"],
        "arena_search_only_sims_per_s": tree, "arena_search_only_us_per_sim": 1e6 / tree,
        "network_sims_per_s": best_b, "network_params": params,
        "network_batched_vs_sequential": speedup,
        "rollout_runs": runs_a, "search_only_runs": tree_runs, "network_runs": runs_b,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mcts_speed.json").write_text(json.dumps(result, indent=1) + "\n")

    rows_a = "\n".join(f"| {k} | {best_a[k]['arena']:,.0f} | {best_a[k]['openspiel']:,.0f} | "
                       f"{best_a[k]['arena'] / best_a[k]['openspiel']:.1f}x |" for k in positions)
    rows_b = []
    for n in nets:
        base = best_b[n][list(modes)[0]]
        for m in modes:
            rows_b.append(f"| {n}, {params[n]:,} params | {m} | {best_b[n][m]:,.0f} | {best_b[n][m] / base:.1f}x |")
    md = f"""# MCTS speed on Connect Four

Machine: {mach['cpu']}, {mach['cores']} cores, {mach['platform']}; Python {mach['python']}, numpy {mach['numpy']},
numba {mach['numba']}, torch {mach['torch']} (`torch.set_num_threads(1)`), OpenSpiel {mach['open_spiel']}.
Produced by `python benchmarks/mcts_speed.py{' --quick' if a.quick else ''}`; every row measured {a.repeats} times,
interleaved, best of each shown (all runs in the JSON). Absolute numbers on a shared machine are noisy: read the ratios.

## (a) Random-rollout MCTS, {a.sims:,} simulations per search (simulations / s)

| position | arena `MCTS` + `RandomRolloutEvaluator` | OpenSpiel `MCTSBot` + `RandomRolloutEvaluator` | arena / OpenSpiel |
|---|---:|---:|---:|
{rows_a}
| **all positions** | **{total['arena']:,.0f}** | **{total['openspiel']:,.0f}** | **{total['arena'] / total['openspiel']:.1f}x** |

One random playout per leaf on both sides; OpenSpiel with `uct_c=2`, `solve=False` (no solver, like arena),
arena with PUCT (`c_puct={MCTSConfig().c_puct}`, uniform priors); the selection rules differ, so the trees differ
in shape. Positions: the empty board and the positions after 8, 16 and 24 plies of fixed random games (in the JSON);
later positions have shorter playouts. Target: arena >= 3x.

Arena's search alone (`UniformEvaluator`: no playouts, empty board, {a.sims:,} simulations) runs {tree:,.0f}
simulations / s, i.e. {1e6 / tree:.0f} us of tree walk, expansion and backup per simulation.

## (b) Network-evaluated MCTS, {a.games} games x {a.net_sims} simulations from fresh roots (simulations / s)

| network | search | sims / s | vs batch 1 |
|---|---|---:|---:|
{chr(10).join(rows_b)}

Same network and positions in every row; `NetworkEvaluator(cache_size=0)`, so every leaf costs a forward pass;
Dirichlet noise on; one CPU thread for torch. Batching removes the per-call overhead (Python, torch dispatch, tree
walks stay), so what it wins depends on how much of a batch-1 forward pass was overhead. On one CPU thread the
64-channel ResNet is compute bound (about {1e6 / best_b[list(nets)[1]][list(modes)[1]]:,.0f} us per simulation even at batch {a.games}, nearly
all of it convolutions), so batching cannot win more than the overhead; the small network is mostly overhead at batch 1.
Target: batched >= 10x batch 1 ({', '.join(f'{n}: {r:.1f}x' for n, r in speedup.items())} at batch {a.games});
on a GPU, where forward passes this small are mostly launch overhead, the gain should be far larger (not measured here).
"""
    (RESULTS / "mcts_speed.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
