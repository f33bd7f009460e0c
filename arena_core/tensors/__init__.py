"""The shared tensor utility library (ARENA 0.0 prerequisites, days 1-5).

- `broadcasting`: the broadcast shape rule and stride-0 expansion
- `stable`: numerically stable logsumexp, softmax, log_softmax, cross_entropy, sigmoid, log_sigmoid
- `indexing`: gather, integer-array and boolean-mask patterns (one_hot, topk_mask, masked_mean)
- `linalg`: einsum products, normalisation, cosine-similarity matrix, PCA, least squares
- `sampling`: categorical sampling by inverse CDF, chi-square statistic
- `reshape`: einops image grids and patches
- `drills`: looped vs vectorised versions of common ops (day 5 speed drills)
"""

from arena_core.tensors.broadcasting import broadcast_shape, expand_via_strides
from arena_core.tensors.indexing import (
    batched_index_select,
    gather_last,
    index_pairs,
    masked_fill_value,
    masked_mean,
    one_hot,
    topk_mask,
)
from arena_core.tensors.linalg import (
    PCAResult,
    batched_mm,
    batched_mv,
    cosine_similarity_matrix,
    inner,
    lstsq_normal,
    lstsq_qr,
    mm,
    mv,
    normalize,
    outer,
    pca,
    standardize,
    trace,
)
from arena_core.tensors.reshape import make_grid, patchify, unpatchify
from arena_core.tensors.sampling import chi_square_statistic, sample_categorical, sample_from_logits
from arena_core.tensors.stable import (
    cross_entropy,
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
)

__all__ = [
    "PCAResult",
    "batched_index_select",
    "broadcast_shape",
    "batched_mm",
    "batched_mv",
    "chi_square_statistic",
    "cosine_similarity_matrix",
    "cross_entropy",
    "expand_via_strides",
    "gather_last",
    "index_pairs",
    "inner",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "lstsq_normal",
    "lstsq_qr",
    "make_grid",
    "masked_fill_value",
    "masked_mean",
    "mm",
    "mv",
    "normalize",
    "one_hot",
    "outer",
    "patchify",
    "pca",
    "sample_categorical",
    "sample_from_logits",
    "sigmoid",
    "softmax",
    "topk_mask",
    "standardize",
    "trace",
    "unpatchify",
]
