"""Speed drills: the same operation written as a Python loop and as one vectorised tensor call.

Each entry of `DRILLS` holds a `make(n, generator)` that builds inputs of size n, a `looped`
version (Python loops over Python floats or tensor rows — how one might first write it) and a
`vectorised` version (whole-tensor ops from this package). Day 5 times both at growing n and
checks they agree; the tests check both against torch.

Why vectorised wins: a Python loop pays ~0.1-10 us of interpreter and dispatch overhead per
element or per small op, while one tensor op pays it once and runs a compiled, SIMD, possibly
multithreaded loop over all elements.

Used by day 5 (ARENA 0.0 prerequisites review).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from arena_core.tensors.linalg import cosine_similarity_matrix
from arena_core.tensors.stable import softmax


def matmul_looped(a: Tensor, b: Tensor) -> Tensor:
    """C[i][j] = sum_k A[i][k] B[k][j] with three Python loops over Python floats."""
    al, bl = a.tolist(), b.tolist()
    m, k, n = len(al), len(bl), len(bl[0])
    out = [[sum(al[i][p] * bl[p][j] for p in range(k)) for j in range(n)] for i in range(m)]
    return torch.tensor(out, dtype=a.dtype)


def softmax_looped(x: Tensor) -> Tensor:
    """Row-wise stable softmax, one Python float at a time."""
    rows = []
    for row in x.tolist():
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = sum(e)
        rows.append([v / s for v in e])
    return torch.tensor(rows, dtype=x.dtype)


def cosine_looped(a: Tensor, b: Tensor) -> Tensor:
    """Cosine-similarity matrix with a Python loop over pairs of rows (tensor ops inside)."""
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype)
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = a[i] @ b[j] / (a[i].norm().clamp_min(1e-8) * b[j].norm().clamp_min(1e-8))
    return out


def sample_looped(probs: Tensor, u: Tensor) -> Tensor:
    """Inverse-CDF sampling with a linear scan of the CDF per uniform draw."""
    cdf = probs.cumsum(0).tolist()
    out = []
    for v in u.tolist():
        i = 0
        while i < len(cdf) - 1 and v >= cdf[i]:
            i += 1
        out.append(i)
    return torch.tensor(out)


def sample_vectorised(probs: Tensor, u: Tensor) -> Tensor:
    """The same draws as `sample_looped` (same u), with one searchsorted call."""
    idx = torch.searchsorted(probs.cumsum(0), u, right=True)
    return idx.clamp_max(probs.shape[0] - 1)


@dataclass(frozen=True)
class Drill:
    name: str
    size_label: str  # what n means
    make: Callable[[int, torch.Generator], tuple[Tensor, ...]]
    looped: Callable[..., Tensor]
    vectorised: Callable[..., Tensor]


def _sampling_inputs(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    probs = torch.rand(1000, generator=g, dtype=torch.float64)
    return probs / probs.sum(), torch.rand(n, generator=g, dtype=torch.float64)


DRILLS = [
    Drill(
        "matmul",
        "n (n x n times n x n)",
        lambda n, g: (
            torch.randn(n, n, generator=g, dtype=torch.float64),
            torch.randn(n, n, generator=g, dtype=torch.float64),
        ),
        matmul_looped,
        lambda a, b: a @ b,
    ),
    Drill(
        "softmax",
        "n rows x 256",
        lambda n, g: (torch.randn(n, 256, generator=g, dtype=torch.float64) * 10,),
        softmax_looped,
        lambda x: softmax(x, dim=-1),
    ),
    Drill(
        "cosine-sim",
        "n rows vs n rows, d=64",
        lambda n, g: (
            torch.randn(n, 64, generator=g, dtype=torch.float64),
            torch.randn(n, 64, generator=g, dtype=torch.float64),
        ),
        cosine_looped,
        cosine_similarity_matrix,
    ),
    Drill(
        "sampling",
        "n draws from 1000 categories",
        _sampling_inputs,
        sample_looped,
        sample_vectorised,
    ),
]
