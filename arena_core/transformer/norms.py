"""LayerNorm (Ba et al. 2016; GPT-2) and RMSNorm (Zhang & Sennrich 2019; Llama) — days 30–32.

Both expose TransformerLens' hook points: `hook_scale` (the per-position divisor, `[batch pos 1]`)
and `hook_normalized` (the input divided by it, before the learned gain/bias), which is what the
interpretability days need to "fold" or freeze a norm.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.transformer.hooks import HookPoint


class LayerNorm(nn.Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * w + b, over the last dimension."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(d_model))
        self.b = nn.Parameter(torch.zeros(d_model))
        self.hook_scale = HookPoint()
        self.hook_normalized = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        if not (self.hook_scale.active or self.hook_normalized.active):
            # Fused kernel; identical maths (biased variance, eps inside the sqrt).
            return nn.functional.layer_norm(x, x.shape[-1:], self.w, self.b, self.eps)
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        return self.hook_normalized(x / scale) * self.w + self.b


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w: no centring, no bias."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(d_model))
        self.hook_scale = HookPoint()
        self.hook_normalized = HookPoint()

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        return self.hook_normalized(x / scale) * self.w
