"""Linear algebra in code: einsum forms of the basic products, cosine similarity, normalisation,
PCA via the SVD and least squares via QR or the normal equations.

einsum names each axis once; an axis that appears in the inputs but not in the output is summed:

    trace  "i i ->"          mv  "i j, j -> i"        mm  "i k, k j -> i j"
    inner  "i, i ->"         outer "i, j -> i j"      bmm "b i k, b k j -> b i j"

PCA (Pearson 1901; Hotelling 1933): centre X (n x d), take the thin SVD Xc = U S V^T; the rows of
V^T are the principal directions, S^2 / (n - 1) the variances along them, and Xc V = U S the
projection. Least squares min ||A x - b||: with A = QR, x = R^{-1} Q^T b (stable); the normal
equations A^T A x = A^T b square the condition number, which the day-4 experiment shows.

Used by day 4 (ARENA 0.0 prerequisites) and later by probing (PCA) and interpretability days.
"""

from typing import NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor


def trace(a: Float[Tensor, "n n"]) -> Float[Tensor, ""]:
    return torch.einsum("ii->", a)


def mv(a: Float[Tensor, "m n"], v: Float[Tensor, " n"]) -> Float[Tensor, " m"]:
    return torch.einsum("ij,j->i", a, v)


def mm(a: Float[Tensor, "m k"], b: Float[Tensor, "k n"]) -> Float[Tensor, "m n"]:
    return torch.einsum("ik,kj->ij", a, b)


def inner(u: Float[Tensor, " n"], v: Float[Tensor, " n"]) -> Float[Tensor, ""]:
    return torch.einsum("i,i->", u, v)


def outer(u: Float[Tensor, " m"], v: Float[Tensor, " n"]) -> Float[Tensor, "m n"]:
    return torch.einsum("i,j->ij", u, v)


def batched_mv(a: Float[Tensor, "b m n"], v: Float[Tensor, "b n"]) -> Float[Tensor, "b m"]:
    return torch.einsum("bij,bj->bi", a, v)


def batched_mm(a: Float[Tensor, "b m k"], c: Float[Tensor, "b k n"]) -> Float[Tensor, "b m n"]:
    return torch.einsum("bik,bkj->bij", a, c)


def normalize(x: Float[Tensor, "..."], dim: int = -1, eps: float = 1e-12) -> Float[Tensor, "..."]:
    """x / max(||x||_2, eps) along `dim`: unit vectors, and zero vectors stay zero (no 0/0)."""
    return x / x.norm(dim=dim, keepdim=True).clamp_min(eps)


def standardize(
    x: Float[Tensor, "n d"], eps: float = 1e-12
) -> tuple[Float[Tensor, "n d"], Float[Tensor, " d"], Float[Tensor, " d"]]:
    """(x - mean) / std per column (population std, ddof=0, like sklearn's StandardScaler).

    A constant column has std 0; dividing by max(std, eps) maps it to all zeros instead of NaN.
    Returns (standardized, mean, std) so new data can be transformed the same way.
    """
    mean = x.mean(dim=0)
    std = x.std(dim=0, correction=0)
    return (x - mean) / std.clamp_min(eps), mean, std


def cosine_similarity_matrix(
    a: Float[Tensor, "m d"], b: Float[Tensor, "n d"], eps: float = 1e-8
) -> Float[Tensor, "m n"]:
    """S[i, j] = a_i . b_j / (max(||a_i||, eps) max(||b_j||, eps)); a zero row gives 0, not NaN."""
    return torch.einsum("id,jd->ij", normalize(a, eps=eps), normalize(b, eps=eps))


class PCAResult(NamedTuple):
    components: Float[Tensor, "k d"]  # principal directions, unit rows, by decreasing variance
    explained_variance: Float[Tensor, " k"]  # variance of the data along each direction
    explained_variance_ratio: Float[Tensor, " k"]  # ... divided by the total variance
    mean: Float[Tensor, " d"]  # the column means that were subtracted
    projection: Float[Tensor, "n k"]  # coordinates of each centred sample along the components


def pca(x: Float[Tensor, "n d"], k: int) -> PCAResult:
    """Top-k principal components of x via the thin SVD of the centred data.

    Signs are fixed so the largest-|.| entry of each component is positive (an SVD defines each
    singular vector only up to sign; fixing it makes results reproducible and comparable).
    """
    n, d = x.shape
    if not 1 <= k <= min(n, d):
        raise ValueError(f"k={k} must be between 1 and min(n, d)={min(n, d)}")
    mean = x.mean(dim=0)
    xc = x - mean
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    components = vh[:k]
    biggest = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(components.gather(1, biggest))
    components = components * signs
    variance = s**2 / (n - 1)
    total = variance.sum()
    return PCAResult(
        components=components,
        explained_variance=variance[:k],
        explained_variance_ratio=variance[:k] / total,
        mean=mean,
        projection=xc @ components.T,
    )


def lstsq_qr(a: Float[Tensor, "n d"], b: Float[Tensor, "n ..."]) -> Float[Tensor, "d ..."]:
    """argmin_x ||a x - b||_2 via a = QR: solve the triangular system R x = Q^T b (n >= d)."""
    q, r = torch.linalg.qr(a, mode="reduced")
    rhs = q.T @ b
    column = rhs.ndim == 1
    x = torch.linalg.solve_triangular(r, rhs.unsqueeze(-1) if column else rhs, upper=True)
    return x.squeeze(-1) if column else x


def lstsq_normal(a: Float[Tensor, "n d"], b: Float[Tensor, "n ..."]) -> Float[Tensor, "d ..."]:
    """argmin_x ||a x - b||_2 via the normal equations (a^T a) x = a^T b (Cholesky solve).

    Fast, but the condition number of a^T a is cond(a)^2, so it loses twice as many digits.
    """
    gram = a.T @ a
    rhs = a.T @ b
    column = rhs.ndim == 1
    chol = torch.linalg.cholesky(gram)
    x = torch.cholesky_solve(rhs.unsqueeze(-1) if column else rhs, chol)
    return x.squeeze(-1) if column else x
