"""REINFORCE's losses as pure functions (Williams 1992, "Simple statistical gradient-following algorithms").

The update ``delta w = alpha (r - b) e``, ``e = d log pi(a|s) / d w``, is gradient descent on
``-mean((G_t - b_t) log pi(a_t|s_t))`` with ``G_t`` the reward-to-go (the return from step t, which drops
the rewards before t: they do not depend on a_t and only add variance). A baseline that does not depend
on the action leaves the gradient unbiased and can cut its variance.
"""

from __future__ import annotations

import torch


def reinforce_loss(log_prob: torch.Tensor, advantage: torch.Tensor, entropy: torch.Tensor,
                   ent_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Policy-gradient loss with an entropy bonus.

    Args:
        log_prob: ``[B]`` log pi(a|s) (differentiable).
        advantage: ``[B]`` ``G - b`` (no gradient flows into it).
        entropy: ``[B]`` policy entropy at each state.
        ent_coef: entropy bonus weight.

    Returns:
        ``(loss, aux)`` with the policy loss and mean entropy.
    """
    pg = -(log_prob * advantage.detach()).mean()
    ent = entropy.mean()
    return pg - ent_coef * ent, {"policy_loss": pg.detach(), "entropy": ent.detach()}


def value_regression_loss(value: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """``0.5 mean((V - G)^2)``: the learned baseline's own loss."""
    return 0.5 * (value - returns).pow(2).mean()
