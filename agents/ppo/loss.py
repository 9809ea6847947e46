"""PPO's losses as pure functions of network outputs and rollout tensors (Schulman et al. 2017, eqs. 7 and 9).

- Clipped surrogate: ``L = -E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)]``, ``rho = pi(a|s) / pi_old(a|s)``.
  A sample whose ratio has left the clip range in the direction its advantage pushes contributes no
  gradient (``rho > 1 + eps`` with ``A > 0``, ``rho < 1 - eps`` with ``A < 0``).
- Value loss: ``0.5 (V - R)^2``, or, clipped as in OpenAI Baselines' PPO2 (not in the paper),
  ``0.5 max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)``.
- ``approx_kl`` is Schulman's low-variance estimator ``E[(rho - 1) - log rho]`` of KL(pi_old || pi).
"""

from __future__ import annotations

import torch


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantage: torch.Tensor,
                      clip: float, diagnostics: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """PPO-clip policy loss.

    Args:
        log_prob: ``[B]`` log pi(a|s) under the current parameters (differentiable).
        old_log_prob: ``[B]`` log pi_old(a|s) recorded when acting.
        advantage: ``[B]`` advantage estimates (already normalised if wanted).
        clip: epsilon.
        diagnostics: also compute ``clip_frac`` and ``approx_kl`` (a few ops; learners skip them on most
            minibatches).

    Returns:
        ``(loss, aux)``; aux holds ``ratio [B]`` and, with ``diagnostics``, ``clip_frac`` and ``approx_kl``
        (all detached).
    """
    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()  # [B]
    unclipped = ratio * advantage
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantage
    loss = -torch.min(unclipped, clipped).mean()
    aux = {"ratio": ratio.detach()}
    if diagnostics:
        with torch.no_grad():
            aux.update(clip_frac=((ratio - 1.0).abs() > clip).float().mean(),
                       approx_kl=((ratio - 1.0) - log_ratio).mean())
    return loss, aux


def value_loss(value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor,
               clip: float = 0.0, diagnostics: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``0.5 (V - R)^2`` averaged, pessimistically clipped around ``old_value`` when ``clip > 0``.

    Args:
        value: ``[B]`` current V(s) (differentiable).
        old_value: ``[B]`` V(s) recorded when acting.
        returns: ``[B]`` value targets (GAE returns).
        clip: clip range of ``V - V_old`` (0: unclipped).
        diagnostics: also report ``value_clip_frac`` (when clipping).

    Returns:
        ``(loss, aux)``, aux with ``value_clip_frac`` when clipping with diagnostics.
    """
    err = (value - returns).pow(2)
    aux: dict[str, torch.Tensor] = {}
    if clip > 0:
        v_clipped = old_value + (value - old_value).clamp(-clip, clip)
        err = torch.max(err, (v_clipped - returns).pow(2))
        if diagnostics:
            aux["value_clip_frac"] = ((value - old_value).abs() > clip).float().mean().detach()
    return 0.5 * err.mean(), aux


def ppo_loss(log_prob: torch.Tensor, entropy: torch.Tensor, value: torch.Tensor, old_log_prob: torch.Tensor,
             old_value: torch.Tensor, advantage: torch.Tensor, returns: torch.Tensor, clip: float, value_clip: float,
             value_coef: float, ent_coef: float, diagnostics: bool = True,
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``L_clip + value_coef * L_V - ent_coef * H``, all ``[B]`` tensors; returns ``(loss, aux)``."""
    pg, aux = clipped_surrogate(log_prob, old_log_prob, advantage, clip, diagnostics)
    vl, vaux = value_loss(value, old_value, returns, value_clip, diagnostics)
    ent = entropy.mean()
    loss = pg + value_coef * vl - ent_coef * ent
    return loss, {**aux, **vaux, "policy_loss": pg.detach(), "value_loss": vl.detach(), "entropy": ent.detach()}
