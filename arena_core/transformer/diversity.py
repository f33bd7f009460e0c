"""How varied and how likely are generated samples? distinct-n and mean log-probability.

distinct-n (Li et al. 2016, https://arxiv.org/abs/1510.03055): the number of *different* n-grams
across a set of samples divided by the total number of n-grams. 1.0 means no n-gram repeats;
greedy decoding of the same prompt gives identical samples and a low value.

Mean log-probability: the average, over generated tokens, of log p(token | context) under the
model's *untempered* distribution (T = 1, no filtering). Sharper decoding (low T, small top-p)
picks likelier tokens (higher mean log-prob, less diversity); hotter decoding the opposite. The two
numbers together trace the quality/diversity trade-off of day 33.
"""

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor


def distinct_n(samples: Sequence[Sequence[int]], n: int) -> float:
    """Unique n-grams / all n-grams over every sample (0.0 when no sample has n tokens)."""
    grams = [tuple(s[i : i + n]) for s in samples for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def generated_logprobs(
    step_logits: Float[Tensor, "batch steps d_vocab"], new_tokens: Int[Tensor, "batch steps"]
) -> Float[Tensor, "batch steps"]:
    """log softmax(raw logits)[token] for every generated token (raw = before any processing)."""
    logprobs = step_logits.float().log_softmax(dim=-1)
    return logprobs.gather(-1, new_tokens[..., None]).squeeze(-1)


def mean_logprob(step_logits: Tensor, samples: Sequence[Sequence[int]]) -> float:
    """Mean log-prob per generated token; rows may be shorter than `steps` (stopped early)."""
    total, count = 0.0, 0
    for row, tokens in enumerate(samples):
        if not tokens:
            continue
        toks = torch.tensor(list(tokens), device=step_logits.device)[None]
        total += float(generated_logprobs(step_logits[row : row + 1, : len(tokens)], toks).sum())
        count += len(tokens)
    return total / max(count, 1)
