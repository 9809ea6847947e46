"""Replay: observation storage, n-step accumulation and uniform / prioritized sampling (numpy + numba)."""

from replay.buffer import ReplayBuffer
from replay.types import Batch, Transition

__all__ = ["Batch", "ReplayBuffer", "Transition"]
