"""The ``Evaluator`` protocol: how MCTS sees a network (or random rollouts), and nothing more.

``NetworkEvaluator`` wraps an AlphaZero policy-value network (Silver et al. 2018): priors are the softmax of the
policy logits over legal actions only, values the value head's output. ``UniformEvaluator`` is the network-free
stand-in for tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from envs.games.base import GameState


class Evaluator(Protocol):
    """Priors and values for a batch of non-terminal positions."""

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(priors, values)``.

        priors: float32 ``[B, num_actions]``, zero on illegal actions, each row summing to 1.
        values: float32 ``[B]`` in [-1, 1], the expected result for the player to move in each state.
        """
        ...


class UniformEvaluator:
    """Uniform priors over legal actions and value 0 everywhere (tests, and search driven by terminals only)."""

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        masks = np.array([s.legal_mask() for s in states], dtype=np.float32)  # [B, A]
        return masks / masks.sum(axis=1, keepdims=True), np.zeros(len(states), np.float32)


class NetworkEvaluator:
    """A policy-value network as an ``Evaluator``: one batched forward pass per call, with an LRU cache.

    ``model(obs [B, C, H, W]) -> (logits [B, A], value [B] in [-1, 1])``. Priors are a softmax over the legal
    actions' logits (illegal ones are masked to -inf before ``log_softmax``, so they get exactly 0).

    The cache maps ``state.key()`` to ``(priors, value)``: transpositions and re-searched positions skip the
    network. It is only valid for the weights that filled it: after changing the model's weights, call
    ``load_weights`` (loads and clears) or ``clear_cache``.

    The model runs in eval mode under ``torch.inference_mode()``; a model found in train mode is switched to
    eval for the call and back afterwards, so a learner can share it.

    Args:
        model: the policy-value network.
        device: where the forward pass runs (the model must already be there).
        cache_size: positions kept in the cache (least recently used evicted first); 0 disables it.
    """

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", cache_size: int = 100_000) -> None:
        self.model, self.device, self.cache_size = model, torch.device(device), cache_size
        self._cache: OrderedDict[Hashable, tuple[np.ndarray, float]] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0

    def clear_cache(self) -> None:
        """Forget every cached evaluation (required whenever the model's weights change)."""
        self._cache.clear()

    def load_weights(self, state_dict: Mapping[str, Any]) -> None:
        """Load new weights into the model and clear the cache they invalidate."""
        self.model.load_state_dict(state_dict)
        self.clear_cache()

    def evaluate(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        n = len(states)
        if self.cache_size <= 0:
            self.cache_misses += n
            return self._forward(states)
        cache = self._cache
        keys = [s.key() for s in states]
        hits = [cache.get(k) for k in keys]
        todo = [i for i, h in enumerate(hits) if h is None]
        self.cache_hits += n - len(todo)
        self.cache_misses += len(todo)
        if not todo:
            priors = np.stack([h[0] for h in hits])  # type: ignore[index]
            values = np.array([h[1] for h in hits], np.float32)  # type: ignore[index]
            for k in keys:
                cache.move_to_end(k)
            return priors, values
        new_p, new_v = self._forward([states[i] for i in todo])
        for j, i in enumerate(todo):
            hits[i] = (new_p[j].copy(), float(new_v[j]))  # a copy, so an entry does not pin its whole batch
        priors = np.stack([h[0] for h in hits])  # type: ignore[index]
        values = np.array([h[1] for h in hits], np.float32)  # type: ignore[index]
        for k, h in zip(keys, hits, strict=True):
            cache[k] = h  # type: ignore[assignment]
            cache.move_to_end(k)
        while len(cache) > self.cache_size:
            cache.popitem(last=False)
        return priors, values

    def _forward(self, states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
        obs = torch.from_numpy(np.array([s.observation() for s in states], dtype=np.float32))  # [B, C, H, W]
        legal = torch.from_numpy(np.array([s.legal_mask() for s in states], dtype=bool))  # [B, A]
        was_training = self.model.training
        if was_training:
            self.model.eval()  # batch norm must use its running statistics when searching
        try:
            with torch.inference_mode():
                logits, value = self.model(obs.to(self.device))  # [B, A], [B]
                logits = logits.float().masked_fill(~legal.to(self.device), float("-inf"))
                priors = torch.log_softmax(logits, dim=-1).exp()  # softmax over the legal actions only
                return priors.cpu().numpy(), value.float().reshape(-1).cpu().numpy()
        finally:
            if was_training:
                self.model.train()
