"""Behaviour cloning (Pomerleau 1991): maximum likelihood of the expert's actions under the policy.

Cross-entropy for discrete actions, Gaussian log-likelihood for continuous ones (both are
``-dist.log_prob(a)``), plus an entropy bonus and an optional L2 penalty. Works on the policy-gradient
``ActorCritic``, so a cloned policy is a ready starting point for PPO or GAIL (pre-training).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActorCritic
from agents.gail.config import BCConfig
from replay.demos import Demos


def bc_loss(network: ActorCritic, obs: torch.Tensor, action: torch.Tensor, entropy_weight: float,
            l2: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``-mean log pi(a|s) - w * mean entropy + l2 * ||theta||^2`` on expert pairs; aux has the parts."""
    dist, _ = network(obs)
    nll = -dist.log_prob(action).mean()
    entropy = dist.entropy().mean()
    loss = nll - entropy_weight * entropy
    if l2 > 0:
        loss = loss + l2 * sum((p.pow(2).sum() for p in network.parameters() if p.dim() > 1), torch.zeros(()))
    with torch.no_grad():
        aux = {"bc_nll": nll.detach(), "bc_entropy": entropy.detach()}
        if action.dtype in (torch.int64, torch.int32):
            aux["bc_accuracy"] = (dist.mode() == action).float().mean()
    return loss, aux


class BCLearner:
    """Minibatch gradient steps of ``bc_loss`` on a set of demonstrations."""

    def __init__(self, network: ActorCritic, cfg: BCConfig, demos: Demos, seed: int,
                 device: torch.device | str = "cpu") -> None:
        self.network, self.cfg, self.device = network, cfg, torch.device(device)
        self.obs = torch.as_tensor(demos.obs, device=self.device)
        self.actions = torch.as_tensor(demos.actions, device=self.device)
        # Observation statistics come from the demonstrations (the policy has not seen the env yet).
        network.obs_norm.update(demos.obs)  # a no-op when normalisation is off
        self.optimizer = torch.optim.Adam(network.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(seed)
        self.steps = 0

    def step(self) -> dict[str, float]:
        idx = torch.as_tensor(self.rng.integers(0, self.obs.shape[0], size=self.cfg.batch_size))
        self.network.train()
        loss, aux = bc_loss(self.network, self.obs[idx], self.actions[idx], self.cfg.entropy_weight, self.cfg.l2)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.network.eval()
        self.steps += 1
        return {"bc_loss": float(loss.detach()), **{k: float(v) for k, v in aux.items()}}

    def train(self, steps: int) -> dict[str, float]:
        """``steps`` updates; the metrics of the last one."""
        out: dict[str, float] = {}
        for _ in range(steps):
            out = self.step()
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.steps = int(state["steps"])
