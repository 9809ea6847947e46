"""DQN family actor and learner (Mnih et al. 2015; Rainbow: Hessel et al. 2018).

Deviations from the papers, on purpose:
- Noisy layers act with fresh noise every env step and are evaluated with their mean weights.
- PER priorities for C51 are the cross-entropy (as Rainbow), for the others ``|TD error|``.
- Rewards are clipped (when configured) before n-step accumulation, by the runner.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from agents.base import LearnerOutput, RecurrentState
from agents.dqn.config import DQNConfig
from agents.dqn.loss import c51_loss, q_learning_loss
from agents.dqn.network import QNetwork
from agents.optim import build_optimizer
from agents.schedules import LinearSchedule
from replay.types import Batch


class DQNLearner:
    """Owns the online and target networks and the optimiser; ``step`` does one update."""

    def __init__(self, network: QNetwork, cfg: DQNConfig, device: str | torch.device = "cpu",
                 seed: int = 0) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.online = network.to(self.device)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = build_optimizer(cfg.optimizer, self.online.parameters(), cfg.lr, cfg.optimizer_eps)
        self.generator = torch.Generator().manual_seed(seed)  # noisy-net noise for updates
        self.updates = 0

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, device=self.device)

    def step(self, batch: Batch) -> LearnerOutput:
        cfg = self.cfg
        obs, next_obs = self._tensor(batch.obs), self._tensor(batch.next_obs)
        action = self._tensor(batch.action).long()
        reward, discount = self._tensor(batch.reward).float(), self._tensor(batch.discount).float()
        weight = self._tensor(batch.weight).float()
        if cfg.noisy:
            self.online.reset_noise(self.generator)
            self.target.reset_noise(self.generator)

        out, _ = self.online(obs)  # [B, A, K]
        with torch.no_grad():
            next_target, _ = self.target(next_obs)  # [B, A, K]
            q_next_online = self.online.q_values(self.online(next_obs)[0]) if cfg.double else None  # [B, A]
        if cfg.distributional:
            loss, aux = c51_loss(out, next_target, q_next_online, action, reward, discount, weight,
                                 self.online.support)
        else:
            loss, aux = q_learning_loss(out.squeeze(-1), next_target.squeeze(-1), q_next_online, action,
                                        reward, discount, weight, cfg.loss)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.online.parameters(), cfg.max_grad_norm)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.online.parameters()
                                                       if p.grad is not None])
        self.optimizer.step()
        self.updates += 1
        self._update_target()
        metrics = {"loss": float(loss.detach()), "grad_norm": float(grad_norm),
                   "q_mean": float(self.online.q_values(out.detach()).mean())}
        return LearnerOutput(metrics=metrics, priorities=aux.cpu().numpy())

    def _update_target(self) -> None:
        if self.updates % self.cfg.target_update_period != 0:
            return
        if self.cfg.tau >= 1.0:
            self.target.load_state_dict(self.online.state_dict())
            return
        with torch.no_grad():
            target_params: list[torch.Tensor] = list(self.target.parameters())
            online_params: list[torch.Tensor] = list(self.online.parameters())
            torch._foreach_lerp_(target_params, online_params, self.cfg.tau)
            for t, o in zip(self.target.buffers(), self.online.buffers(), strict=True):
                t.copy_(o)

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        return self.updates, self.online.state_dict()

    def state_dict(self) -> dict[str, Any]:
        return {"online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "updates": self.updates,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
        self.generator.set_state(state["generator"])


class DQNActor:
    """Epsilon-greedy (and/or noisy) action selection over a Q network.

    The network may be the learner's own module (one process: zero-copy) or a copy that receives
    ``update_params`` from a learner elsewhere (Ray).
    """

    def __init__(self, network: QNetwork, cfg: DQNConfig, seed: int = 0, greedy: bool = False,
                 epsilon: float | None = None) -> None:
        self.network = network
        self.device = next(network.parameters()).device
        self.noisy = cfg.noisy and not greedy
        self.schedule = LinearSchedule(cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps)
        self.fixed_epsilon = epsilon if epsilon is not None else (0.0 if greedy else None)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.steps = 0
        self.version = 0

    @property
    def epsilon(self) -> float:
        return self.fixed_epsilon if self.fixed_epsilon is not None else self.schedule(self.steps)

    def act(self, obs: np.ndarray, state: RecurrentState = None,
            reset: np.ndarray | None = None) -> tuple[np.ndarray, RecurrentState]:
        """Actions for ``obs [N, ...]``; memory torsos also take and return the state, and zero the rows of
        ``state`` where ``reset [N]`` (bool) marks an episode's first observation."""
        n = obs.shape[0]
        eps = self.epsilon
        with torch.no_grad():
            if self.noisy:
                self.network.reset_noise(self.generator)
            reset_t = None if reset is None else torch.as_tensor(reset, device=self.device)
            out, state = self.network(torch.as_tensor(obs, device=self.device), state, reset_t)
            greedy = self.network.q_values(out).argmax(dim=1).cpu().numpy()  # [N]
        explore = self.rng.random(n) < eps
        random_actions = self.rng.integers(0, out.shape[1], size=n)
        self.steps += n
        return np.where(explore, random_actions, greedy).astype(np.int64), state

    def update_params(self, version: int, params: dict[str, torch.Tensor]) -> None:
        self.network.load_state_dict(params)
        self.version = version

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "generator": self.generator.get_state(),
                "steps": self.steps, "version": self.version}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
        self.steps = int(state["steps"])
        self.version = int(state["version"])
