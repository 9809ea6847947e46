"""Pure DQN-family losses on hand-made batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.dqn.loss import c51_loss, categorical_projection, greedy_next_actions, q_learning_loss
from agents.heads import QHead


def brute_force_projection(probs: np.ndarray, reward: float, discount: float, support: np.ndarray) -> np.ndarray:
    """Each atom's mass split between the two nearest support points, one atom at a time."""
    out = np.zeros_like(support)
    dz = support[1] - support[0]
    for p, z in zip(probs, support, strict=True):
        tz = min(max(reward + discount * z, support[0]), support[-1])
        pos = (tz - support[0]) / dz
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(support) - 1)
        frac = pos - lo
        out[lo] += p * (1 - frac)
        if frac > 0:
            out[hi] += p * frac
    return out


@pytest.mark.parametrize("reward,discount", [(0.0, 0.99), (1.3, 0.9), (-7.0, 0.5), (25.0, 0.99), (0.5, 0.0),
                                             (-0.25, 1.0)])
def test_c51_projection_matches_brute_force_and_conserves_mass(reward: float, discount: float) -> None:
    rng = np.random.default_rng(0)
    support = np.linspace(-10, 10, 51)
    probs = rng.dirichlet(np.ones(51))
    got = categorical_projection(torch.tensor(probs[None]), torch.tensor([reward], dtype=torch.float64),
                                 torch.tensor([discount], dtype=torch.float64), torch.tensor(support))[0].numpy()
    np.testing.assert_allclose(got, brute_force_projection(probs, reward, discount, support), atol=1e-12)
    assert got.sum() == pytest.approx(1.0, abs=1e-12)
    assert (got >= 0).all()


def test_c51_projection_terminal_puts_all_mass_on_reward() -> None:
    support = torch.linspace(-10, 10, 21)  # atoms 1 apart
    probs = torch.softmax(torch.randn(2, 21), -1)
    out = categorical_projection(probs, torch.tensor([3.0, 3.5]), torch.zeros(2), support)
    assert out[0, 13] == pytest.approx(1.0)  # atom +3
    assert out[1, 13] == pytest.approx(0.5) and out[1, 14] == pytest.approx(0.5)


def test_q_learning_target_by_hand() -> None:
    q = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    q_next_target = torch.tensor([[3.0, 10.0], [4.0, 0.0]])
    action = torch.tensor([1, 0])
    reward = torch.tensor([1.0, 2.0])
    discount = torch.tensor([0.5, 0.0])  # second item terminal
    loss, td = q_learning_loss(q, q_next_target, None, action, reward, discount, torch.ones(2), "mse")
    # targets: 1 + 0.5 * 10 = 6 ; 2 + 0 = 2.  TD: 6 - 2 = 4 ; 2 - 0.5 = 1.5
    np.testing.assert_allclose(td.numpy(), [4.0, 1.5])
    assert loss.item() == pytest.approx(0.5 * (16 + 2.25) / 2)
    loss.backward()
    assert q.grad is not None and q.grad[0, 0] == 0 and q.grad[0, 1] != 0


def test_double_q_uses_online_argmax() -> None:
    q_next_target = torch.tensor([[3.0, 10.0]])
    q_next_online = torch.tensor([[5.0, 1.0]])  # online prefers action 0
    assert greedy_next_actions(q_next_target, q_next_online).tolist() == [0]
    assert greedy_next_actions(q_next_target, None).tolist() == [1]
    q = torch.tensor([[0.0, 0.0]])
    _, td = q_learning_loss(q, q_next_target, q_next_online, torch.tensor([0]), torch.tensor([0.0]),
                            torch.tensor([1.0]), torch.ones(1), "huber")
    assert td.item() == pytest.approx(3.0)  # target-net value of the online argmax


def test_importance_weights_scale_the_loss() -> None:
    q = torch.tensor([[1.0], [1.0]])
    args = (torch.zeros(2, 1), None, torch.tensor([0, 0]), torch.tensor([2.0, 2.0]), torch.zeros(2))
    full, _ = q_learning_loss(q, *args, weight=torch.ones(2), kind="mse")
    half, _ = q_learning_loss(q, *args, weight=torch.full((2,), 0.5), kind="mse")
    assert half.item() == pytest.approx(full.item() / 2)


def test_c51_loss_is_cross_entropy_and_double_selects_online() -> None:
    support = torch.linspace(0, 2, 3)
    logits = torch.zeros(1, 2, 3, requires_grad=True)
    next_logits = torch.full((1, 2, 3), -1e9)
    next_logits[0, 0, 0] = 0.0  # action 0: all mass at 0
    next_logits[0, 1, 2] = 0.0  # action 1: all mass at 2 (the target net's greedy choice)
    online_prefers_0 = torch.tensor([[1.0, 0.0]])
    loss, ce = c51_loss(logits, next_logits, online_prefers_0, torch.tensor([0]), torch.tensor([1.0]),
                        torch.tensor([1.0]), torch.ones(1), support)
    # target distribution: r + z with z = 0 -> all mass on atom 1; CE with uniform = log 3
    assert ce.item() == pytest.approx(np.log(3.0), rel=1e-6)
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0, 0].abs().sum() > 0 and logits.grad[0, 1].abs().sum() == 0


@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_dueling_aggregation(aggregation: str) -> None:
    head = QHead(4, 3, dueling=True, aggregation=aggregation)
    x = torch.randn(5, 4)
    adv = head.advantage(x).view(5, 3, 1)
    value = head.value(x).view(5, 1, 1)  # type: ignore[misc]
    q = head(x)
    centre = adv.mean(1, keepdim=True) if aggregation == "mean" else adv.max(1, keepdim=True).values
    torch.testing.assert_close(q, value + adv - centre)
    if aggregation == "max":
        torch.testing.assert_close(q.max(1).values, value.squeeze(1))  # greedy action's Q equals V
    else:
        torch.testing.assert_close(q.mean(1), value.squeeze(1))
