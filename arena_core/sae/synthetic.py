"""Synthetic sparse data with planted features, and how well an SAE recovers them (days 45–47).

The toy world of Elhage et al. 2022 ("Toy Models of Superposition") and Sharkey et al. 2022
("Taking features out of superposition with sparse autoencoders"): n unit feature directions
in d < n dimensions, each active independently with probability p and a random size, so

    x = Σ_i a_i u_i,   a_i = m_i · Bernoulli(p),   m_i ~ Uniform(0.5, 1.5)

An SAE that found the features has a decoder row close to each u_i. The score is the mean over
true features of the largest cosine similarity with any decoder row (Sharkey et al.'s MMCS).
"""

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.sae.base import SAEError


def planted_features(n_features: int, d: int, seed: int = 0) -> Float[Tensor, "n_features d"]:
    """`n_features` random unit directions in R^d (nearly orthogonal when d is large)."""
    if n_features < 1 or d < 1:
        raise SAEError("n_features and d must be positive")
    u = torch.randn(n_features, d, generator=torch.Generator().manual_seed(seed))
    return u / u.norm(dim=1, keepdim=True)


def sparse_data(
    features: Float[Tensor, "n_features d"], n: int, p: float, seed: int = 0
) -> tuple[Float[Tensor, "n d"], Float[Tensor, "n n_features"]]:
    """`n` rows of x = a @ features with sparse coefficients a (returned too)."""
    if not 0 < p <= 1:
        raise SAEError(f"p must be a probability in (0, 1], got {p}")
    gen = torch.Generator().manual_seed(seed)
    on = torch.rand(n, len(features), generator=gen) < p
    size = 0.5 + torch.rand(n, len(features), generator=gen)
    a = on * size
    return a @ features, a


def mean_max_cosine(
    decoder: Float[Tensor, "d_sae d"], features: Float[Tensor, "n_features d"]
) -> float:
    """Mean over true features of max over decoder rows of cos(feature, row)."""
    dec = decoder / decoder.norm(dim=1, keepdim=True).clamp_min(1e-12)
    feat = features / features.norm(dim=1, keepdim=True)
    return (feat @ dec.T).max(dim=1).values.mean().item()
