"""PPO learner: PPO-clip with GAE (Schulman et al. 2017, "Proximal Policy Optimization Algorithms").

One ``update`` consumes one ``[T, N]`` rollout: learning rewards (env or reward model) are clipped and/or
scaled, GAE(lambda) gives advantages and value targets (truncations bootstrap from the final
observation's value, ``agents.returns``), then ``epochs`` passes of shuffled minibatches take Adam steps on
``L_clip + c_V L_V - c_H H`` with the global gradient norm clipped.

Deviations and choices, on purpose:
- Advantages are normalised per minibatch (OpenAI Baselines, CleanRL, SB3), not in the paper.
- The value loss may be clipped around the acting-time value (PPO2's form, ``value_clip > 0``).
- Learning-rate and clip annealing decay linearly to 0 over ``total_updates`` (the paper anneals both on
  Atari, CleanRL only the learning rate).
- Observation statistics (``ActorCritic.obs_norm``) are folded in after each update, so acting and learning
  on one rollout see the same normalisation and the first epoch's ratio is exactly 1.
- Legal-action masks (board games): a rollout's ``legal_mask`` is applied again in every minibatch, so the
  ratio compares the same masked distributions the actions were sampled from (feed-forward networks only).
- Recurrent networks (memory cores): minibatches are sets of whole env columns ``[T, n_mb]``, re-run with
  ``ActorCritic.sequence`` from the rollout's stored start state and reset flags (truncated BPTT over the
  rollout, as in CleanRL's ``ppo_atari_lstm.py``); advantages and targets come from the acting pass's values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActorCritic, map_state, rollout_next_values
from agents.base import LearnerOutput
from agents.normalize import RewardScaler
from agents.optim import FlatParams, build_flat_optimizer
from agents.ppo.config import PPOConfig
from agents.ppo.loss import ppo_loss
from agents.returns import gae
from replay.types import Rollout


def explained_variance(pred: np.ndarray, target: np.ndarray) -> float:
    """``1 - Var(target - pred) / Var(target)`` (1: perfect, 0: no better than a constant)."""
    var = float(np.var(target))
    return float("nan") if var == 0 else 1.0 - float(np.var(target - pred)) / var


def _rows(state: Any, index: torch.Tensor) -> Any:
    """The rows ``index`` of every tensor of a batch-first recurrent state."""
    return map_state(lambda t: t[index], state)


class PPOLearner:
    """Owns the actor-critic network, its optimiser and the reward scaler; ``update`` learns from a rollout."""

    def __init__(self, network: ActorCritic, cfg: PPOConfig, num_envs: int, total_updates: int,
                 device: str | torch.device = "cpu", seed: int = 0) -> None:
        """
        Args:
            network: the actor-critic (with a value head); the actor may act with this very module.
            cfg: PPO settings.
            num_envs: ``N`` (for the reward scaler's per-env running returns).
            total_updates: updates the run will make (for annealing).
            device: torch device of the network.
            seed: seed of the minibatch shuffling.
        """
        if not network.has_value:
            raise ValueError("PPO needs a network with a value head")
        self.cfg = cfg
        self.device = torch.device(device)
        self.network = network.to(self.device)
        self.flat = FlatParams(self.network.parameters())  # one buffer: optimiser, clipping, zeroing in one op each
        self.optimizer = build_flat_optimizer(cfg.optimizer, self.flat, cfg.lr, cfg.optimizer_eps)
        self.total_updates = max(int(total_updates), 1)
        self.generator = torch.Generator().manual_seed(seed)
        self.reward_scaler = RewardScaler(num_envs, cfg.gamma) if cfg.reward_scaling else None
        self.updates = 0

    def _schedule(self) -> tuple[float, float]:
        """``(lr, clip)`` for the coming update."""
        frac = 1.0 - self.updates / self.total_updates
        lr = self.cfg.lr * frac if self.cfg.anneal_lr else self.cfg.lr
        clip = self.cfg.clip * frac if self.cfg.anneal_clip else self.cfg.clip
        return lr, max(clip, 1e-8)

    def learning_reward(self, rollout: Rollout, reward: np.ndarray | None) -> np.ndarray:
        """``[T, N]`` rewards to learn from: ``reward`` (a reward model's) or the env's, clipped and scaled."""
        r = rollout.reward if reward is None else np.asarray(reward, dtype=np.float32)
        if self.cfg.reward_clip:
            r = np.clip(r, -1.0, 1.0)
        if self.reward_scaler is not None:
            r = self.reward_scaler(r, rollout.terminated | rollout.truncated)
        return r

    def update(self, rollout: Rollout, reward: np.ndarray | None = None) -> LearnerOutput:
        """Learn from ``rollout``; ``reward [T, N]`` replaces its env rewards for learning when given."""
        cfg = self.cfg
        r = self.learning_reward(rollout, reward)
        next_value = rollout_next_values(self.network, rollout, self.device)
        adv, ret = gae(r, rollout.value, next_value, rollout.terminated, rollout.truncated, cfg.gamma, cfg.gae_lambda)
        if self.network.is_recurrent:
            if rollout.legal_mask is not None:
                raise ValueError("legal-action masks are not supported with memory cores yet")
            return self._update_recurrent(rollout, adv, ret)
        valid = np.flatnonzero(rollout.mask.reshape(-1))  # [B] flat indices of the steps to learn from

        def flat(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x.reshape(-1, *x.shape[2:])[valid], device=self.device)

        obs, action = flat(rollout.obs), flat(rollout.action)
        old_log_prob, old_value = flat(rollout.log_prob), flat(rollout.value)
        advantage, returns = flat(adv), flat(ret)
        legal = None if rollout.legal_mask is None else flat(rollout.legal_mask)  # [B, A] bool
        lr, clip = self._schedule()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        b = len(valid)
        mb = max(b // max(cfg.num_minibatches, 1), 1)
        n_mb = b // mb  # a remainder of b % mb samples sits out each epoch (a different one each time)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for epoch in range(cfg.epochs):
            # One gather per tensor per epoch, shaped [n_mb, mb, ...]: cheaper than indexing every minibatch.
            perm = torch.randperm(b, generator=self.generator).to(self.device)[:n_mb * mb].view(n_mb, mb)
            e_obs, e_action, e_old_lp, e_old_v, e_adv, e_ret = (x[perm] for x in (
                obs, action, old_log_prob, old_value, advantage, returns))
            e_legal = None if legal is None else legal[perm]  # [n_mb, mb, A]
            if cfg.normalize_advantage and mb > 1:  # per minibatch, all minibatches at once
                e_adv = (e_adv - e_adv.mean(1, keepdim=True)) / (e_adv.std(1, keepdim=True) + 1e-8)
            # Diagnostics (clip fraction, KL, ...) cost a few ops per minibatch: the last epoch's are reported,
            # every epoch's when the KL decides on early stopping.
            diagnostics = epoch == cfg.epochs - 1 or cfg.target_kl > 0
            epoch_kl = torch.zeros((), device=self.device)
            for i in range(n_mb):
                aux = self._minibatch_step(e_obs[i], e_action[i], e_old_lp[i], e_old_v[i], e_adv[i], e_ret[i], clip,
                                           diagnostics, legal_mask=None if e_legal is None else e_legal[i])
                if diagnostics:
                    for k, v in aux.items():
                        sums[k] = sums[k] + v if k in sums else v.clone()
                    epoch_kl = epoch_kl + aux["approx_kl"]
                    count += 1
            if cfg.target_kl > 0 and float(epoch_kl) / n_mb > cfg.target_kl:
                break
        minibatch_updates = (epoch + 1) * n_mb
        self.updates += 1
        self.network.obs_norm.update(rollout.obs.reshape(-1, *rollout.obs.shape[2:])[valid])
        # Means over the minibatches of the last epoch run (of every epoch with target_kl).
        metrics = {k: float(v) / max(count, 1) for k, v in sums.items()}
        metrics.update(lr=lr, clip=clip, minibatch_updates=float(minibatch_updates), epochs=float(epoch + 1),
                       explained_variance=explained_variance(rollout.value.reshape(-1)[valid],
                                                             ret.reshape(-1)[valid]))
        return LearnerOutput(metrics=metrics)

    def _update_recurrent(self, rollout: Rollout, adv: np.ndarray, ret: np.ndarray) -> LearnerOutput:
        """``update``'s epochs for a recurrent network: minibatches of whole env columns, re-run as sequences."""
        cfg = self.cfg
        if rollout.reset is None:
            raise ValueError("a recurrent network needs rollouts with reset flags and a start state")

        def cols(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, device=self.device)  # [T, N, ...]

        obs, action, reset = cols(rollout.obs), cols(rollout.action), cols(rollout.reset)
        old_log_prob, old_value, advantage, returns = (cols(x) for x in (rollout.log_prob, rollout.value, adv, ret))
        start = map_state(lambda t: t.to(self.device), rollout.initial_state)
        lr, clip = self._schedule()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        n = rollout.num_envs
        k = max(n // max(cfg.num_minibatches, 1), 1)  # env columns per minibatch
        n_mb = n // k
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for epoch in range(cfg.epochs):
            perm = torch.randperm(n, generator=self.generator).to(self.device)[:n_mb * k].view(n_mb, k)
            diagnostics = epoch == cfg.epochs - 1 or cfg.target_kl > 0
            epoch_kl = torch.zeros((), device=self.device)
            for i in range(n_mb):
                c = perm[i]
                e_adv = advantage[:, c].flatten()  # [T * k], time-major like the sequence pass
                if cfg.normalize_advantage and e_adv.numel() > 1:
                    e_adv = (e_adv - e_adv.mean()) / (e_adv.std() + 1e-8)
                sequence = (_rows(start, c), reset[:, c])
                aux = self._minibatch_step(obs[:, c], action[:, c].flatten(0, 1), old_log_prob[:, c].flatten(),
                                           old_value[:, c].flatten(), e_adv, returns[:, c].flatten(), clip,
                                           diagnostics, sequence)
                if diagnostics:
                    for key, v in aux.items():
                        sums[key] = sums[key] + v if key in sums else v.clone()
                    epoch_kl = epoch_kl + aux["approx_kl"]
                    count += 1
            if cfg.target_kl > 0 and float(epoch_kl) / n_mb > cfg.target_kl:
                break
        self.updates += 1
        self.network.obs_norm.update(rollout.obs.reshape(-1, *rollout.obs.shape[2:]))
        metrics = {key: float(v) / max(count, 1) for key, v in sums.items()}
        metrics.update(lr=lr, clip=clip, minibatch_updates=float((epoch + 1) * n_mb), epochs=float(epoch + 1),
                       explained_variance=explained_variance(rollout.value.reshape(-1), ret.reshape(-1)))
        return LearnerOutput(metrics=metrics)

    def _minibatch_step(self, obs: torch.Tensor, action: torch.Tensor, old_log_prob: torch.Tensor,
                        old_value: torch.Tensor, advantage: torch.Tensor, returns: torch.Tensor, clip: float,
                        diagnostics: bool, sequence: tuple[Any, torch.Tensor] | None = None,
                        legal_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One gradient step on one minibatch; returns detached diagnostics (empty unless ``diagnostics``).

        ``sequence``: ``(start state, reset [T, k])`` for a recurrent network, whose ``obs`` is ``[T, k, ...]``
        and whose other tensors are flattened time-major to ``[T * k]``. ``legal_mask [mb, A]``: the masks the
        actions were sampled under (feed-forward networks only).
        """
        cfg = self.cfg
        if sequence is None:
            dist, value = self.network(obs) if legal_mask is None else self.network(obs, legal_mask)
        else:
            dist, value, _ = self.network.sequence(obs, sequence[0], sequence[1])
        assert value is not None
        # Without an entropy bonus the entropy stays out of the graph (it is only reported).
        if cfg.ent_coef != 0:
            entropy = dist.entropy()
        else:
            with torch.no_grad():
                entropy = dist.entropy() if diagnostics else torch.zeros(1, device=self.device)
        loss, aux = ppo_loss(dist.log_prob(action), entropy, value, old_log_prob, old_value, advantage, returns,
                             clip, cfg.value_clip, cfg.value_coef, cfg.ent_coef, diagnostics)
        self.flat.zero_grad()
        loss.backward()
        grad_norm = self.flat.clip_grad_norm(cfg.max_grad_norm)
        self.optimizer.step()
        if not diagnostics:
            return {}
        del aux["ratio"]
        return {**aux, "loss": loss.detach(), "grad_norm": grad_norm}

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        return self.updates, self.network.state_dict()

    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "updates": self.updates, "generator": self.generator.get_state(),
                "reward_scaler": self.reward_scaler.state_dict() if self.reward_scaler is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state["updates"])
        self.generator.set_state(state["generator"])
        if self.reward_scaler is not None and state.get("reward_scaler") is not None:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
