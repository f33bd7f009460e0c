"""Batch normalisation for images (Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167).

Training mode normalises each channel with the statistics of the current batch (over b, h, w):

    mu = mean(x),  var = mean((x - mu)^2)            (biased: what the normalisation uses)
    x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta

and updates running estimates used in eval mode, exactly as torch does:

    running_mean <- (1 - momentum) * running_mean + momentum * mu
    running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)   (unbiased)

(`momentum=None` means a cumulative average: the factor is 1 / num_batches_tracked.)

The backward pass of training mode has a compact closed form (N = b*h*w elements per channel,
g_hat = dL/dy * gamma):

    dL/dx = (1 / (N * sqrt(var + eps))) * (N * g_hat - sum(g_hat) - x_hat * sum(g_hat * x_hat))

which a custom autograd function uses instead of differentiating through mean/var op by op.
Days 13-14 (ResNets) and the DCGAN of days 26-28.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

_DIMS = (0, 2, 3)  # reduce over batch and space; keep channels


def _per_channel(v: Tensor) -> Tensor:
    return v.view(1, -1, 1, 1)


class _BatchNormTrainFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        mean = x.mean(dim=_DIMS)
        # two-pass variance on the centred values (which x_hat needs anyway): much faster on CPU
        # than torch.var's Welford loop, and as accurate
        x_hat = x - _per_channel(mean)
        var = x_hat.square().mean(dim=_DIMS)
        rstd = (var + eps).rsqrt()
        x_hat.mul_(_per_channel(rstd))
        ctx.save_for_backward(x_hat, gamma, rstd)
        y = torch.addcmul(_per_channel(beta), x_hat, _per_channel(gamma))
        return y, mean, var

    @staticmethod
    def backward(ctx, grad_y, _grad_mean, _grad_var):
        # mean and var are returned only to update running statistics: no gradient flows back
        x_hat, gamma, rstd = ctx.saved_tensors
        n = x_hat.numel() // x_hat.shape[1]
        grad_beta = grad_y.sum(dim=_DIMS)
        grad_gamma = (grad_y * x_hat).sum(dim=_DIMS)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # g_hat = grad_y * gamma: sum(g_hat) = gamma * grad_beta,
            # sum(g_hat * x_hat) = gamma * grad_gamma
            scale = _per_channel(gamma * rstd)
            grad_x = scale * (
                grad_y - _per_channel(grad_beta / n) - x_hat * _per_channel(grad_gamma / n)
            )
        return grad_x, grad_gamma, grad_beta, None


class BatchNorm2d(nn.Module):
    """Per-channel batch normalisation with learnable scale/shift and running statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(
        self, x: Float[Tensor, "batch channels height width"]
    ) -> Float[Tensor, "batch channels height width"]:
        # Without this check eval mode broadcasts silently: a 2-D or 3-D input comes back 4-D,
        # and BatchNorm2d(1) would apply channel 0's statistics to every channel.
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d({self.num_features}) expects a 4-D input "
                f"(N, {self.num_features}, H, W), got shape {tuple(x.shape)}"
            )
        if not self.training:
            rstd = (self.running_var + self.eps).rsqrt()
            scale = self.weight * rstd
            shift = self.bias - self.running_mean * scale
            return torch.addcmul(_per_channel(shift), x, _per_channel(scale))
        n = x.numel() // x.shape[1]
        if n < 2:
            raise ValueError("batch norm in training mode needs more than one value per channel")
        y, mean, var = _BatchNormTrainFunction.apply(x, self.weight, self.bias, self.eps)
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            self.running_mean.lerp_(mean, m)
            self.running_var.lerp_(var * (n / (n - 1)), m)
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
