"""What a distribution shift does to a probe: ranking vs threshold vs calibration (day 41).

A probe trained on one template or dataset gives every new input a score s(x); it predicts the
positive class when s(x) > t, with the threshold t (0 for our probes) set on the training data.
Under a shift (a paraphrase, another dataset), three things can break, and they show up in
different numbers:

- the *ranking*: do positives still score higher than negatives?  AUROC, threshold-free;
- the *threshold*: has the whole score distribution moved, so that t now sits on one side of
  both classes?  accuracy at t falls while AUROC stays; the accuracy of the best threshold on
  the shifted data (an oracle that needs its labels) and the shift of the class-mean midpoint
  measure how much;
- the *calibration* of a probability probe σ(s): the expected calibration error

      ECE = Σ_b (n_b / n) · |mean(y in bin b) − mean(p in bin b)|   over equal-width bins of p.

Used by day 41 (probe failure modes); Marks & Tegmark (2023) report AUROC for the same reason.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.metrics import accuracy, auroc


class ShiftInputError(UserError, ValueError):
    """Scores, probabilities or labels that cannot be scored."""


def best_threshold(
    scores: Float[Tensor, " n"], labels: Shaped[Tensor, " n"]
) -> tuple[float, float]:
    """(threshold, accuracy) of the threshold that classifies `scores` best (predict score > t).

    Candidates: below every score, and midway between each pair of neighbouring distinct scores;
    ties in accuracy go to the candidate closest to 0."""
    if scores.dim() != 1 or scores.shape != labels.shape or scores.numel() == 0:
        raise ShiftInputError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)}")
    s = scores.double()
    u = torch.unique(s)  # sorted
    cands = torch.cat([u[:1] - 1.0, (u[1:] + u[:-1]) / 2])
    y = labels.bool()
    acc = ((s[None, :] > cands[:, None]) == y[None, :]).double().mean(dim=1)
    best = acc.max()
    ties = torch.nonzero(acc == best).flatten()
    i = ties[cands[ties].abs().argmin()]
    return float(cands[i]), float(best)


def expected_calibration_error(
    probs: Float[Tensor, " n"], labels: Shaped[Tensor, " n"], n_bins: int = 10
) -> float:
    """ECE over `n_bins` equal-width bins of [0, 1] (the last bin includes 1.0)."""
    if probs.dim() != 1 or probs.shape != labels.shape or probs.numel() == 0:
        raise ShiftInputError(f"probs {tuple(probs.shape)} and labels {tuple(labels.shape)}")
    if n_bins < 1:
        raise ShiftInputError(f"n_bins must be >= 1, got {n_bins}")
    p = probs.double()
    if bool(((p < 0) | (p > 1)).any()):
        raise ShiftInputError("probabilities must lie in [0, 1]")
    y = labels.double()
    b = torch.clamp((p * n_bins).long(), max=n_bins - 1)
    count = torch.bincount(b, minlength=n_bins).double()
    gap = torch.bincount(b, weights=y, minlength=n_bins) - torch.bincount(
        b, weights=p, minlength=n_bins
    )
    # Σ_b (n_b/n)|ȳ_b − p̄_b| = Σ_b |Σ_{i∈b} (y_i − p_i)| / n
    return float(gap.abs().sum() / count.sum())


@dataclass(frozen=True)
class ShiftReport:
    accuracy: float  # at the training threshold
    auroc: float
    best_threshold: float  # oracle: chosen on these labels
    best_accuracy: float
    midpoint: float  # (mean score of positives + mean score of negatives) / 2
    gap: float  # mean score of positives − mean score of negatives


def shift_report(
    scores: Float[Tensor, " n"], labels: Shaped[Tensor, " n"], threshold: float = 0.0
) -> ShiftReport:
    """Accuracy at `threshold`, AUROC, the oracle threshold and the class means of the scores."""
    y = labels.bool()
    if y.all() or not y.any():
        raise ShiftInputError("labels must contain both classes")
    t, best = best_threshold(scores, labels)
    s = scores.double()
    pos, neg = s[y].mean(), s[~y].mean()
    return ShiftReport(
        accuracy(s, labels, threshold),
        auroc(s, labels),
        t,
        best,
        float((pos + neg) / 2),
        float(pos - neg),
    )
