"""GAIL's discriminator: the loss on hand-made logits, reward forms, gradient penalty, shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.gail.discriminator import (
    Discriminator,
    auto_reward_form,
    discriminator_loss,
    gradient_penalty,
    reward_from_logit,
)
from agents.torsos.mlp import MLPTorso


def test_loss_on_hand_made_logits() -> None:
    expert = torch.tensor([2.0, -1.0])  # D = sigmoid(2), sigmoid(-1)
    policy = torch.tensor([0.0, -3.0])  # D = 1/2, sigmoid(-3)
    loss, aux = discriminator_loss(expert, policy)

    def sig(x: float) -> float:
        return 1 / (1 + math.exp(-x))

    expected = (-(math.log(sig(2.0)) + math.log(sig(-1.0))) / 2
                - (math.log(1 - 0.5) + math.log(1 - sig(-3.0))) / 2) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(aux["disc_acc_expert"]) == 0.5 and float(aux["disc_acc_policy"]) == 0.5
    assert float(aux["disc_d_expert"]) == pytest.approx((sig(2.0) + sig(-1.0)) / 2)
    # The entropy bonus lowers the loss by weight * mean Bernoulli entropy.
    bonus, aux2 = discriminator_loss(expert, policy, entropy_weight=0.1)
    assert float(bonus) == pytest.approx(expected - 0.1 * float(aux2["disc_entropy"]), rel=1e-6)
    h = [-(sig(x) * math.log(sig(x)) + (1 - sig(x)) * math.log(1 - sig(x))) for x in (2.0, -1.0, 0.0, -3.0)]
    assert float(aux2["disc_entropy"]) == pytest.approx(sum(h) / 4, rel=1e-5)


def test_reward_forms_are_stable_and_match_their_definitions() -> None:
    logit = torch.tensor([-50.0, -1.0, 0.0, 2.0, 50.0])
    d = torch.sigmoid(logit.double())
    for form, ref in [("-log(1-D)", -torch.log1p(-d[:4])), ("log D", torch.log(d[1:])),
                      ("log D - log(1-D)", (torch.log(d) - torch.log1p(-d))[1:4])]:
        r = reward_from_logit(logit, form)  # type: ignore[arg-type]
        assert torch.isfinite(r).all()
        got = r[:4] if form == "-log(1-D)" else (r[1:] if form == "log D" else r[1:4])
        assert torch.allclose(got.double(), ref, atol=1e-5), form
    assert (reward_from_logit(logit, "-log(1-D)") > 0).all() and (reward_from_logit(logit, "log D") < 0).all()


@pytest.mark.parametrize("ends,form", [
    ("TTTT", "log D - log(1-D)"),  # every expert episode reaches its goal (MountainCar): the logit
    ("tttt", "-log(1-D)"),    # every one survives to the time limit (CartPole, Pendulum): a bonus per step
    ("TTtt", "-log(1-D)"),    # a tie keeps the bonus (Ho & Ermon's form)
    ("TTTt", "log D - log(1-D)"),
])
def test_auto_reward_form_follows_how_expert_episodes_end(ends: str, form: str) -> None:
    # Four 3-step episodes; each ends terminated (T) or truncated (t), no flag before the last step.
    terminated = np.zeros(12, bool)
    truncated = np.zeros(12, bool)
    for k, end in enumerate(ends):
        (terminated if end == "T" else truncated)[3 * k + 2] = True
    chosen, why = auto_reward_form(terminated, truncated)
    assert chosen == form and why == f"{ends.count('T')} of 4 expert episodes end by termination"


@pytest.mark.parametrize("num_actions,action_dim", [(2, 0), (0, 3)])
def test_discriminator_shapes_gradients_and_penalty(num_actions: int, action_dim: int) -> None:
    torch.manual_seed(0)
    disc = Discriminator(MLPTorso((4,), (16,)), num_actions, action_dim, (8,), spectral_norm=True)
    obs = torch.randn(5, 4)
    act = torch.randint(0, 2, (5,)) if num_actions else torch.randn(5, action_dim)
    logit = disc(obs, act)
    assert logit.shape == (5,)
    gp = gradient_penalty(disc, obs, act, torch.randn(5, 4), act.flip(0), torch.Generator().manual_seed(0))
    assert gp.dim() == 0 and float(gp.detach()) >= 0
    (logit.mean() + gp).backward()
    assert all(p.grad is not None for p in disc.torso.parameters())


def test_discriminator_learns_to_separate() -> None:
    torch.manual_seed(0)
    disc = Discriminator(MLPTorso((2,), (16,)), 2, 0, (16,))
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    for _ in range(200):  # expert: action 1 when x > 0; policy: the opposite
        x = torch.randn(64, 2)
        good = (x[:, 0] > 0).long()
        loss, aux = discriminator_loss(disc(x, good), disc(x, 1 - good))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(aux["disc_acc_expert"]) > 0.9 and float(aux["disc_acc_policy"]) > 0.9
