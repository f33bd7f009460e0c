"""Scores of a probe: AUROC (ties handled) and accuracy at a threshold (days 39–44).

AUROC is the probability that a random positive example scores higher than a random negative
one, counting ties as one half — the Mann–Whitney U statistic divided by n₊·n₋:

    AUROC = (Σ_{i ∈ positives} rank(sᵢ) − n₊(n₊ + 1)/2) / (n₊ n₋),

with ranks 1..n over all scores and tied scores given their average rank. It does not depend on
a threshold, so it compares probes whose scores live on different scales (a mass-mean projection
and a logistic logit), which is why Marks & Tegmark (2023, "The Geometry of Truth") and Roger
(2023, coup probes) report it. Checked against `sklearn.metrics.roc_auc_score`.

Used by days 39, 40, 41 and the sweeps in `arena_core.probes.sweeps`.
"""

import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from arena_core.errors import UserError


class MetricInputError(UserError, ValueError):
    """Scores and labels that cannot be scored (one class only, shapes that differ)."""


def _check(scores: Tensor, labels: Tensor) -> Tensor:
    if scores.shape != labels.shape or scores.dim() != 1:
        raise MetricInputError(
            f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} must be equal 1-D"
        )
    return labels.bool()


def average_ranks(x: Float[Tensor, " n"]) -> Float[Tensor, " n"]:
    """Ranks 1..n of `x` (float64), tied values sharing the mean of their ranks."""
    order = torch.argsort(x, stable=True)
    _, counts = torch.unique_consecutive(x[order], return_counts=True)
    ends = counts.cumsum(0).double()  # rank of the last member of each tie group
    group_rank = ends - (counts.double() - 1) / 2  # mean of ranks end-count+1 .. end
    ranks = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    ranks[order] = group_rank.repeat_interleave(counts)
    return ranks


def auroc(scores: Float[Tensor, " n"] | Int[Tensor, " n"], labels: Shaped[Tensor, " n"]) -> float:
    """Area under the ROC curve of `scores` for binary `labels` (1 = positive), ties = 1/2."""
    y = _check(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise MetricInputError("AUROC needs at least one positive and one negative example")
    ranks = average_ranks(scores.double())
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2  # Mann–Whitney U of the positives
    return float(u / (n_pos * n_neg))


def accuracy(
    scores: Float[Tensor, " n"],
    labels: Shaped[Tensor, " n"],
    threshold: float = 0.0,
) -> float:
    """Fraction of examples where `score > threshold` equals the label."""
    y = _check(scores, labels)
    return float(((scores > threshold) == y).double().mean())


def predictions_accuracy(
    predictions: Bool[Tensor, " n"] | Int[Tensor, " n"], labels: Shaped[Tensor, " n"]
) -> float:
    """Fraction of hard predictions that equal the labels."""
    y = _check(predictions, labels)
    return float((predictions.bool() == y).double().mean())
