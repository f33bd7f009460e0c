"""Sampling from a categorical distribution by inverse-CDF, without `torch.multinomial`.

If U ~ Uniform[0, 1) and F is the cumulative distribution, F_i = p_0 + ... + p_i, then the
smallest i with U < F_i is distributed as Categorical(p): the interval [F_{i-1}, F_i) has length
exactly p_i. `torch.searchsorted(F, U, right=True)` finds that i for a whole batch at once in
O(log n) per draw. A category with p_i = 0 owns an empty interval and is never drawn.

`chi_square_statistic` is Pearson's (1900) goodness-of-fit statistic sum (O - E)^2 / E, the check
the tests and day 3 use to see that sample counts match the probabilities.

Used by day 3 (ARENA 0.0 prerequisites) and later by the sampling day (33) and RL days.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.tensors.stable import softmax


def sample_categorical(
    probs: Float[Tensor, "*batch n"],
    num_samples: int,
    generator: torch.Generator | None = None,
) -> Int[Tensor, "*batch num_samples"]:
    """Draw `num_samples` i.i.d. indices per row of `probs` (rows need not sum to 1; >= 0)."""
    if (probs < 0).any():
        raise ValueError("probabilities must be non-negative")
    cdf = probs.cumsum(dim=-1)
    total = cdf[..., -1:]
    if (total <= 0).any():
        raise ValueError("every row needs a positive total probability")
    cdf = cdf / total  # normalise, so un-normalised weights work too
    u = torch.rand(
        (*probs.shape[:-1], num_samples), generator=generator, dtype=cdf.dtype, device=probs.device
    )
    # right=True: return the first i with u < cdf[i], so empty intervals (p_i = 0) are skipped.
    idx = torch.searchsorted(cdf.contiguous(), u, right=True)
    # rounding can leave cdf[-1] a hair below 1; such a u belongs to the last positive category
    last_positive = probs.shape[-1] - 1 - (probs.flip(-1) > 0).int().argmax(dim=-1, keepdim=True)
    return torch.minimum(idx, last_positive)


def sample_from_logits(
    logits: Float[Tensor, "*batch n"],
    num_samples: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Int[Tensor, "*batch num_samples"]:
    """Sample from softmax(logits / temperature) with the inverse-CDF sampler."""
    if temperature <= 0:
        raise ValueError("temperature must be positive (use argmax for greedy decoding)")
    return sample_categorical(softmax(logits / temperature, dim=-1), num_samples, generator)


def chi_square_statistic(counts: Tensor, probs: Tensor) -> float:
    """Pearson's X^2 = sum_i (O_i - E_i)^2 / E_i over categories with E_i > 0."""
    counts = counts.double()
    expected = probs.double() / probs.double().sum() * counts.sum()
    keep = expected > 0
    return float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())
