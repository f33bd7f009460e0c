"""Adam (Kingma & Ba 2015), its AMSGrad variant (Reddi et al. 2018) and AdamW (Loshchilov &
Hutter 2019).

Day 16. With gradient g_t and step t = 1, 2, ...:

    m_t = β1 m_{t-1} + (1 − β1) g_t                 (first moment, m_0 = 0)
    v_t = β2 v_{t-1} + (1 − β2) g_t²                (second moment, v_0 = 0)
    v̂_t = max(v̂_{t-1}, v_t) with AMSGrad, else v_t
    θ_t = θ_{t-1} − η m_t / (1 − β1^t) / (sqrt(v̂_t / (1 − β2^t)) + ε)

The two bias corrections undo the pull of the zero initialisation towards 0. Weight decay λ:
Adam adds λ θ to the gradient (L2 regularisation, which the adaptive scaling then distorts);
AdamW instead shrinks the weights directly, θ ← (1 − η λ) θ, before the Adam step ("decoupled").
Same conventions as `torch.optim.Adam` / `AdamW` (ε outside the root, per-parameter step count).
"""

from collections.abc import Iterable

import torch
from torch import Tensor

from arena_core.optim.optimizer import Optimizer


class Adam(Optimizer):
    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        foreach: bool = False,
    ):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be non-negative")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(group: dict, p: Tensor, state: dict) -> None:
        if "step" in state:
            return
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, group: dict, p: Tensor, grad: Tensor, state: dict) -> None:
        self._init_state(group, p, state)
        state["step"] += 1
        t, (beta1, beta2), lr, wd = (
            state["step"],
            group["betas"],
            group["lr"],
            group["weight_decay"],
        )
        if wd != 0:
            if self.decoupled_weight_decay:
                p.mul_(1 - lr * wd)
            else:
                grad = grad + wd * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if group["amsgrad"]:
            torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(group["eps"])
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))

    def _update_foreach(
        self, group: dict, params: list[Tensor], grads: list[Tensor], states: list[dict]
    ) -> None:
        for p, s in zip(params, states, strict=True):
            self._init_state(group, p, s)
            s["step"] += 1
        (beta1, beta2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if wd != 0:
            if self.decoupled_weight_decay:
                torch._foreach_mul_(params, 1 - lr * wd)
            else:
                grads = torch._foreach_add(grads, params, alpha=wd)
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        torch._foreach_mul_(m, beta1)
        torch._foreach_add_(m, grads, alpha=1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        if group["amsgrad"]:
            v_max = [s["max_exp_avg_sq"] for s in states]
            torch._foreach_maximum_(v_max, v)
            v = v_max
        # Steps can differ between tensors (a tensor that had no gradient for a while lags), so the
        # bias corrections are per tensor: lists of Python scalars, one per tensor.
        steps = [s["step"] for s in states]
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [(1 - beta2**t) ** 0.5 for t in steps])
        torch._foreach_add_(denom, group["eps"])
        torch._foreach_addcdiv_(params, m, denom, [-lr / (1 - beta1**t) for t in steps])


class AdamW(Adam):
    """Adam with decoupled weight decay (default λ = 0.01, as in torch)."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        foreach: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach)
