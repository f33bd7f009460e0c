"""Indexing with gather, integer arrays and boolean masks: the patterns that replace Python loops.

- `gather_last`: pick one entry per row, e.g. the log-prob of each target token
  (`logprobs[b, t, targets[b, t]]` for every b, t at once).
- `batched_index_select`: pick k rows per batch element (`x[b, idx[b, j], :]`).
- `index_pairs`: integer-array indexing `x[rows, cols]` — pairs, not a sub-grid.
- `one_hot`, `topk_mask`: build boolean/float masks by comparing against `arange`, or scattering.
- `masked_mean`: the mean over entries where a boolean mask is True, row by row.

Used by day 3 (ARENA 0.0 prerequisites) and later by the transformer, sampling and RL days.
"""

import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor


def gather_last(
    x: Shaped[Tensor, "*batch n"], index: Int[Tensor, "*batch"]
) -> Shaped[Tensor, "*batch"]:
    """out[...] = x[..., index[...]]: one entry per row of the last dimension."""
    return x.gather(-1, index.unsqueeze(-1)).squeeze(-1)


def batched_index_select(
    x: Shaped[Tensor, "batch n d"], index: Int[Tensor, "batch k"]
) -> Shaped[Tensor, "batch k d"]:
    """out[b, j, :] = x[b, index[b, j], :] via gather (index broadcast over the feature dim)."""
    expanded = index.unsqueeze(-1).expand(-1, -1, x.shape[-1])
    return x.gather(1, expanded)


def index_pairs(
    x: Shaped[Tensor, "rows cols"], rows: Int[Tensor, " k"], cols: Int[Tensor, " k"]
) -> Shaped[Tensor, " k"]:
    """out[j] = x[rows[j], cols[j]]: integer arrays index element-wise *pairs*, not a grid.

    Equivalent to x.flatten()[rows * n_cols + cols] — the flat-offset view of the same idea.
    """
    return x.flatten()[rows * x.shape[1] + cols]


def one_hot(index: Int[Tensor, "*batch"], num_classes: int) -> Float[Tensor, "*batch num_classes"]:
    """out[..., c] = 1.0 if index[...] == c else 0.0, by broadcasting against arange."""
    classes = torch.arange(num_classes, device=index.device)
    return (index.unsqueeze(-1) == classes).float()


def topk_mask(x: Float[Tensor, "*batch n"], k: int) -> Bool[Tensor, "*batch n"]:
    """True at the positions of the k largest entries of each row (ties broken by torch.topk)."""
    if not 0 <= k <= x.shape[-1]:
        raise ValueError(f"k={k} must be between 0 and {x.shape[-1]}")
    idx = x.topk(k, dim=-1).indices
    mask = torch.zeros_like(x, dtype=torch.bool)
    return mask.scatter(-1, idx, True)


def masked_fill_value(
    x: Float[Tensor, "*shape"], mask: Bool[Tensor, "*shape"], value: float
) -> Float[Tensor, "*shape"]:
    """x where mask is False, `value` where it is True (torch.where, so x itself is untouched)."""
    return torch.where(mask, torch.full_like(x, value), x)


def masked_mean(
    x: Float[Tensor, "*batch n"], mask: Bool[Tensor, "*batch n"], dim: int = -1
) -> Float[Tensor, "..."]:
    """Mean of the entries of x where mask is True, along `dim`; NaN for a row with none kept."""
    kept = torch.where(mask, x, torch.zeros_like(x)).sum(dim=dim)
    return kept / mask.sum(dim=dim).to(x.dtype)
