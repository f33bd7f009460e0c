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
        # matmul would also catch a wrong last dim, but with a message about "mat1 and mat2"
        # that names neither the layer nor in_features
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects an input of shape "
                f"(*, {self.in_features}), got shape {tuple(x.shape)}"
            )
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
        # torch indexes a 0-d tensor as if it were 1-d, so Flatten(0) turns a scalar into [1]
        ndim = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        # wrapping an out-of-range dim modulo ndim would flatten the wrong dims silently
        if not (-ndim <= start < ndim and -ndim <= end < ndim) or start % ndim > end % ndim:
            raise ValueError(
                f"Flatten(start_dim={start}, end_dim={end}) needs dims in [{-ndim}, {ndim - 1}] "
                f"with start_dim not after end_dim, got shape {tuple(shape)}"
            )
        if len(shape) == 0:
            return x.reshape(1)
        start, end = start % ndim, end % ndim
        merged = math.prod(shape[start : end + 1])
        return x.reshape(*shape[:start], merged, *shape[end + 1 :])
