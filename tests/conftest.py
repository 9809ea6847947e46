"""Shared test settings: no network, no wandb unless a test asks, fast torch."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    # Determinism checks and timing are steadier with one intra-op thread on a 2-core machine.
    torch.set_num_threads(1)
