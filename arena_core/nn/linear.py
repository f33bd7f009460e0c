"""Fully connected layers and the glue around them: Linear, Flatten.

Linear: y = x W^T + b with W of shape [out_features, in_features] (torch's layout, so state dicts
load both ways). Initialised like torch: W, b ~ U(-1/sqrt(in), 1/sqrt(in)), which is what
`kaiming_uniform_(a=sqrt(5))` reduces to. Days 11-14 and every MLP after them.
"""

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn


class Linear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = (
            nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None
        )

    def forward(
        self, x: Float[Tensor, "*batch in_features"]
    ) -> Float[Tensor, "*batch out_features"]:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Flatten(nn.Module):
    """Merge dims start_dim..end_dim into one (default: everything but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        start = self.start_dim % len(shape)
        end = self.end_dim % len(shape)
        merged = math.prod(shape[start : end + 1])
        return x.reshape(*shape[:start], merged, *shape[end + 1 :])
