"""Pure loss functions of the DQN family: ``(network outputs, batch tensors) -> (loss, per-item aux)``.

- TD / Q-learning target: Mnih et al. 2015; double-Q target: van Hasselt et al. 2016.
- C51 projection and cross-entropy: Bellemare et al. 2017, Algorithm 1.
The per-item aux (``|TD error|`` or the C51 cross-entropy) becomes the new PER priority.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def greedy_next_actions(q_next_target: torch.Tensor, q_next_online: torch.Tensor | None) -> torch.Tensor:
    """``[B]`` next actions: argmax of the online net when given (double Q), else of the target net."""
    selector = q_next_online if q_next_online is not None else q_next_target
    return selector.argmax(dim=1)


def q_learning_loss(
    q: torch.Tensor,
    q_next_target: torch.Tensor,
    q_next_online: torch.Tensor | None,
    action: torch.Tensor,
    reward: torch.Tensor,
    discount: torch.Tensor,
    weight: torch.Tensor,
    kind: str = "huber",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted TD loss.

    Args:
        q: ``[B, A]`` online Q(s, .).
        q_next_target: ``[B, A]`` target-net Q(s', .).
        q_next_online: ``[B, A]`` online Q(s', .) for double Q, or None.
        action: ``[B]`` int64. reward: ``[B]`` n-step return. discount: ``[B]`` gamma^k (0 if terminal).
        weight: ``[B]`` importance weights.
        kind: ``"huber"`` (delta 1) or ``"mse"``.

    Returns:
        ``(scalar loss, [B] |TD error|)``.
    """
    q_sa = q.gather(1, action[:, None]).squeeze(1)  # [B]
    with torch.no_grad():
        a_next = greedy_next_actions(q_next_target, q_next_online)  # [B]
        target = reward + discount * q_next_target.gather(1, a_next[:, None]).squeeze(1)  # [B]
    td = target - q_sa
    if kind == "huber":
        per_item = F.huber_loss(q_sa, target, reduction="none", delta=1.0)
    elif kind == "mse":
        per_item = 0.5 * td.pow(2)
    else:
        raise ValueError(f"unknown loss '{kind}'")
    return (weight * per_item).mean(), td.detach().abs()


def categorical_projection(
    next_probs: torch.Tensor, reward: torch.Tensor, discount: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """Project the distribution ``r + discount * Z'`` back onto ``support`` (C51, Algorithm 1).

    Args:
        next_probs: ``[B, K]`` probabilities of Z(s', a*) on ``support``.
        reward: ``[B]``. discount: ``[B]``. support: ``[K]`` evenly spaced atoms from v_min to v_max.

    Returns:
        ``[B, K]`` projected probabilities; each row sums to the row sum of ``next_probs``.
    """
    k = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta_z = (v_max - v_min) / (k - 1)
    tz = (reward[:, None] + discount[:, None] * support[None, :]).clamp(v_min, v_max)  # [B, K]
    b = (tz - v_min) / delta_z  # [B, K] fractional atom index in [0, K-1]
    lower, upper = b.floor().long(), b.ceil().long()
    # w_lower = 1 - w_upper (not upper - b) keeps the mass when b is exactly an atom (lower == upper).
    w_upper = b - lower.float()
    w_lower = 1.0 - w_upper
    out = torch.zeros_like(next_probs)
    out.scatter_add_(1, lower, next_probs * w_lower)
    out.scatter_add_(1, upper, next_probs * w_upper)
    return out


def c51_loss(
    logits: torch.Tensor,
    next_logits_target: torch.Tensor,
    q_next_online: torch.Tensor | None,
    action: torch.Tensor,
    reward: torch.Tensor,
    discount: torch.Tensor,
    weight: torch.Tensor,
    support: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted cross-entropy between the projected target distribution and Z(s, a).

    Args:
        logits: ``[B, A, K]`` online logits at s. next_logits_target: ``[B, A, K]`` target logits at s'.
        q_next_online: ``[B, A]`` online expected Q at s' for double-Q action choice, or None.
        action, reward, discount, weight: ``[B]``. support: ``[K]``.

    Returns:
        ``(scalar loss, [B] cross-entropy)``; the latter is Rainbow's priority.
    """
    b = logits.shape[0]
    log_p = F.log_softmax(logits[torch.arange(b), action], dim=-1)  # [B, K]
    with torch.no_grad():
        next_probs_all = F.softmax(next_logits_target, dim=-1)  # [B, A, K]
        q_next_target = (next_probs_all * support).sum(-1)  # [B, A]
        a_next = greedy_next_actions(q_next_target, q_next_online)
        target = categorical_projection(next_probs_all[torch.arange(b), a_next], reward, discount, support)
    ce = -(target * log_p).sum(-1)  # [B]
    return (weight * ce).mean(), ce.detach()
