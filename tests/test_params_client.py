"""ParamsClient copies a learner's parameters into a separate actor every ``period`` updates."""

from __future__ import annotations

import copy

import numpy as np
import torch

from agents.dqn import DQNActor, DQNConfig, DQNLearner, build_q_network
from agents.params import ParamsClient
from agents.torsos import TorsoConfig
from envs.base import EnvSpec
from replay.types import Batch


def test_separate_actor_gets_params_every_period() -> None:
    spec = EnvSpec("v", (3,), "float32", 2, "vector")
    cfg = DQNConfig(batch_size=4)
    learner = DQNLearner(build_q_network(cfg, TorsoConfig(kind="mlp", hidden=(8,)), spec), cfg)
    actor = DQNActor(copy.deepcopy(learner.online), cfg)
    client = ParamsClient(actor, learner.get_params, period=2)
    rng = np.random.default_rng(0)
    batch = Batch(rng.standard_normal((4, 3)).astype(np.float32), rng.integers(0, 2, 4), np.ones(4, np.float32),
                  rng.standard_normal((4, 3)).astype(np.float32), np.full(4, 0.9, np.float32),
                  np.ones(4, np.float32), np.arange(4))
    assert client.update(learner.updates)  # first call always syncs
    learner.step(batch)
    assert not client.update(learner.updates)
    assert not torch.equal(actor.network.head.advantage.weight, learner.online.head.advantage.weight)
    learner.step(batch)
    assert client.update(learner.updates)
    assert actor.version == 2
    for a, b in zip(actor.network.parameters(), learner.online.parameters(), strict=True):
        assert torch.equal(a, b)
    shared = ParamsClient(actor, learner.get_params, shared=True)
    assert not shared.update(100)
