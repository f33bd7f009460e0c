"""Elementwise activation functions as modules (days 11-14; later days add more here).

ReLU(x) = max(x, 0). Its derivative is the step function 1[x > 0]; at exactly 0 we take 0, as
torch does.
"""

from jaxtyping import Float
from torch import Tensor, nn


class ReLU(nn.Module):
    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return x.clamp(min=0.0)
