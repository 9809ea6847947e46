"""GPU learner update time for the paper estimate of ``benchmarks/distributed_throughput.py``.

Times arena's own ``DQNLearner.step`` (host batch -> device copy, forward, backward, optimiser step, priorities
back to the host) on a CUDA device for the ``dqn-minatar`` network (small_cnn, MinAtar Breakout observations)
and the ``dqn-atari`` network (Nature CNN, 4x84x84), at batch 32 (the presets) and 512 (Ape-X's). Meant for a
machine that has a GPU and PyTorch but not arena's env dependencies: ``envs`` is loaded without its
``__init__`` (only ``envs.base`` is needed), so gymnasium, ALE and MinAtar need not be installed.

Usage: python benchmarks/gpu_learner_probe.py OUT.json   (then: distributed_throughput.py --gpu-json OUT.json)
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_envs = types.ModuleType("envs")
_envs.__path__ = [str(ROOT / "envs")]  # a namespace stand-in: envs.base without envs/__init__ (gymnasium)
sys.modules.setdefault("envs", _envs)

from agents.dqn import DQNLearner, build_q_network  # noqa: E402
from envs.base import EnvSpec  # noqa: E402
from replay.types import Batch  # noqa: E402
from runners.families.dqn_presets import dqn_atari, dqn_minatar  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def update_ms(cfg: object, spec: EnvSpec, batch: int, device: torch.device, reps: int) -> float:
    agent, torso = cfg.agent, cfg.torso  # type: ignore[attr-defined]
    learner = DQNLearner(build_q_network(agent, torso, spec), agent, device, seed=0)
    rng = np.random.default_rng(0)
    high = 2 if spec.kind == "image" else 256
    obs = rng.integers(0, high, (batch, *spec.obs_shape), dtype=np.uint8)
    b = Batch(obs, rng.integers(0, spec.num_actions, batch), rng.standard_normal(batch).astype(np.float32),
              obs.copy(), np.full(batch, 0.99, np.float32), np.ones(batch, np.float32), np.arange(batch))
    for _ in range(20):
        learner.step(b)
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        learner.step(b)
        sync()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def main() -> None:
    out = Path(sys.argv[1])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # cpu: a smoke test only
    torch.backends.cudnn.benchmark = True
    minatar = EnvSpec("minatar:breakout", (4, 10, 10), "uint8", 3, "image")
    atari = EnvSpec("ale:pong", (4, 84, 84), "uint8", 6, "atari", frame_stack=4)
    result: dict[str, object] = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__}
    for name, cfg, spec in (("minatar_small_cnn", dqn_minatar(), minatar), ("atari_nature_cnn", dqn_atari(), atari)):
        for batch in (32, 512):
            ms = update_ms(cfg, spec, batch, device, 200)
            result[f"{name}_b{batch}_ms"] = round(ms, 3)
            print(name, batch, f"{ms:.3f} ms", flush=True)
    result["update_ms_b32"] = result["minatar_small_cnn_b32_ms"]
    result["update_ms_b512"] = result["minatar_small_cnn_b512_ms"]
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
