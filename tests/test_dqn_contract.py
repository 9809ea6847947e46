"""Every torso with every DQN variant: output shapes, one learner step, gradients reach the torso."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.dqn import DQNActor, DQNConfig, DQNLearner, build_q_network
from agents.errors import ConfigError
from agents.torsos import TorsoConfig, build_torso
from envs.base import EnvSpec
from replay.types import Batch

SPECS = {
    "mlp": (EnvSpec("fake-vector", (6,), "float32", 3, "vector"), TorsoConfig(kind="mlp", hidden=(16,))),
    "small_cnn": (EnvSpec("fake-minatar", (4, 10, 10), "uint8", 3, "image"), TorsoConfig(kind="small_cnn", fc=16)),
    "nature_cnn": (EnvSpec("fake-atari", (4, 84, 84), "uint8", 3, "atari", frame_stack=4),
                   TorsoConfig(kind="nature_cnn", fc=32)),
    "impala": (EnvSpec("fake-atari", (4, 84, 84), "uint8", 3, "atari", frame_stack=4),
               TorsoConfig(kind="impala", fc=32)),
}
BASE = DQNConfig(batch_size=4, target_update_period=1)
VARIANTS = {
    "dqn": BASE,
    "double": replace(BASE, double=True),
    "dueling-mean": replace(BASE, dueling=True),
    "dueling-max": replace(BASE, dueling=True, dueling_aggregation="max"),
    "prioritized": replace(BASE, prioritized=True),
    "n-step": replace(BASE, n_step=3),
    "noisy": replace(BASE, noisy=True, head_hidden=8),
    "c51": replace(BASE, distributional=True, num_atoms=11),
    "rainbow": replace(BASE, double=True, dueling=True, prioritized=True, n_step=3, noisy=True,
                       distributional=True, num_atoms=11, head_hidden=8, tau=0.5),
}


def _batch(spec: EnvSpec, b: int, rng: np.random.Generator) -> Batch:
    if spec.obs_dtype == "uint8":
        obs = rng.integers(0, 256 if spec.kind == "atari" else 2, size=(b, *spec.obs_shape), dtype=np.uint8)
        nxt = rng.integers(0, 256 if spec.kind == "atari" else 2, size=(b, *spec.obs_shape), dtype=np.uint8)
    else:
        obs = rng.standard_normal((b, *spec.obs_shape)).astype(np.float32)
        nxt = rng.standard_normal((b, *spec.obs_shape)).astype(np.float32)
    return Batch(obs, rng.integers(0, spec.num_actions, b), rng.standard_normal(b).astype(np.float32), nxt,
                 np.full(b, 0.99, np.float32), np.ones(b, np.float32), np.arange(b))


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("torso", list(SPECS))
def test_torso_variant_contract(torso: str, variant: str) -> None:
    spec, tcfg = SPECS[torso]
    cfg = VARIANTS[variant]
    torch.manual_seed(0)
    net = build_q_network(cfg, tcfg, spec)
    rng = np.random.default_rng(0)
    batch = _batch(spec, 4, rng)
    out, state = net(torch.as_tensor(batch.obs))
    atoms = cfg.num_atoms if cfg.distributional else 1
    assert out.shape == (4, spec.num_actions, atoms)
    assert state is None
    assert net.q_values(out).shape == (4, spec.num_actions)

    learner = DQNLearner(net, cfg)
    torso_before = [p.detach().clone() for p in learner.online.torso.parameters()]
    result = learner.step(batch)
    assert np.isfinite(result.metrics["loss"])
    assert result.priorities is not None and result.priorities.shape == (4,)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.online.torso.parameters())
    changed = [not torch.equal(a, b) for a, b in zip(torso_before, learner.online.torso.parameters(), strict=True)]
    assert all(changed)

    actor = DQNActor(learner.online, cfg, seed=1)
    actions, _ = actor.act(batch.obs)
    assert actions.shape == (4,) and actions.dtype == np.int64
    assert ((0 <= actions) & (actions < spec.num_actions)).all()


def test_cnn_on_vector_observations_is_a_config_error() -> None:
    spec, _ = SPECS["mlp"]
    with pytest.raises(ConfigError, match="image observations"):
        build_torso(TorsoConfig(kind="nature_cnn"), spec)


def test_nature_cnn_on_small_frames_is_a_config_error() -> None:
    spec, _ = SPECS["small_cnn"]
    with pytest.raises(ConfigError, match="36x36"):
        build_torso(TorsoConfig(kind="nature_cnn"), spec)


def test_polyak_and_hard_target_updates() -> None:
    spec, tcfg = SPECS["mlp"]
    rng = np.random.default_rng(0)
    hard = DQNLearner(build_q_network(replace(BASE, target_update_period=2), tcfg, spec),
                      replace(BASE, target_update_period=2))
    t0 = [p.clone() for p in hard.target.parameters()]
    hard.step(_batch(spec, 4, rng))
    assert all(torch.equal(a, b) for a, b in zip(t0, hard.target.parameters(), strict=True))  # not yet
    hard.step(_batch(spec, 4, rng))
    assert all(torch.equal(a, b) for a, b in zip(hard.online.parameters(), hard.target.parameters(), strict=True))

    cfg = replace(BASE, tau=0.25)
    soft = DQNLearner(build_q_network(cfg, tcfg, spec), cfg)
    before = [p.clone() for p in soft.target.parameters()]
    soft.step(_batch(spec, 4, rng))
    for old, new, online in zip(before, soft.target.parameters(), soft.online.parameters(), strict=True):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * online)
