"""REINFORCE learner (Williams 1992) with a baseline: none, a running mean of returns, or a learned V(s).

One ``update`` consumes one rollout of whole episodes (``Rollout.mask`` marks their steps): rewards-to-go
``G_t`` (``agents.returns.rewards_to_go``; a truncated episode bootstraps from V of its final observation
when a value baseline exists, else its tail counts as 0), advantages ``G_t - b_t``, one policy-gradient
step on the batch, and, with the value baseline, ``value_steps`` regression steps of the critic on ``G``.

Diagnostics that make the baseline's effect visible: the policy entropy, and the variance of the
per-episode gradient estimate. For each of up to ``grad_var_episodes`` episodes ``e`` of the batch,
``g_e = (E / M) sum_{t in e} grad[-(G_t - b_t) log pi(a_t|s_t)]`` (``M`` steps in ``E`` episodes, so the
batch gradient is the mean of the ``g_e``); ``grad_var`` is the trace of their covariance (the summed
per-parameter variance: the variance of a one-episode estimate, in the units of the loss actually
optimised), ``grad_rel_var`` is ``grad_var / ||mean g_e||^2``, which does not depend on the scale of the
advantages and so compares baselines with and without advantage normalisation.

Recurrent policies (memory cores): every episode of a rollout starts from a fresh state, and the learner
unrolls the policy (and the value baseline) over the rollout's ``[T, N]`` columns from the stored start
state with the stored reset flags (``agents.reinforce.steps.SequenceSteps``; full backpropagation through
each episode), never over shuffled single steps. The value baseline and the truncation bootstraps are the
values computed while acting, which depend on the carried state.

Deviations: ``mean`` uses an exponential moving average of previous batches' mean reward-to-go (the
first batch uses its own mean), so the baseline never depends on the batch it is applied to after the
first. Rewards-to-go are discounted (gamma < 1 is a variance-reducing bias, as is standard).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActorCritic, rollout_next_values
from agents.base import LearnerOutput
from agents.optim import FlatOptimizer, FlatParams, build_flat_optimizer
from agents.reinforce.config import ReinforceConfig
from agents.reinforce.loss import reinforce_loss, value_regression_loss
from agents.reinforce.steps import FlatSteps, SequenceSteps
from agents.returns import rewards_to_go
from replay.types import Rollout


def episode_ids(done: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[T, N]`` int64 episode index of each step (-1 where masked); episodes numbered column by column."""
    t_len, n = done.shape
    # Step t belongs to the episode that started after the last done before t in its column.
    starts = np.concatenate([np.zeros((1, n), dtype=np.int64), np.cumsum(done[:-1], axis=0)], axis=0)
    per_col = starts.max(axis=0) + 1  # [N] episode slots per column
    offset = np.concatenate([[0], np.cumsum(per_col)[:-1]])
    ids = starts + offset[None, :]
    return np.where(mask, ids, -1)


class ReinforceLearner:
    """Policy-gradient updates on whole episodes, with an optional learned value baseline."""

    def __init__(self, network: ActorCritic, cfg: ReinforceConfig, device: str | torch.device = "cpu") -> None:
        """
        Args:
            network: the policy (with a value head exactly when ``cfg.baseline == "value"``).
            cfg: REINFORCE settings.
            device: torch device of the network.
        """
        if (cfg.baseline == "value") != network.has_value:
            raise ValueError("the value baseline needs a network with a value head, and only it")
        self.cfg = cfg
        self.device = torch.device(device)
        self.network = network.to(self.device)
        self.separate_critic = network.has_value and network.critic_torso is not None
        # Parameters live in flat buffers (one per optimiser): each optimiser step, clip and zeroing is one op.
        self.value_flat: FlatParams | None = None
        self.value_optimizer: FlatOptimizer | None = None
        if self.separate_critic:
            assert network.critic_torso is not None and network.value_head is not None
            critic = [*network.critic_torso.parameters(), *network.value_head.parameters()]
            critic_ids = {id(p) for p in critic}
            self.policy_params = [p for p in network.parameters() if id(p) not in critic_ids]
            self.value_flat = FlatParams(critic)
            self.value_optimizer = build_flat_optimizer(cfg.optimizer, self.value_flat, cfg.value_lr,
                                                        cfg.optimizer_eps)
        else:
            self.policy_params = list(network.parameters())
        self.flat = FlatParams(self.policy_params)
        self.optimizer = build_flat_optimizer(cfg.optimizer, self.flat, cfg.lr, cfg.optimizer_eps)
        self.mean_return: float | None = None  # the running-mean baseline
        self.updates = 0

    def _returns_and_baseline(self, rollout: Rollout, reward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.cfg
        bootstrap = rollout_next_values(self.network, rollout, self.device) if cfg.baseline == "value" else None
        g = rewards_to_go(reward, rollout.terminated, rollout.truncated, cfg.gamma, bootstrap)  # [T, N]
        if cfg.baseline == "value":
            return g, rollout.value
        if cfg.baseline == "mean":
            batch_mean = float(g[rollout.mask].mean()) if rollout.mask.any() else 0.0
            b = batch_mean if self.mean_return is None else self.mean_return
            self.mean_return = batch_mean if self.mean_return is None else \
                cfg.mean_decay * self.mean_return + (1 - cfg.mean_decay) * batch_mean
            return g, np.full_like(g, b)
        return g, np.zeros_like(g)

    def update(self, rollout: Rollout, reward: np.ndarray | None = None) -> LearnerOutput:
        """Learn from the masked episodes of ``rollout``; ``reward [T, N]`` replaces env rewards when given.

        A recurrent network is unrolled over the rollout's columns from ``rollout.initial_state`` with
        ``rollout.reset`` (``SequenceSteps``); a feed-forward one sees the masked steps as one batch.
        """
        cfg = self.cfg
        self._check_rollout(rollout)
        r = rollout.reward if reward is None else np.asarray(reward, dtype=np.float32)
        if cfg.reward_clip:
            r = np.clip(r, -1.0, 1.0)
        g, base = self._returns_and_baseline(rollout, r)
        mask = rollout.mask
        adv = (g - base)[mask]  # [M]
        if cfg.normalize_advantage and adv.size > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        valid = np.flatnonzero(mask.reshape(-1))  # [M] flat time-major indices of the masked steps
        steps: FlatSteps | SequenceSteps
        if self.network.is_recurrent:
            assert rollout.reset is not None
            steps = SequenceSteps(self.network, rollout.obs, rollout.action, rollout.reset, rollout.initial_state,
                                  valid, self.device)
        else:
            steps = FlatSteps(self.network, rollout.obs, rollout.action, valid, self.device)
        advantage = torch.as_tensor(adv, device=self.device)  # [M]
        returns = torch.as_tensor(g.reshape(-1)[valid], device=self.device)  # [M]
        metrics: dict[str, float] = {}
        if cfg.grad_var_episodes > 0:
            ids = episode_ids(rollout.terminated | rollout.truncated, mask).reshape(-1)[valid]
            metrics.update(self._gradient_variance(steps, advantage, ids))

        log_prob, entropy, value = steps.policy()
        loss, aux = reinforce_loss(log_prob, advantage, entropy, cfg.ent_coef)
        if value is not None and not self.separate_critic:
            v_loss = value_regression_loss(value, returns)
            loss = loss + cfg.value_coef * v_loss
            metrics["value_loss"] = float(v_loss.detach())
        self.flat.zero_grad()
        loss.backward()
        grad_norm = self.flat.clip_grad_norm(cfg.max_grad_norm)
        self.optimizer.step()
        if self.value_optimizer is not None and self.value_flat is not None:
            for _ in range(max(cfg.value_steps, 0)):
                v_loss = value_regression_loss(steps.values(), returns)
                self.value_flat.zero_grad()
                v_loss.backward()
                self.value_optimizer.step()
            metrics["value_loss"] = float(v_loss.detach()) if cfg.value_steps > 0 else float("nan")
        self.updates += 1
        self.network.obs_norm.update(rollout.obs.reshape(-1, *rollout.obs.shape[2:])[valid])
        metrics.update(loss=float(loss.detach()), policy_loss=float(aux["policy_loss"]),
                       entropy=float(aux["entropy"]), grad_norm=float(grad_norm),
                       baseline_mean=float(base[mask].mean()), return_mean=float(g[mask].mean()),
                       batch_steps=float(len(valid)))
        return LearnerOutput(metrics=metrics)

    def _check_rollout(self, rollout: Rollout) -> None:
        """A recurrent network needs what the recurrent collection stores (see ``runners.local.pg``)."""
        if not self.network.is_recurrent:
            return
        if rollout.reset is None or rollout.initial_state is None:
            raise ValueError("a recurrent network needs rollouts with reset flags and a start state")
        if self.cfg.baseline == "value" and (rollout.last_value is None or rollout.final_value is None):
            raise ValueError("a recurrent value baseline needs the rollout's acting-time bootstrap values "
                             "(last_value, final_value)")

    def _gradient_variance(self, steps: FlatSteps | SequenceSteps, advantage: torch.Tensor,
                           ids: np.ndarray) -> dict[str, float]:
        """Per-episode policy-gradient estimates (see the module docstring) -> their variance."""
        episodes = np.unique(ids)
        m, e = len(ids), len(episodes)
        if e < 2:
            return {}
        # Spread the sample over the batch (episodes are numbered column by column).
        pick = np.unique(np.linspace(0, e - 1, min(self.cfg.grad_var_episodes, e)).round().astype(np.int64))
        grads = []
        for ep in episodes[pick]:
            rows = np.flatnonzero(ids == ep)  # [L] this episode's rows of [M]
            sel = torch.as_tensor(rows, device=self.device)
            loss = -(steps.episode_log_prob(rows) * advantage[sel]).sum() * (e / m)
            g = torch.autograd.grad(loss, self.policy_params, allow_unused=True)
            grads.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1)
                                    for x, p in zip(g, self.policy_params, strict=True)]))
        stacked = torch.stack(grads)  # [K, P]
        if stacked.shape[0] < 2:
            return {}
        var = float(stacked.var(dim=0).sum())
        mean_sq = float(stacked.mean(0).pow(2).sum())
        return {"grad_var": var, "grad_rel_var": var / mean_sq if mean_sq > 0 else float("nan")}

    def get_params(self) -> tuple[int, dict[str, torch.Tensor]]:
        return self.updates, self.network.state_dict()

    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict(),
                "value_optimizer": self.value_optimizer.state_dict() if self.value_optimizer is not None else None,
                "updates": self.updates, "mean_return": self.mean_return}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.value_optimizer is not None:
            self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.updates = int(state["updates"])
        self.mean_return = state["mean_return"]
