"""Flat parameter buffers and the fused flat Adam: same results as per-tensor torch.optim.Adam."""

from __future__ import annotations

import torch
from torch import nn

from agents.optim import FlatAdam, FlatParams, build_flat_optimizer


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def test_flat_adam_matches_torch_adam_and_grads_land_in_the_buffer() -> None:
    ref, net = _net(0), _net(0)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, eps=1e-5)
    flat = FlatParams(net.parameters())
    opt = FlatAdam(flat, lr=1e-2, eps=1e-5)
    x = torch.randn(16, 4)
    for _ in range(5):
        ref_opt.zero_grad()
        ref(x).pow(2).mean().backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.1)
        ref_opt.step()
        flat.zero_grad()
        net(x).pow(2).mean().backward()
        flat.clip_grad_norm(0.1)
        opt.step()
        # Autograd accumulated into the views of the flat gradient buffer, not into new tensors.
        assert all(p.grad is not None and p.grad.data_ptr() >= flat.grad.data_ptr() for p in net.parameters())
    for a, b in zip(ref.parameters(), net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # The module's own state_dict reads the flat buffer; loading copies into it.
    state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(_net(1).state_dict())
    net.load_state_dict(state)
    assert torch.equal(flat.data[: 32], net[0].weight.reshape(-1))


def test_flat_optimizer_state_round_trip_and_other_optimizers() -> None:
    net = _net(0)
    flat = FlatParams(net.parameters())
    opt = build_flat_optimizer("adam", flat, 1e-3)
    flat.grad.fill_(1.0)
    opt.step()
    state = opt.state_dict()
    other = FlatAdam(FlatParams(_net(0).parameters()), 1e-3)
    other.load_state_dict(state)
    assert torch.equal(other.exp_avg, opt.exp_avg) and float(other.step_count) == 1.0  # type: ignore[union-attr]
    sgd = build_flat_optimizer("sgd", FlatParams(_net(0).parameters()), 0.1)
    assert isinstance(sgd, torch.optim.SGD)


def test_zero_grad_reattaches_detached_gradient_views() -> None:
    net = _net(0)
    flat = FlatParams(net.parameters())
    torch.optim.SGD(net.parameters(), lr=0.1).zero_grad(set_to_none=True)  # e.g. a BC optimiser on the module
    assert all(p.grad is None for p in net.parameters())
    flat.zero_grad()
    net(torch.randn(4, 4)).sum().backward()
    assert float(flat.grad.abs().sum()) > 0
