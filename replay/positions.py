"""A sliding window of self-play positions for AlphaZero (uniform sampling, oldest out first)."""

from __future__ import annotations

from typing import Any

import numpy as np

from replay.types import GameRecord


class PositionBuffer:
    """Ring storage of the last ``capacity`` positions.

    Args:
        capacity: window size in positions (after symmetry augmentation).
        obs_shape: ``[C, H, W]`` of one observation.
        num_actions: size of the policy target.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), np.float32)
        self.legal = np.zeros((capacity, num_actions), bool)
        self.policy = np.zeros((capacity, num_actions), np.float32)
        self.value = np.zeros(capacity, np.float32)
        self.player = np.zeros(capacity, np.int8)
        self.cursor = 0  # next slot to write
        self.size = 0
        self.added = 0  # positions ever added

    def __len__(self) -> int:
        return self.size

    def add(self, rec: GameRecord) -> None:
        n = len(rec)
        if n > self.capacity:  # keep only the newest
            rec = GameRecord(rec.obs[-self.capacity:], rec.legal_mask[-self.capacity:], rec.policy[-self.capacity:],
                             rec.value[-self.capacity:], rec.player[-self.capacity:])
            n = self.capacity
        idx = (self.cursor + np.arange(n)) % self.capacity
        self.obs[idx], self.legal[idx], self.policy[idx] = rec.obs, rec.legal_mask, rec.policy
        self.value[idx], self.player[idx] = rec.value, rec.player
        self.cursor = int((self.cursor + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, batch_size: int, rng: np.random.Generator) -> GameRecord:
        idx = rng.integers(0, self.size, size=batch_size)
        return GameRecord(self.obs[idx], self.legal[idx], self.policy[idx], self.value[idx], self.player[idx])

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        return {"obs": self.obs[:n].copy(), "legal": self.legal[:n].copy(), "policy": self.policy[:n].copy(),
                "value": self.value[:n].copy(), "player": self.player[:n].copy(), "cursor": self.cursor,
                "size": n, "added": self.added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = int(state["size"])
        self.obs[:n], self.legal[:n], self.policy[:n] = state["obs"], state["legal"], state["policy"]
        self.value[:n], self.player[:n] = state["value"], state["player"]
        self.cursor, self.size, self.added = int(state["cursor"]), n, int(state["added"])
