"""GAIL's discriminator (Ho & Ermon 2016, "Generative Adversarial Imitation Learning").

D(s, a) = sigmoid(f(s, a)) is the probability that (s, a) came from the expert; f is any torso over the
observation followed by an MLP over [features, action] (a one-hot for discrete actions). It is trained
by logistic regression, expert = 1 and policy = 0 (the paper labels the other way round and uses
log D as a cost; the two are the same game). Rewards for the generator, computed from the logit f
without overflow:

* ``-log(1-D) = softplus(f)``: positive, a bonus for every step (Ho & Ermon's form, as most implementations use);
* ``log D = -softplus(-f)``: negative, a cost for every step;
* ``log D - log(1-D) = f``: the logit (AIRL's form, Fu et al. 2018).

A reward of constant sign biases episode length (Kostrikov et al. 2019, "Discriminator-Actor-Critic"): the
first makes the generator prolong episodes, the second end them. ``auto_reward_form`` keeps the bonus when the
expert's episodes run to the time limit (prolonging is what the expert does) and takes the logit, whose sign
follows D, when the expert ends them (reaching a goal must not cost the bonus, and ending by failing must not
pay as log D's cost would); benchmarks/results/gail_reward_forms.md has the measurements.

Options: spectral normalisation of every linear layer, a gradient penalty on inputs interpolated between
expert and policy samples, and an entropy bonus on D's output.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.gail.config import RewardForm
from agents.torsos import Torso


class Discriminator(nn.Module):
    """``(obs [B, *obs_shape], action) -> logit [B]``; ``action`` is ``[B]`` int64 or ``[B, d]`` float."""

    def __init__(self, torso: Torso, num_actions: int, action_dim: int, hidden: tuple[int, ...],
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.torso = torso
        self.num_actions = num_actions  # > 0: discrete actions, encoded one-hot
        width = torso.output_dim + (num_actions if num_actions > 0 else action_dim)
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)
        if spectral_norm:
            for m in list(self.modules()):
                if isinstance(m, nn.Linear):
                    nn.utils.parametrizations.spectral_norm(m)

    def encode_action(self, action: torch.Tensor) -> torch.Tensor:
        """``[B, A]`` one-hot (discrete) or ``[B, d]`` float (continuous)."""
        if self.num_actions > 0:
            return F.one_hot(action.long(), self.num_actions).float()
        return action.float().reshape(action.shape[0], -1)

    def logit_from(self, obs: torch.Tensor, action_enc: torch.Tensor) -> torch.Tensor:
        features, _ = self.torso(obs)  # [B, F]
        return self.head(torch.cat([features, action_enc], dim=-1)).squeeze(-1)  # [B]

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.logit_from(obs, self.encode_action(action))


def auto_reward_form(terminated: np.ndarray, truncated: np.ndarray) -> tuple[RewardForm, str]:
    """The reward form whose length bias agrees with the expert's episodes, and why.

    Args:
        terminated, truncated: ``[T]`` bool flags of the demonstrations' transitions.
    """
    ends, terminal = int(terminated.sum() + truncated.sum()), int(terminated.sum())
    form: RewardForm = "log D - log(1-D)" if 2 * terminal > ends else "-log(1-D)"
    return form, f"{terminal} of {ends} expert episodes end by termination"


def reward_from_logit(logit: torch.Tensor, form: RewardForm) -> torch.Tensor:
    """The generator's reward for each sample, from D's logit ``[B]`` (see the module docstring)."""
    if form == "-log(1-D)":
        return F.softplus(logit)
    if form == "log D":
        return -F.softplus(-logit)
    if form == "log D - log(1-D)":
        return logit
    raise ValueError(f"unknown reward form {form!r}")


def discriminator_loss(expert_logit: torch.Tensor, policy_logit: torch.Tensor,
                       entropy_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logistic loss, expert = 1 and policy = 0, minus an optional entropy bonus on D's outputs.

    Returns ``(loss, aux)`` with the accuracy on expert and on policy samples and the mean D of each.
    """
    bce = (F.binary_cross_entropy_with_logits(expert_logit, torch.ones_like(expert_logit))
           + F.binary_cross_entropy_with_logits(policy_logit, torch.zeros_like(policy_logit))) / 2
    logits = torch.cat([expert_logit, policy_logit])
    p = torch.sigmoid(logits)
    # Bernoulli entropy from logits: H = softplus(l) - l * sigmoid(l), finite for any l.
    entropy = (F.softplus(logits) - logits * p).mean()
    loss = bce - entropy_weight * entropy
    with torch.no_grad():
        aux = {"disc_loss": bce.detach(), "disc_entropy": entropy.detach(),
               "disc_acc_expert": (expert_logit > 0).float().mean(),
               "disc_acc_policy": (policy_logit < 0).float().mean(),
               "disc_d_expert": torch.sigmoid(expert_logit).mean(), "disc_d_policy": torch.sigmoid(policy_logit).mean()}
    return loss, aux


def gradient_penalty(disc: Discriminator, expert_obs: torch.Tensor, expert_act: torch.Tensor,
                     policy_obs: torch.Tensor, policy_act: torch.Tensor, generator: torch.Generator | None = None,
                     ) -> torch.Tensor:
    """E[(||grad f(x_hat)|| - 1)^2] at x_hat = u * expert + (1 - u) * policy (observations and action encodings).

    Observations are interpolated as floats after the torso's own scaling step is skipped, so this suits vector
    observations; image observations are interpolated in their raw scale.
    """
    b = min(expert_obs.shape[0], policy_obs.shape[0])
    u = torch.rand(b, generator=generator)
    u_obs = u.view(b, *([1] * (expert_obs.dim() - 1)))
    obs = (u_obs * expert_obs[:b].float() + (1 - u_obs) * policy_obs[:b].float()).requires_grad_(True)
    ea, pa = disc.encode_action(expert_act[:b]), disc.encode_action(policy_act[:b])
    act = (u[:, None] * ea + (1 - u[:, None]) * pa).requires_grad_(True)
    logit = disc.logit_from(obs, act)
    grads = torch.autograd.grad(logit.sum(), [obs, act], create_graph=True)
    sq = torch.stack([g.reshape(b, -1).pow(2).sum(-1) for g in grads]).sum(0)  # [b]
    norm = torch.sqrt(sq + 1e-12)
    return (norm - 1).pow(2).mean()
