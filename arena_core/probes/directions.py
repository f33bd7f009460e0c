"""Difference-of-means ("mass-mean") directions, plain and covariance-corrected (days 39–44).

Marks & Tegmark (2023, "The Geometry of Truth: Emergent Linear Structure in Large Language Model
Representations of True/False Datasets") find that the plain difference of class means

    θ_mm = μ₊ − μ₋

is a better *causal* truth direction than a logistic-regression probe, whose weights also lean
along directions where the classes merely have different spread. When the classes share a
covariance Σ (the within-class covariance), the Bayes-optimal linear classifier is Fisher's
discriminant θ_iid = Σ⁻¹ (μ₊ − μ₋) ("mass-mean probe with IID correction" in the paper): better
for *classifying*, usually worse for *steering*. Σ is regularised, Σ + λ·(tr Σ / d)·I, because with
d = 576 … 896 dimensions and a few hundred prompts it is singular.

The probe's score of x is its projection relative to the midpoint of the two means,
s(x) = θᵀ(x − (μ₊ + μ₋)/2), so that s > 0 predicts the positive class.

Used by days 39 (truth directions), 40 (coup probes), 41 and 44 (steering with a probe direction).
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from arena_core.errors import UserError


class ProbeInputError(UserError, ValueError):
    """Activations and labels that a probe cannot be fitted on."""


def split_by_label(
    acts: Float[Tensor, "n d"], labels: Shaped[Tensor, " n"]
) -> tuple[Float[Tensor, "n_pos d"], Float[Tensor, "n_neg d"]]:
    """(positives, negatives) as float64, with shape and two-class checks."""
    if acts.dim() != 2 or labels.shape != acts.shape[:1]:
        raise ProbeInputError(
            f"activations {tuple(acts.shape)} must be [n d] with labels [n], got {labels.shape}"
        )
    y = labels.bool()
    if bool(y.all()) or not bool(y.any()):
        raise ProbeInputError("labels must contain both classes")
    x = acts.double()
    return x[y], x[~y]


def mass_mean_direction(
    acts: Float[Tensor, "n d"], labels: Shaped[Tensor, " n"]
) -> Float[Tensor, " d"]:
    """θ_mm = μ₊ − μ₋ (float64), not normalised: its length is the distance between the means."""
    pos, neg = split_by_label(acts, labels)
    return pos.mean(dim=0) - neg.mean(dim=0)


def within_class_covariance(
    acts: Float[Tensor, "n d"], labels: Shaped[Tensor, " n"]
) -> Float[Tensor, "d d"]:
    """Pooled covariance of the class-centred data (each row minus its class mean), float64."""
    pos, neg = split_by_label(acts, labels)
    centred = torch.cat([pos - pos.mean(dim=0), neg - neg.mean(dim=0)])
    return centred.T @ centred / (centred.shape[0] - 2)


def covariance_corrected_direction(
    acts: Float[Tensor, "n d"], labels: Shaped[Tensor, " n"], ridge: float = 1e-3
) -> Float[Tensor, " d"]:
    """θ_iid = (Σ + λ·(tr Σ / d)·I)⁻¹ (μ₊ − μ₋): the mass-mean direction whitened by the
    within-class covariance Σ (Fisher's linear discriminant); `ridge` = λ, relative to the mean
    variance so that it does not depend on the activations' scale."""
    if ridge < 0:
        raise ProbeInputError(f"ridge must be >= 0, got {ridge}")
    sigma = within_class_covariance(acts, labels)
    d = sigma.shape[0]
    reg = sigma + ridge * sigma.diagonal().mean() * torch.eye(d, dtype=sigma.dtype)
    return torch.linalg.solve(reg, mass_mean_direction(acts, labels))


@dataclass(frozen=True)
class MassMeanProbe:
    """A direction and the midpoint of the class means; `scores` > 0 predicts the positive class."""

    direction: Tensor  # [d], float64
    midpoint: Tensor  # [d], float64

    def scores(self, acts: Float[Tensor, "n d"]) -> Float[Tensor, " n"]:
        """θᵀ(x − midpoint) for each row."""
        return (acts.double() - self.midpoint) @ self.direction

    def predict(self, acts: Float[Tensor, "n d"]) -> Tensor:
        return self.scores(acts) > 0

    def unit_direction(self) -> Float[Tensor, " d"]:
        return self.direction / self.direction.norm()


def fit_mass_mean(
    acts: Float[Tensor, "n d"],
    labels: Shaped[Tensor, " n"],
    covariance_correction: bool = False,
    ridge: float = 1e-3,
) -> MassMeanProbe:
    """A mass-mean probe (Marks & Tegmark 2023), optionally covariance-corrected ("IID")."""
    pos, neg = split_by_label(acts, labels)
    if covariance_correction:
        direction = covariance_corrected_direction(acts, labels, ridge)
    else:
        direction = pos.mean(dim=0) - neg.mean(dim=0)
    return MassMeanProbe(direction, (pos.mean(dim=0) + neg.mean(dim=0)) / 2)
