"""Recurrent DQN family learner on replayed sequences (R2D2: Kapturowski et al. 2019).

Every DQN flag carries over: double Q, dueling, noisy nets, C51 and PER (sequence priorities); n-step
returns are computed inside each sequence. One update:

1. the online network unrolls the first ``burn_in`` positions from the stored start state without gradient
   ("burn-in": the stored state is stale, as it was computed by older parameters), then the remaining
   positions with gradient;
2. the target network unrolls the whole sequence from the same stored state, without gradient;
3. each learned position ``j`` gets the n-step target ``R_j + discount_j * Q_target(obs[j + k], a*)`` with
   ``k = min(n, end - j)``: windows near the sequence's end bootstrap from fewer rewards (as Acme's R2D2),
   and ``discount`` is 0 where the episode terminated inside the k steps;
4. the loss is the (importance-weighted) mean over real learned positions; the sequence priority is
   ``eta * max|delta| + (1 - eta) * mean|delta|`` over them (the C51 cross-entropy stands in for
   ``|delta|``, as in Rainbow).

Deviation from R2D2: no invertible value rescaling h(x) (the Atari trick for unclipped rewards); use reward
clipping or C51's support instead.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import LearnerOutput, RecurrentState
from agents.dqn.agent import DQNLearner
from agents.dqn.loss import c51_loss, q_learning_loss
from agents.torsos.recurrent import flatten_state, unflatten_state
from replay.sequence import sequence_priority
from replay.types import Batch, SequenceBatch


def sequence_targets(reward: torch.Tensor, terminated: torch.Tensor, mask: torch.Tensor, burn_in: int,
                     n_step: int, gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n-step returns, bootstrap factors and bootstrap positions of the learned positions of sequences.

    Real steps of a sequence are contiguous (``replay.sequence``), so ``end`` (the position of the observation
    after the last real step) is the first real position plus their count.

    Args:
        reward: ``[S, B]`` float. terminated, mask: ``[S, B]`` bool. burn_in: positions not learned on.
        n_step: ``n``. gamma: discount.

    Returns:
        ``(R [L, B], discount [L, B], boot [L, B] int64)`` for the ``L = S - burn_in`` learned positions ``j``:
        ``R = sum_{i<k} gamma^i r_{j+i}``, ``discount = gamma^k`` (0 if the episode terminated at ``end - 1``
        and ``j + k == end``), ``boot = j + k`` an index into the ``S + 1`` observations. Rows at padded
        positions hold ``k = 0`` and must be masked by the caller.
    """
    s, b = reward.shape
    count = mask.sum(0)  # [B]
    first = mask.float().argmax(0)  # [B] first real position (0 when none)
    end = first + count  # [B]
    pos = torch.arange(burn_in, s, device=reward.device)[:, None]  # [L, 1]
    k = (end[None, :] - pos).clamp(min=0, max=n_step)  # [L, B]
    padded = torch.cat([reward * mask, reward.new_zeros(n_step, b)])  # [S + n, B]
    ret = reward.new_zeros(s - burn_in, b)
    for i in range(n_step):
        ret = ret + (gamma ** i) * padded[burn_in + i: s + i] * (i < k)
    boot = pos + k  # [L, B]
    term_end = terminated.gather(0, (end - 1).clamp(min=0)[None, :]).squeeze(0) & (count > 0)  # [B]
    discount = gamma ** k.float() * ~(term_end[None, :] & (boot == end[None, :]))
    return ret, discount, boot


class RecurrentDQNLearner(DQNLearner):
    """``DQNLearner`` whose ``step`` takes a ``SequenceBatch`` and unrolls a memory torso over it."""

    def _state(self, arrays: tuple[np.ndarray, ...]) -> RecurrentState:
        like = self.online.initial_state(1)
        # Replay keeps every state array as float32; the attention torso's validity mask is bool again here.
        dtypes = [t.dtype for t in flatten_state(like)]
        return unflatten_state([self._tensor(a).to(d) for a, d in zip(arrays, dtypes, strict=True)], like)

    def step(self, batch: Batch | SequenceBatch) -> LearnerOutput:  # type: ignore[override]
        if not isinstance(batch, SequenceBatch):
            raise TypeError("a memory-torso DQN learns from sequences (replay.sequence.SequenceReplay)")
        cfg, burn = self.cfg, batch.burn_in
        obs = self._tensor(batch.obs).transpose(0, 1)  # [S + 1, B, ...]
        reset = self._tensor(batch.reset).transpose(0, 1)  # [S + 1, B]
        action = self._tensor(batch.action).long().transpose(0, 1)[burn:]  # [L, B]
        reward = self._tensor(batch.reward).float().transpose(0, 1)  # [S, B]
        if cfg.reward_clip:
            reward = reward.clamp(-1.0, 1.0)
        terminated = self._tensor(batch.terminated).transpose(0, 1)  # [S, B]
        mask = self._tensor(batch.mask).transpose(0, 1)  # [S, B]
        learn_mask = mask[burn:]  # [L, B]
        start = self._state(batch.state)  # neither unroll writes into its input state, so both share it
        state = start
        if cfg.noisy:
            self.online.reset_noise(self.generator)
            self.target.reset_noise(self.generator)

        with torch.no_grad():
            if burn > 0:
                _, state = self.online.forward_sequence(obs[:burn], state, reset[:burn])
            target_out, _ = self.target.forward_sequence(obs, start, reset)  # [S+1, B, A, K]
            ret, discount, boot = sequence_targets(reward, terminated, mask, burn, cfg.n_step, cfg.gamma)
        out, _ = self.online.forward_sequence(obs[burn:], state, reset[burn:])  # [L + 1, B, A, K]
        length, b = action.shape
        pick = boot[..., None, None].expand(-1, -1, *target_out.shape[2:])  # [L, B, A, K]
        next_target = target_out.gather(0, pick)  # [L, B, A, K]
        q_next_online = None
        if cfg.double:
            online_all = self.online.q_values(out.detach().flatten(0, 1)).unflatten(0, out.shape[:2])  # [L+1, B, A]
            idx = (boot - burn).clamp(min=0)[..., None].expand(-1, -1, online_all.shape[-1])
            q_next_online = online_all.gather(0, idx).flatten(0, 1)  # [L*B, A]
        # Importance weights per sequence, spread over its real learned positions so the loss is their mean.
        weight = self._tensor(batch.weight).float()[None, :] * learn_mask  # [L, B]
        weight = weight * (weight.numel() / learn_mask.sum().clamp(min=1))
        flat = (out[:-1].flatten(0, 1), next_target.flatten(0, 1))  # [L*B, A, K] each
        if cfg.distributional:
            loss, aux = c51_loss(flat[0], flat[1], q_next_online, action.flatten(), ret.flatten(),
                                 discount.flatten(), weight.flatten(), self.online.support)
        else:
            loss, aux = q_learning_loss(flat[0].squeeze(-1), flat[1].squeeze(-1), q_next_online, action.flatten(),
                                        ret.flatten(), discount.flatten(), weight.flatten(), cfg.loss)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = list(self.online.parameters())
        if cfg.max_grad_norm > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
        self.optimizer.step()
        self.updates += 1
        self._update_target()
        td = aux.reshape(length, b).T.cpu().numpy()  # [B, L]
        priorities = sequence_priority(td, batch.mask[:, burn:], cfg.priority_eta)
        q = self.online.q_values(out[:-1].detach().flatten(0, 1))  # [L*B, A]
        metrics = {"loss": float(loss.detach()), "grad_norm": float(grad_norm),
                   "q_mean": float(q[learn_mask.flatten()].mean()) if learn_mask.any() else 0.0}
        return LearnerOutput(metrics=metrics, priorities=priorities)
