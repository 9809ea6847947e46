"""Policy-gradient losses and distributions on hand-made batches: PPO's ratio and clipping (which samples
get no gradient), value clipping, the REINFORCE gradient, Gaussian log-probability against the closed form,
categorical entropy and sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.distributions import Categorical, CategoricalHead, DiagGaussian, DiagGaussianHead
from agents.ppo.loss import clipped_surrogate, ppo_loss, value_loss
from agents.reinforce.loss import reinforce_loss, value_regression_loss

# ratio, advantage -> which branch of min(rho A, clip(rho) A) wins (eps = 0.2):
#   1.5, +1: clipped (1.2 < 1.5), no gradient    1.5, -1: unclipped (-1.5 < -1.2), gradient
#   0.5, -1: clipped (-0.8 < -0.5), no gradient  0.5, +1: unclipped (0.5 < 0.8), gradient
#   1.0, +2: inside the range, gradient
RATIO = [1.5, 1.5, 0.5, 0.5, 1.0]
ADV = [1.0, -1.0, -1.0, 1.0, 2.0]


def _surrogate() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    old = torch.tensor([-1.0, -0.5, -2.0, -0.3, -1.2])
    log_prob = (old + torch.log(torch.tensor(RATIO))).requires_grad_(True)
    loss, aux = clipped_surrogate(log_prob, old, torch.tensor(ADV), clip=0.2)
    loss.backward()
    assert log_prob.grad is not None
    return loss, log_prob.grad, aux


def test_ppo_clipped_samples_get_zero_gradient() -> None:
    loss, grad, aux = _surrogate()
    assert float(loss.detach()) == pytest.approx(-(1.2 - 1.5 - 0.8 + 0.5 + 2.0) / 5)
    # d(-rho A / B) / d log pi = -rho A / B where unclipped, 0 where the clipped branch is the minimum.
    np.testing.assert_allclose(grad.numpy(), [0.0, 0.3, 0.0, -0.1, -0.4], atol=1e-6)
    np.testing.assert_allclose(aux["ratio"].numpy(), RATIO, rtol=1e-6)
    assert float(aux["clip_frac"]) == pytest.approx(0.8)
    kl = np.mean([(r - 1) - math.log(r) for r in RATIO])
    assert float(aux["approx_kl"]) == pytest.approx(kl, rel=1e-5)


def test_ppo_ratio_one_is_the_policy_gradient() -> None:
    lp = torch.tensor([-0.7, -1.1, -0.2], requires_grad=True)
    adv = torch.tensor([1.0, -2.0, 0.5])
    loss, aux = clipped_surrogate(lp, lp.detach().clone(), adv, clip=0.2)
    loss.backward()
    assert lp.grad is not None
    np.testing.assert_allclose(lp.grad.numpy(), (-adv / 3).numpy(), rtol=1e-6)
    assert float(aux["clip_frac"]) == 0.0 and float(aux["approx_kl"]) == pytest.approx(0.0, abs=1e-7)


def test_value_clipping() -> None:
    # V moved from 0 to 1.9 towards R = 2; clipped to 0 + 0.5 the error is 1.5^2, the larger: no gradient.
    v = torch.tensor([1.9], requires_grad=True)
    loss, aux = value_loss(v, torch.tensor([0.0]), torch.tensor([2.0]), clip=0.5)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.5 * 2.25)
    assert v.grad is not None and float(v.grad) == 0.0
    assert float(aux["value_clip_frac"]) == 1.0
    # Unclipped: 0.5 (V - R)^2, gradient V - R.
    v2 = torch.tensor([1.9], requires_grad=True)
    loss2, _ = value_loss(v2, torch.tensor([0.0]), torch.tensor([2.0]), clip=0.0)
    loss2.backward()
    assert float(loss2.detach()) == pytest.approx(0.005) and v2.grad is not None
    assert float(v2.grad) == pytest.approx(-0.1)
    # Within the clip range both terms agree.
    v3 = torch.tensor([0.3])
    assert float(value_loss(v3, torch.tensor([0.0]), torch.tensor([2.0]), clip=0.5)[0]) == pytest.approx(0.5 * 1.7**2)


def test_ppo_loss_combines_terms() -> None:
    lp = torch.tensor([-0.5, -1.0])
    ent = torch.tensor([0.6, 0.8])
    v, r = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0])
    loss, aux = ppo_loss(lp, ent, v, lp, v, torch.tensor([1.0, -1.0]), r, 0.2, 0.0, 0.5, 0.01)
    assert float(loss) == pytest.approx(0.0 + 0.5 * 0.25 - 0.01 * 0.7)
    assert float(aux["entropy"]) == pytest.approx(0.7)


def test_reinforce_gradient_and_value_loss() -> None:
    lp = torch.tensor([-0.5, -1.5, -0.1], requires_grad=True)
    adv = torch.tensor([2.0, -1.0, 0.0])
    loss, aux = reinforce_loss(lp, adv, torch.ones(3), ent_coef=0.1)
    loss.backward()
    assert lp.grad is not None
    np.testing.assert_allclose(lp.grad.numpy(), (-adv / 3).numpy())  # delta w = alpha (r - b) e
    assert float(loss.detach()) == pytest.approx(-(-1.0 + 1.5 + 0.0) / 3 - 0.1)
    assert float(aux["entropy"]) == pytest.approx(1.0)
    assert float(value_regression_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0]))) == pytest.approx(0.5)


def test_gaussian_log_prob_and_entropy_closed_form() -> None:
    mean = torch.tensor([[0.5, -1.0], [0.0, 2.0]])
    log_std = torch.tensor([0.3, -0.7])
    a = torch.tensor([[1.0, -1.5], [0.2, 2.0]])
    d = DiagGaussian(mean, log_std)
    std = log_std.exp()
    closed = (-0.5 * ((a - mean) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
    np.testing.assert_allclose(d.log_prob(a).numpy(), closed.numpy(), rtol=1e-6)
    ref = torch.distributions.Normal(mean, std.expand_as(mean))
    np.testing.assert_allclose(d.log_prob(a).numpy(), ref.log_prob(a).sum(-1).numpy(), rtol=1e-6)
    h = float(sum(0.5 * math.log(2 * math.pi * math.e) + s for s in log_std.tolist()))
    np.testing.assert_allclose(d.entropy().numpy(), [h, h], rtol=1e-6)
    assert torch.equal(d.mode(), mean)
    g = torch.Generator().manual_seed(0)
    samples = DiagGaussian(mean[:1].expand(20_000, 2), log_std).sample(g)
    np.testing.assert_allclose(samples.mean(0).numpy(), mean[0].numpy(), atol=0.03)
    np.testing.assert_allclose(samples.std(0).numpy(), std.numpy(), rtol=0.03)


def test_categorical_entropy_log_prob_and_sampling() -> None:
    assert float(Categorical(torch.zeros(1, 4)).entropy()) == pytest.approx(math.log(4))
    p = torch.tensor([[0.5, 0.25, 0.25]])
    d = Categorical(p.log() + 3.0)  # logits need not be normalised
    assert float(d.entropy()) == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    np.testing.assert_allclose(d.log_prob(torch.tensor([1])).numpy(), [math.log(0.25)], rtol=1e-6)
    assert int(d.mode()) == 0
    g = torch.Generator().manual_seed(0)
    draws = Categorical((p.log()).expand(30_000, 3)).sample(g)
    freq = torch.bincount(draws, minlength=3).float() / 30_000
    np.testing.assert_allclose(freq.numpy(), p[0].numpy(), atol=0.01)
    again = Categorical((p.log()).expand(30_000, 3)).sample(torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)  # the generator alone decides the samples


def test_heads_shapes() -> None:
    f = torch.randn(5, 7)
    cat = CategoricalHead(7, 3)(f)
    assert cat.sample().shape == (5,) and cat.log_prob(cat.sample()).shape == (5,)
    gauss = DiagGaussianHead(7, 2, log_std_init=-0.5)(f)
    a = gauss.sample()
    assert a.shape == (5, 2) and gauss.log_prob(a).shape == (5,) and gauss.entropy().shape == (5,)
