"""Build a torch optimiser by name; flat parameters and a fused Adam for small on-policy networks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from agents.errors import ConfigError

OPTIMIZERS = ("adam", "rmsprop", "sgd", "nesterov", "adagrad", "adamax", "nadam")


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, eps: float = 1e-8,
                    momentum: float = 0.9) -> torch.optim.Optimizer:
    """One of ``OPTIMIZERS``; ``eps`` goes to the adaptive ones (Adam's 1.5e-4 in Rainbow, RMSprop's 0.01)."""
    ps = list(params)
    if name == "adam":
        return torch.optim.Adam(ps, lr=lr, eps=eps, foreach=True)
    if name == "rmsprop":
        # Nature DQN: centered RMSprop, decay 0.95, momentum 0; torch's alpha is the decay.
        return torch.optim.RMSprop(ps, lr=lr, alpha=0.95, eps=eps, centered=True, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(ps, lr=lr)
    if name == "nesterov":
        return torch.optim.SGD(ps, lr=lr, momentum=momentum, nesterov=True)
    if name == "adagrad":
        return torch.optim.Adagrad(ps, lr=lr, eps=eps)
    if name == "adamax":
        return torch.optim.Adamax(ps, lr=lr, eps=eps)
    if name == "nadam":
        return torch.optim.NAdam(ps, lr=lr, eps=eps)
    raise ConfigError(f"unknown optimizer '{name}'; choose from {', '.join(OPTIMIZERS)}")


class FlatParams:
    """Parameters re-homed as views into one flat buffer, their gradients into another.

    Small networks (CartPole MLPs) spend most of an update in per-tensor overhead: a dozen tensors go
    through the optimiser, gradient clipping and zeroing one by one. With every parameter a view of one
    ``[P]`` buffer (and every ``.grad`` a view of one ``[P]`` gradient buffer that autograd accumulates
    into), those steps are one tensor op each. Build it after the module has moved to its device; the
    module's own ``state_dict``/``load_state_dict`` keep working (they read and copy into the views).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter]) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("no trainable parameters")
        first = self.params[0]
        total = sum(p.numel() for p in self.params)
        self.data = torch.empty(total, dtype=first.dtype, device=first.device)
        self.grad = torch.zeros_like(self.data)
        self._grad_views: list[torch.Tensor] = []
        offset = 0
        with torch.no_grad():
            for p in self.params:
                n = p.numel()
                self.data[offset:offset + n].copy_(p.reshape(-1))
                p.data = self.data[offset:offset + n].view_as(p)
                self._grad_views.append(self.grad[offset:offset + n].view_as(p))
                p.grad = self._grad_views[-1]
                offset += n
        self.param = torch.nn.Parameter(self.data, requires_grad=False)  # what the optimiser steps
        self.param.grad = self.grad

    def zero_grad(self) -> None:
        """Zero the gradient buffer, re-attaching views that other code detached (e.g. a torch optimiser's
        ``zero_grad(set_to_none=True)`` on the same module), so autograd keeps accumulating into the buffer."""
        self.grad.zero_()
        for p, g in zip(self.params, self._grad_views, strict=True):
            if p.grad is not g:
                p.grad = g

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """Scale gradients so their global L2 norm is at most ``max_norm`` (0: no clipping); returns the norm."""
        norm = torch.linalg.vector_norm(self.grad)
        if max_norm > 0:
            self.grad.mul_((max_norm / (norm + 1e-6)).clamp_(max=1.0))
        return norm


class FlatAdam:
    """Adam (Kingma & Ba 2015) on one flat parameter with ``torch._fused_adam_``: one kernel per step.

    Bit-identical to ``torch.optim.Adam`` (no weight decay, no amsgrad); the learning rate is read from
    ``param_groups[0]["lr"]`` at each step, like a torch optimiser, so schedules set it the same way.
    """

    def __init__(self, flat: FlatParams, lr: float, eps: float = 1e-8,
                 betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.flat = flat
        self.param_groups: list[dict[str, float]] = [{"lr": lr}]
        self.eps, self.betas = eps, betas
        self.exp_avg = torch.zeros_like(flat.data)
        self.exp_avg_sq = torch.zeros_like(flat.data)
        self.step_count = torch.zeros((), dtype=torch.float32, device=flat.data.device)

    def step(self) -> None:
        self.step_count.add_(1)
        torch._fused_adam_([self.flat.data], [self.flat.grad], [self.exp_avg], [self.exp_avg_sq], [],
                           [self.step_count], lr=self.param_groups[0]["lr"], beta1=self.betas[0],
                           beta2=self.betas[1], weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)

    def state_dict(self) -> dict[str, Any]:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.step_count,
                "lr": self.param_groups[0]["lr"]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.step_count.copy_(state["step"])
        self.param_groups[0]["lr"] = float(state["lr"])


FlatOptimizer = FlatAdam | torch.optim.Optimizer


def build_flat_optimizer(name: str, flat: FlatParams, lr: float, eps: float = 1e-8) -> FlatOptimizer:
    """``build_optimizer`` over one flat parameter; Adam becomes ``FlatAdam`` (one fused kernel)."""
    if name == "adam":
        return FlatAdam(flat, lr, eps)
    return build_optimizer(name, [flat.param], lr, eps)
