"""The AlphaZero learner: one gradient step on a batch of self-play positions."""

from __future__ import annotations

from typing import Any

import torch

from agents.alphazero.config import AlphaZeroConfig
from agents.alphazero.loss import alphazero_loss
from agents.alphazero.network import PolicyValueNet
from agents.base import LearnerOutput
from agents.optim import build_optimizer
from replay.types import GameRecord


class AlphaZeroLearner:
    """Owns the network and its optimiser; ``step`` trains, ``get_params`` publishes versioned weights."""

    def __init__(self, network: PolicyValueNet, cfg: AlphaZeroConfig, device: str = "cpu") -> None:
        self.network = network.to(device)
        self.cfg, self.device = cfg, device
        self.optimizer = build_optimizer(cfg.optimizer, self.network.parameters(), cfg.lr)
        self.version = 0  # updates so far

    def step(self, batch: GameRecord) -> LearnerOutput:
        self.network.train()
        dev = self.device
        obs = torch.as_tensor(batch.obs, device=dev)  # [B, C, H, W]
        legal = torch.as_tensor(batch.legal_mask, device=dev)  # [B, A]
        pi = torch.as_tensor(batch.policy, device=dev)  # [B, A]
        z = torch.as_tensor(batch.value, device=dev)  # [B]
        logits, value = self.network(obs)
        loss, aux = alphazero_loss(logits, value, pi, z, legal, self.network.parameters(), self.cfg.l2,
                                   self.cfg.value_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics = {k: float(v) for k, v in aux.items()}
        if self.cfg.max_grad_norm > 0:
            metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.network.parameters(),
                                                                        self.cfg.max_grad_norm))
        self.optimizer.step()
        self.network.eval()
        self.version += 1
        metrics["loss"] = float(loss.detach())
        return LearnerOutput(metrics=metrics)

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        return self.version, {k: v.detach().clone() for k, v in self.network.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "version": self.version}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.version = int(state["version"])
        self.network.eval()
