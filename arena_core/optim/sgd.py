"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

Day 15. With gradient g_t of parameter θ at step t (L2 weight decay λ folded into the gradient):

    g_t ← g_t + λ θ_{t-1}
    b_t = μ b_{t-1} + (1 − τ) g_t          (b_1 = g_1; μ momentum, τ dampening)
    d_t = g_t + μ b_t  (Nesterov)   or   d_t = b_t
    θ_t = θ_{t-1} − η d_t

This is the form `torch.optim.SGD` uses (the learning rate multiplies the buffer, not the other
way round as in Sutskever et al. 2013), so a change of learning rate mid-run takes effect at once.
"""

from collections.abc import Iterable

import torch
from torch import Tensor

from arena_core.optim.optimizer import Optimizer


class SGD(Optimizer):
    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        foreach: bool = False,
    ):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("lr, momentum and weight_decay must be non-negative")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            grad = grad + wd * p
        if mu != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.detach().clone()
            else:
                state["momentum_buffer"].mul_(mu).add_(grad, alpha=1 - group["dampening"])
            buf = state["momentum_buffer"]
            grad = grad + mu * buf if group["nesterov"] else buf
        p.add_(grad, alpha=-lr)

    def _update_foreach(
        self, group: dict, params: list[Tensor], grads: list[Tensor], states: list[dict]
    ) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            grads = torch._foreach_add(grads, params, alpha=wd)
        if mu != 0:
            old = [i for i, s in enumerate(states) if "momentum_buffer" in s]
            for i, s in enumerate(states):
                if "momentum_buffer" not in s:
                    s["momentum_buffer"] = grads[i].detach().clone()
            if old:
                bufs = [states[i]["momentum_buffer"] for i in old]
                torch._foreach_mul_(bufs, mu)
                torch._foreach_add_(bufs, [grads[i] for i in old], alpha=1 - group["dampening"])
            bufs = [s["momentum_buffer"] for s in states]
            if group["nesterov"]:
                grads = torch._foreach_add(grads, bufs, alpha=mu)
            else:
                grads = bufs
        torch._foreach_add_(params, grads, alpha=-lr)
