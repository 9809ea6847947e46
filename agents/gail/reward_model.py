"""GAIL as a ``RewardModel`` for the on-policy runner (Ho & Ermon 2016).

Each generator round the runner hands over a fresh rollout; the discriminator takes ``disc_steps``
passes over the rollout's (s, a) pairs in minibatches, each against as many expert pairs drawn from the
demonstrations, then the generator learns from ``reward_from_logit(D's logit)`` instead of the env's
reward. Continuous policy actions are clipped to the env's bounds before D sees them, as the env did
(the demonstrations hold clipped actions, so unclipped ones would be trivially told apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.gail.config import GAILConfig, RewardForm
from agents.gail.discriminator import (
    Discriminator,
    auto_reward_form,
    discriminator_loss,
    gradient_penalty,
    reward_from_logit,
)
from agents.torsos import TorsoConfig, build_torso
from envs.base import EnvSpec
from replay.demos import Demos
from replay.types import Rollout


class GAILRewardModel:
    """Discriminator, its optimiser and the expert data; rewards for the generator."""

    def __init__(self, spec: EnvSpec, torso: TorsoConfig, cfg: GAILConfig, demos: Demos, seed: int,
                 device: torch.device | str = "cpu") -> None:
        self.cfg, self.spec, self.device = cfg, spec, torch.device(device)
        self.reward_form: RewardForm = cfg.reward_form if cfg.reward_form != "auto" else \
            auto_reward_form(demos.terminated, demos.truncated)[0]
        self.reward_note = f"GAIL reward: {self.reward_form}" + (
            f" (auto: {auto_reward_form(demos.terminated, demos.truncated)[1]})" if cfg.reward_form == "auto" else "")
        action_dim = int(np.prod(spec.action_shape)) if spec.continuous else 0
        # D's initial weights come from ``seed`` (not from whatever state torch's global RNG is in), without
        # disturbing that global state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.disc = Discriminator(build_torso(torso, spec), spec.num_actions, action_dim, cfg.disc_hidden,
                                      cfg.spectral_norm).to(self.device)
        self.optimizer = torch.optim.Adam(self.disc.parameters(), lr=cfg.disc_lr)
        self.expert_obs = torch.as_tensor(demos.obs, device=self.device)  # [E, *obs_shape]
        self.expert_act = torch.as_tensor(demos.actions, device=self.device)  # [E] or [E, d]
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.low = torch.as_tensor(spec.action_low, dtype=torch.float32) if spec.continuous else None
        self.high = torch.as_tensor(spec.action_high, dtype=torch.float32) if spec.continuous else None

    def _policy_actions(self, action: np.ndarray) -> torch.Tensor:
        a = torch.as_tensor(action, device=self.device)
        if self.low is not None and self.high is not None:
            a = torch.clamp(a.float(), self.low.to(self.device), self.high.to(self.device))
        return a

    def reward(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        t, n = obs.shape[:2]
        o = torch.as_tensor(obs.reshape(t * n, *obs.shape[2:]), device=self.device)
        a = self._policy_actions(action.reshape(t * n, *action.shape[2:]))
        self.disc.eval()
        with torch.inference_mode():
            r = reward_from_logit(self.disc(o, a), self.reward_form)
        return r.reshape(t, n).cpu().numpy().astype(np.float32)

    def update(self, rollout: Rollout) -> dict[str, float]:
        """``disc_steps`` passes over the rollout's valid steps, expert minibatches of equal size."""
        mask = rollout.mask.reshape(-1)
        obs = torch.as_tensor(rollout.obs.reshape(-1, *rollout.obs.shape[2:])[mask], device=self.device)
        act = self._policy_actions(rollout.action.reshape(-1, *rollout.action.shape[2:])[mask])
        n, bs = obs.shape[0], self.cfg.disc_batch_size
        self.disc.train()
        logs: list[dict[str, float]] = []
        for _ in range(self.cfg.disc_steps):
            order = self.rng.permutation(n)
            for start in range(0, n, bs):
                idx = torch.as_tensor(order[start:start + bs])
                eidx = torch.as_tensor(self.rng.integers(0, self.expert_obs.shape[0], size=len(idx)))
                eo, ea, po, pa = self.expert_obs[eidx], self.expert_act[eidx], obs[idx], act[idx]
                loss, aux = discriminator_loss(self.disc(eo, ea), self.disc(po, pa), self.cfg.entropy_weight)
                if self.cfg.grad_penalty > 0:
                    gp = gradient_penalty(self.disc, eo, ea, po, pa, self.generator)
                    loss = loss + self.cfg.grad_penalty * gp
                    aux["disc_grad_penalty"] = gp.detach()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                logs.append({k: float(v) for k, v in aux.items()})
        self.disc.eval()
        return {k: float(np.mean([m[k] for m in logs])) for k in logs[0]} if logs else {}

    def state_dict(self) -> dict[str, Any]:
        return {"disc": self.disc.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.disc.load_state_dict(state["disc"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"])
