"""Elementwise activation functions as modules (days 11-14; later days add more here).

ReLU(x) = max(x, 0). Its derivative is the step function 1[x > 0]; at exactly 0 we take 0, as
torch does. The backward multiplies the incoming gradient by the mask 1[y > 0] of the saved output:
one fused pass, where autograd through `clamp` costs a `where` over a full-size zeros tensor (the
largest single cost of a small ResNet's training step after the convolutions).
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn


class _ReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.clamp(min=0.0)
        ctx.save_for_backward(y)  # y > 0 exactly where x > 0, and y is needed anyway
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (y > 0)


def relu(x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    return _ReLUFunction.apply(x)


class ReLU(nn.Module):
    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return relu(x)


# --- days 25-28 (autoencoders, VAEs, GANs) ---------------------------------------------------
# sigmoid(x) = 1 / (1 + e^-x), written so that e^t is only ever taken for t <= 0 (no overflow):
#   x >= 0: 1 / (1 + e^-x);   x < 0: e^x / (1 + e^x).
# Its derivative is y (1 - y); tanh(x) = 2 sigmoid(2x) - 1 has derivative 1 - y^2. Both backward
# passes reuse the saved output y, so a saturated unit gives an exact 0 gradient, never inf/inf.


class _SigmoidFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        e = torch.exp(-x.abs())  # in (0, 1]
        y = torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * y * (1.0 - y)


class _TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        e = torch.exp(-2.0 * x.abs())  # tanh(|x|) = (1 - e^{-2|x|}) / (1 + e^{-2|x|})
        y = torch.sign(x) * (1.0 - e) / (1.0 + e)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * (1.0 - y * y)


def sigmoid(x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    return _SigmoidFunction.apply(x)


def tanh(x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    return _TanhFunction.apply(x)


class Sigmoid(nn.Module):
    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return sigmoid(x)


class Tanh(nn.Module):
    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return tanh(x)


class LeakyReLU(nn.Module):
    """max(x, 0) + slope * min(x, 0); the gradient at exactly 0 is `slope`, as in torch."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return torch.where(x > 0, x, x * self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
