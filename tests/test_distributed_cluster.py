"""The Ray runner on a simulated two-node cluster (``ray.cluster_utils.Cluster``): a short job whose workers
are spread over both nodes keeps training after the second node is removed (its worker is restarted on the
head node)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster

from runners.distributed.train import build_trainer
from runners.families.distributed import ApexConfig
from runners.local.loop import run
from tests.helpers import quick


@pytest.fixture
def two_nodes() -> Iterator[tuple[Cluster, Any]]:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    try:
        second = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            yield cluster, second
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


@pytest.mark.slow  # two raylets and a restart: ~45 s on 2 cores
def test_losing_a_node_does_not_stop_training(two_nodes: tuple[Cluster, Any], tmp_path: Path) -> None:
    cluster, second = two_nodes
    cfg = quick("dqn-cartpole", tmp_path, 100_000)
    cfg = replace(cfg, runner=replace(cfg.runner, train_every=8, eval_episodes=0),
                  distributed=ApexConfig(kind="ray", num_workers=2, worker_cpus=0.5, status_every=0))
    trainer = build_trainer(cfg)
    try:
        nodes = ray.get([h.node_id.remote() for h in trainer.pool.handles])
        assert second.node_id in nodes  # SPREAD placed a worker on the second node
        run(trainer, lambda t, final: None, stop_at=1_000)
        step, updates = trainer.step, trainer.learner.updates
        cluster.remove_node(second)
        lost = nodes.index(second.node_id)
        deadline = time.monotonic() + 90
        while trainer.pool.deaths[lost] == 0 or trainer.pool.down_since[lost] is not None:
            assert time.monotonic() < deadline, "the lost node's worker did not come back"
            run(trainer, lambda t, final: None, stop_at=trainer.step + 500)
        run(trainer, lambda t, final: None, stop_at=trainer.step + 1_000)
        assert trainer.step > step + 1_000 and trainer.learner.updates > updates
        assert ray.get(trainer.pool.handles[lost].node_id.remote()) != second.node_id
    finally:
        trainer.close()
