"""Principal components of activations, from our own SVD (day 39's "PCA picture").

Marks & Tegmark (2023, "The Geometry of Truth") show true and false statements separating along
the top principal components of the residual stream at middle layers. PCA: centre the rows,
X_c = X − mean = U S Vᵀ; the components are the rows of Vᵀ and the variance along component k
is S_k² / (n − 1). Signs are fixed as in scikit-learn (the largest-|value| entry of each
component is positive) so that plots do not flip between runs. Checked against
`sklearn.decomposition.PCA`.

Used by days 39 and 41.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.errors import UserError


class PCAInputError(UserError, ValueError):
    """Too few rows or too many components for the data."""


@dataclass(frozen=True)
class PCA:
    """A fitted PCA: `components [k d]` (unit rows), variances along them, the data mean."""

    components: Tensor
    explained_variance: Tensor
    explained_variance_ratio: Tensor
    mean: Tensor

    def transform(self, x: Float[Tensor, "n d"]) -> Float[Tensor, "n k"]:
        """Coordinates of `x` along the components."""
        return (x.to(self.mean.dtype) - self.mean) @ self.components.T


def fit_pca(x: Float[Tensor, "n d"], n_components: int | None = None) -> PCA:
    """PCA of the rows of `x` (computed in float64) keeping `n_components` (default all)."""
    n, d = x.shape
    k = min(n, d) if n_components is None else n_components
    if n < 2 or not 1 <= k <= min(n, d):
        raise PCAInputError(f"need n >= 2 rows and 1 <= n_components <= {min(n, d)}, got {k}")
    x64 = x.double()
    mean = x64.mean(dim=0)
    u, s, vt = torch.linalg.svd(x64 - mean, full_matrices=False)
    # sign convention of sklearn >= 1.5 (svd_flip(u_based_decision=False)): the largest-|value|
    # entry of each component is positive
    signs = torch.sign(vt.gather(1, vt.abs().argmax(dim=1, keepdim=True))[:, 0])
    signs[signs == 0] = 1
    vt = vt * signs[:, None]
    var = s.square() / (n - 1)
    total = x64.var(dim=0, unbiased=True).sum()
    return PCA(vt[:k], var[:k], var[:k] / total, mean)
