"""Shared test settings: no network, no wandb unless a test asks, fast torch."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    # Determinism checks and timing are steadier with one intra-op thread on a 2-core machine.
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray instance with 2 logical CPUs for one test module, always shut down after it."""
    import ray  # only the Ray tests pay for the import

    # address "local": a private instance, never a `ray start` cluster (or RAY_ADDRESS) found on the machine
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def learning_seed() -> int:
    """The seed of a learning test: 0, or ``ARENA_LEARNING_SEED`` when benchmarks/learning_robustness.py runs
    the same test on other seeds."""
    return int(os.environ.get("ARENA_LEARNING_SEED", "0"))


@pytest.fixture
def learning_report(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """A dict a learning test fills with what it measured (steps to its threshold, best return, losses); written
    as one JSON line to ``ARENA_LEARNING_REPORT`` when that is set, even when the test fails."""
    report: dict[str, object] = {}
    yield report
    path = os.environ.get("ARENA_LEARNING_REPORT")
    if path:
        import json

        with open(path, "a") as f:
            f.write(json.dumps({"test": request.node.nodeid, **report}) + "\n")
