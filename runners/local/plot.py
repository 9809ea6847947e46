"""Learning curves from run directories' metrics.jsonl to PNG (several runs on one plot)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class PlotError(ValueError):
    pass


def read_metrics(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise PlotError(f"{run_dir} has no metrics.jsonl; is it an arena run directory?")
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    if records and all("step" not in r for r in records) and any("iteration" in r for r in records):
        raise PlotError(f"{run_dir} is a self-play run, counted in iterations, not env steps: its Elo curve is "
                        f"{run_dir / 'elo_curve.png'}")
    return records


def curves(records: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(episode_steps, episode_returns, eval_steps, eval_means, eval_stds)``; a resumed run's later
    records replace the earlier ones from the same steps."""
    ep_map: dict[int, float] = {}
    ev_map: dict[int, tuple[float, float]] = {}
    for r in records:
        step = int(str(r["step"]))
        if r.get("kind") == "episode":
            ep_map[step] = float(str(r["return"]))
        elif r.get("kind") == "eval":
            ev_map[step] = (float(str(r["eval_mean"])), float(str(r["eval_std"])))
    ep = sorted(ep_map.items())
    ev = sorted(ev_map.items())
    ep_arr = np.array(ep, dtype=np.float64).reshape(-1, 2)
    ev_arr = np.array([(s, m, sd) for s, (m, sd) in ev], dtype=np.float64).reshape(-1, 3)
    return ep_arr[:, 0], ep_arr[:, 1], ev_arr[:, 0], ev_arr[:, 1], ev_arr[:, 2]


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    if len(y) == 0 or window <= 1:
        return y
    window = min(window, len(y))
    c = np.cumsum(np.insert(y, 0, 0.0))
    head = c[1:window] / np.arange(1, window)
    return np.concatenate([head, (c[window:] - c[:-window]) / window])


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None, window: int = 20) -> Path:
    """Plot training (smoothed) and evaluation returns of ``run_dirs`` into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for i, run_dir in enumerate(run_dirs):
        steps, rets, ev_steps, ev_mean, ev_std = curves(read_metrics(run_dir))
        color = f"C{i % 10}"
        label = run_dir.name
        if len(steps):
            ax.plot(steps, smooth(rets, window), color=color, alpha=0.5, lw=1, label=f"{label} (train)")
        if len(ev_steps):
            ax.errorbar(ev_steps, ev_mean, yerr=ev_std, color=color, marker="o", ms=3, lw=1.5, capsize=2,
                        label=f"{label} (eval)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.set_title(title or ", ".join(d.name for d in run_dirs)[:80])
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
