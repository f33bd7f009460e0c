"""Spurious features: training sets where a surface feature stands in for the label (day 41).

A probe is fitted to whatever separates its training labels. If a surface feature z (the word
"not", the length of the sentence, the template) agrees with the label y on every training
example, the probe has no way to tell "y" from "z" and usually takes whichever is easier to read
off the activations. The symptom is in the numbers: high accuracy on held-out data drawn the same
way, and accuracy *below* chance on the anti-confounded set, where z = 1 − y. Marks & Tegmark
(2023, "The Geometry of Truth") meet this with cities vs negated cities; Hewitt & Liang (2019)
and Belinkov (2022, "Probing Classifiers: Promises, Shortcomings, and Advances") discuss it.

- `confound_masks(y, z)`: which examples agree (z = y) and which disagree (z ≠ y).
- `mix_confounded(y, z, rho, n)`: a training subset of size n in which a fraction `rho` agrees;
  rho = 0.5 removes the confound, rho = 1 makes it perfect.
- `balanced_direction(acts, z, y)`: the mass-mean direction of the surface feature with the label
  balanced out (the mean of the per-label differences), to compare a probe's weights with.
- `cosine(a, b)`: cosine similarity of two directions (float64).
"""

import torch
from jaxtyping import Bool, Float, Shaped
from torch import Tensor

from arena_core.errors import UserError


class ConfoundInputError(UserError, ValueError):
    """Labels and features that cannot form the requested confounded set."""


def _binary_pair(labels: Tensor, feature: Tensor) -> tuple[Tensor, Tensor]:
    if labels.dim() != 1 or labels.shape != feature.shape:
        raise ConfoundInputError(
            f"labels {tuple(labels.shape)} and feature {tuple(feature.shape)} must be equal 1-D"
        )
    for name, t in (("labels", labels), ("feature", feature)):
        if not bool(((t == 0) | (t == 1)).all()):
            raise ConfoundInputError(f"{name} must be 0/1")
    return labels.bool(), feature.bool()


def confound_masks(
    labels: Shaped[Tensor, " n"], feature: Shaped[Tensor, " n"]
) -> tuple[Bool[Tensor, " n"], Bool[Tensor, " n"]]:
    """(agree, disagree): examples where the surface feature equals the label, and where not."""
    y, z = _binary_pair(labels, feature)
    return y == z, y != z


def mix_confounded(
    labels: Shaped[Tensor, " n"],
    feature: Shaped[Tensor, " n"],
    rho: float,
    n: int,
    seed: int = 0,
) -> Tensor:
    """Indices of `n` examples, label-balanced, of which round(rho·n) have feature == label.

    Within each label half, round(rho·n/2) agreeing and the rest disagreeing examples are drawn
    without replacement, so the label is balanced and the confound strength is exactly rho (up to
    rounding). Raises if a cell has too few examples."""
    if not 0.0 <= rho <= 1.0:
        raise ConfoundInputError(f"rho must be in [0, 1], got {rho}")
    if n < 2 or n % 2:
        raise ConfoundInputError(f"n must be an even number >= 2, got {n}")
    y, z = _binary_pair(labels, feature)
    gen = torch.Generator().manual_seed(seed)
    half = n // 2
    n_agree = round(rho * half)
    picked = []
    for label in (True, False):
        for agree, k in ((True, n_agree), (False, half - n_agree)):
            cell = torch.nonzero((y == label) & ((z == y) == agree)).flatten()
            if k > len(cell):
                raise ConfoundInputError(
                    f"rho={rho}, n={n} needs {k} examples with label {int(label)} and feature "
                    f"{'equal to' if agree else 'opposite to'} it, only {len(cell)} exist"
                )
            picked.append(cell[torch.randperm(len(cell), generator=gen)[:k]])
    out = torch.cat(picked)
    return out[torch.randperm(len(out), generator=gen)]


def balanced_direction(
    acts: Float[Tensor, "n d"], feature: Shaped[Tensor, " n"], labels: Shaped[Tensor, " n"]
) -> Float[Tensor, " d"]:
    """Mass-mean direction of the feature with the label balanced out (float64):

        v = ½ Σ_{y ∈ {0, 1}} (mean{x : z = 1, y} − mean{x : z = 0, y}),

    so that a label that is unevenly spread over z cannot leak into v."""
    y, z = _binary_pair(labels, feature)
    if acts.dim() != 2 or acts.shape[0] != y.shape[0]:
        raise ConfoundInputError(f"activations {tuple(acts.shape)} do not match {y.shape[0]} rows")
    x = acts.double()
    parts = []
    for label in (True, False):
        on, off = (y == label) & z, (y == label) & ~z
        if not bool(on.any()) or not bool(off.any()):
            raise ConfoundInputError(
                f"label {int(label)} needs examples with the feature on and off"
            )
        parts.append(x[on].mean(dim=0) - x[off].mean(dim=0))
    return (parts[0] + parts[1]) / 2


def cosine(a: Float[Tensor, " d"], b: Float[Tensor, " d"]) -> float:
    """cos(a, b) in float64; raises on a zero vector."""
    a, b = a.double(), b.double()
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        raise ConfoundInputError("cosine of a zero vector is undefined")
    return float(a @ b / (na * nb))
