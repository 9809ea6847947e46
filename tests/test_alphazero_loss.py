"""The AlphaZero loss on a hand-made batch, the policy-value network and the position window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.alphazero.loss import alphazero_loss, masked_log_softmax
from replay.positions import PositionBuffer
from replay.types import GameRecord


def test_loss_matches_hand_computation() -> None:
    # Two positions, three actions; action 2 is illegal in the first position.
    logits = torch.tensor([[0.0, math.log(3.0), 5.0], [0.0, 0.0, 0.0]])
    legal = torch.tensor([[True, True, False], [True, True, True]])
    value = torch.tensor([0.5, -0.2])
    pi = torch.tensor([[0.25, 0.75, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    z = torch.tensor([1.0, 0.0])
    w = torch.nn.Parameter(torch.tensor([[1.0, 2.0]]))  # ||w||^2 = 5
    b = torch.nn.Parameter(torch.tensor([10.0]))  # a bias: not in the L2 term
    loss, aux = alphazero_loss(logits, value, pi, z, legal, [w, b], l2=0.1)
    # p over legal actions of position 1 = (1/4, 3/4): the 5.0 logit of the illegal action is ignored.
    ce1 = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    ce2 = math.log(3.0)
    value_loss = ((1.0 - 0.5) ** 2 + (0.0 + 0.2) ** 2) / 2
    expected = value_loss + (ce1 + ce2) / 2 + 0.1 * 5.0
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-6)
    assert float(aux["value_loss"]) == pytest.approx(value_loss)
    assert float(aux["policy_loss"]) == pytest.approx((ce1 + ce2) / 2, rel=1e-6)
    assert float(aux["l2"]) == pytest.approx(5.0)
    assert float(aux["entropy"]) == pytest.approx((ce1 + ce2) / 2, rel=1e-6)  # pi == p here
    loss.backward()
    assert w.grad is not None and torch.allclose(w.grad, 0.1 * 2 * w.detach())


def test_masked_log_softmax_is_finite_and_zero_on_illegal() -> None:
    logits = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    legal = torch.tensor([[False, True, True]])
    logp = masked_log_softmax(logits, legal)
    assert torch.isfinite(logp).all() and float(logp.detach()[0, 0]) == 0.0
    assert float(logp.detach()[0, 1:].exp().sum()) == pytest.approx(1.0)
    (-(torch.tensor([[0.0, 0.5, 0.5]]) * logp).sum()).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and float(logits.grad[0, 0]) == 0.0


def _record(n: int, start: int) -> GameRecord:
    obs = np.full((n, 2, 3, 3), 0, np.float32) + np.arange(start, start + n, dtype=np.float32)[:, None, None, None]
    legal = np.ones((n, 9), bool)
    pi = np.full((n, 9), 1 / 9, np.float32)
    return GameRecord(obs, legal, pi, np.arange(start, start + n, dtype=np.float32), np.zeros(n, np.int8))


def test_position_window_keeps_the_newest_and_round_trips() -> None:
    buf = PositionBuffer(10, (2, 3, 3), 9)
    buf.add(_record(6, 0))
    buf.add(_record(7, 6))  # 13 positions into a window of 10: 0, 1, 2 fall out
    assert len(buf) == 10 and buf.added == 13
    assert sorted(buf.value.tolist()) == list(range(3, 13))
    sample = buf.sample(64, np.random.default_rng(0))
    assert set(sample.value.tolist()) <= set(range(3, 13))
    assert np.all(sample.obs[:, 0, 0, 0] == sample.value)  # rows stay aligned
    other = PositionBuffer(10, (2, 3, 3), 9)
    other.load_state_dict(buf.state_dict())
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert np.array_equal(buf.sample(32, rng_a).value, other.sample(32, rng_b).value)
    buf.add(_record(25, 100))  # larger than the window: only the newest 10 stay
    assert sorted(buf.value.tolist()) == list(range(115, 125))
