"""RMSprop: divide each coordinate's step by a running root-mean-square of its gradients.

Day 16 (Hinton's 2012 lecture 6e). With decay α and gradient g_t (plus L2 weight decay λ θ):

    v_t = α v_{t-1} + (1 − α) g_t²                      (v_0 = 0)
    centered:  m_t = α m_{t-1} + (1 − α) g_t,   s_t = sqrt(v_t − m_t²) + ε
    otherwise: s_t = sqrt(v_t) + ε
    momentum μ > 0:  b_t = μ b_{t-1} + g_t / s_t,   θ_t = θ_{t-1} − η b_t
    else:            θ_t = θ_{t-1} − η g_t / s_t

The "centered" variant divides by an estimate of the gradient's standard deviation instead of its
root mean square (Graves 2013). Same conventions as `torch.optim.RMSprop` (ε outside the root).
"""

from collections.abc import Iterable

import torch
from torch import Tensor

from arena_core.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        foreach: bool = False,
    ):
        if lr < 0 or eps < 0 or momentum < 0 or weight_decay < 0 or not 0 <= alpha <= 1:
            raise ValueError("invalid RMSprop hyperparameter")
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(group: dict, p: Tensor, state: dict) -> None:
        if "step" in state:
            return
        state["step"] = 0
        state["square_avg"] = torch.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p)

    def _update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        self._init_state(group, p, state)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        v = state["square_avg"]
        v.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            m = state["grad_avg"]
            m.mul_(alpha).add_(grad, alpha=1 - alpha)
            scale = (v - m * m).sqrt_().add_(group["eps"])
        else:
            scale = v.sqrt().add_(group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(grad, scale)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(grad, scale, value=-group["lr"])

    def _update_foreach(
        self, group: dict, params: list[Tensor], grads: list[Tensor], states: list[dict]
    ) -> None:
        for p, s in zip(params, states, strict=True):
            self._init_state(group, p, s)
            s["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        v = [s["square_avg"] for s in states]
        torch._foreach_mul_(v, alpha)
        torch._foreach_addcmul_(v, grads, grads, value=1 - alpha)
        if group["centered"]:
            m = [s["grad_avg"] for s in states]
            torch._foreach_mul_(m, alpha)
            torch._foreach_add_(m, grads, alpha=1 - alpha)
            scale = torch._foreach_addcmul(v, m, m, value=-1)
            torch._foreach_sqrt_(scale)
        else:
            scale = torch._foreach_sqrt(v)
        torch._foreach_add_(scale, group["eps"])
        if group["momentum"] > 0:
            bufs = [s["momentum_buffer"] for s in states]
            torch._foreach_mul_(bufs, group["momentum"])
            torch._foreach_addcdiv_(bufs, grads, scale)
            torch._foreach_add_(params, bufs, alpha=-group["lr"])
        else:
            torch._foreach_addcdiv_(params, grads, scale, value=-group["lr"])
