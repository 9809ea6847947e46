"""The AlphaZero loss (Silver et al. 2018): l = (z - v)^2 - pi^T log p + c ||theta||^2.

pi is the MCTS visit distribution at the root (not the move played); p is the softmax of the policy
logits over legal actions only; the L2 term covers weight matrices and kernels (tensors with more than
one dimension), not biases or normalisation scales, which is how it is usually implemented.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def masked_log_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """log p over legal actions ``[B, A]``; illegal entries are 0 (never -inf), so ``pi * logp`` stays finite."""
    logp = torch.log_softmax(logits.masked_fill(~legal, float("-inf")), dim=-1)
    return torch.where(legal, logp, torch.zeros_like(logp))


def l2_penalty(params: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    return sum((p.pow(2).sum() for p in params if p.dim() > 1), torch.zeros(()))


def alphazero_loss(logits: torch.Tensor, value: torch.Tensor, target_policy: torch.Tensor, target_value: torch.Tensor,
                   legal: torch.Tensor, params: Iterable[torch.nn.Parameter], l2: float,
                   value_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and diagnostics for one batch.

    Args:
        logits: ``[B, A]`` policy logits.
        value: ``[B]`` predicted value in [-1, 1].
        target_policy: ``[B, A]`` MCTS visit distribution (zero on illegal actions).
        target_value: ``[B]`` game result z for the player to move.
        legal: ``[B, A]`` bool legal actions.
        params: the network's parameters (for the L2 term).
        l2: the coefficient c.
        value_weight: multiplies (z - v)^2 (1 in the paper).

    Returns:
        ``(loss, aux)`` with aux: value_loss, policy_loss, l2, entropy of p, value_error |z - v|.
    """
    logp = masked_log_softmax(logits, legal)  # [B, A]
    value_loss = (target_value - value).pow(2).mean()
    policy_loss = -(target_policy * logp).sum(-1).mean()
    reg = l2_penalty(params)
    loss = value_weight * value_loss + policy_loss + l2 * reg
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(-1).mean()
        aux = {"value_loss": value_loss.detach(), "policy_loss": policy_loss.detach(), "l2": reg.detach(),
               "entropy": entropy, "value_error": (target_value - value).abs().mean().detach()}
    return loss, aux
