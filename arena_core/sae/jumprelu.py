"""JumpReLU SAE with straight-through threshold gradients (Rajamanoharan et al. 2024; days 45–48).

    f_i = pre_i · H(pre_i − θ_i)          (zero below a learned threshold θ_i > 0, identity above)
    L   = ‖x̂ − x‖² + λ Σ_i H(pre_i − θ_i)  (λ times the L0 of the code)

H is a step, so ∂/∂θ is zero almost everywhere. The paper's straight-through estimator replaces
the derivative of the step by a narrow rectangle kernel K of width ε (the bandwidth):

    ∂f_i/∂θ_i ≈ −(θ_i/ε) K((pre_i − θ_i)/ε)         ∂H/∂θ_i ≈ −(1/ε) K((pre_i − θ_i)/ε)
    K(u) = 1 if |u| < 1/2 else 0

The gradient to the pre-activations is the ordinary one, H(pre − θ), for f and zero for the L0
term. θ is stored as log θ so it stays positive; SAELens stores θ itself (`threshold`).
"""

import math

import torch
from torch import Tensor, nn

from arena_core.sae.base import SAE, SAEConfig


def _rectangle(u: Tensor) -> Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre: Tensor, theta: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return pre * (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, theta = ctx.saved_tensors
        d_pre = (pre > theta).to(pre.dtype) * grad
        d_theta = -(theta / ctx.eps) * _rectangle((pre - theta) / ctx.eps) * grad
        return d_pre, d_theta.reshape(-1, theta.shape[-1]).sum(0), None


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre: Tensor, theta: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.eps = eps
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        pre, theta = ctx.saved_tensors
        d_theta = -(1.0 / ctx.eps) * _rectangle((pre - theta) / ctx.eps) * grad
        return torch.zeros_like(pre), d_theta.reshape(-1, theta.shape[-1]).sum(0), None


class JumpReluSAE(SAE):
    architecture = "jumprelu"

    def __init__(self, cfg: SAEConfig, seed: int | None = 0):
        super().__init__(cfg, seed)
        self.log_threshold = nn.Parameter(torch.full((cfg.d_sae,), math.log(cfg.threshold)))

    @property
    def threshold(self) -> Tensor:
        return self.log_threshold.exp()

    def activation(self, pre: Tensor) -> Tensor:
        return _JumpReLU.apply(pre, self.threshold, self.cfg.bandwidth)

    def sparsity_loss(self, feats: Tensor, pre: Tensor) -> Tensor:
        l0 = _Step.apply(pre, self.threshold, self.cfg.bandwidth).sum(-1).mean()
        return self.cfg.l0_coeff * l0
