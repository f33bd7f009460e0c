"""Control tasks and selectivity (Hewitt & Liang 2019), and splits by word type (day 41).

Hewitt & Liang, "Designing and Interpreting Probes with Control Tasks" (EMNLP 2019): a probe that
reaches high accuracy may have *learned* the task from the activations (memorised which word goes
with which label) rather than *read* a property the model computed. Their control task keeps the
inputs and gives every word type a random label, fixed for that type: the only way to solve it is
to memorise types. Selectivity is the gap

    selectivity = accuracy(real task) − accuracy(control task),

measured on a split where test examples share word types with training (otherwise memorising is
useless). A good probe is expressive enough for the real task and too weak to memorise: as its
capacity grows (here: logistic regression on the top-k principal components), the control
accuracy rises and the selectivity falls. A split that holds out whole *types* removes the
memorisation route: the control task drops to chance, and only a feature that generalises to new
words keeps the real task up.

- `control_labels(types, seed)`: one random label per type, balanced over types.
- `type_split(types, test_fraction, seed)`: train/test indices with disjoint types.
- `capacity_sweep(acts, labels, train, test, ks)`: held-out accuracy of PCA(k) + logistic.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.logistic import fit_logistic
from arena_core.probes.metrics import accuracy
from arena_core.probes.pca import fit_pca


class ControlTaskError(UserError, ValueError):
    """Types or splits that a control task or capacity sweep cannot be built from."""


def _type_ids(types: Sequence) -> tuple[Tensor, list]:
    """Integer id per example (in order of first appearance) and the distinct types."""
    seen: dict = {}
    ids = [seen.setdefault(t, len(seen)) for t in types]
    return torch.tensor(ids, dtype=torch.long), list(seen)


# Salt for the control labels' generator: with a plain `manual_seed(seed)`, `control_labels` and
# `type_split` called with the same seed draw the same permutation of types, so every held-out
# type would get label 1 (a probe that predicts the training majority then scores 0).
_CONTROL_SALT = 0x5EED_C0DE


def control_labels(types: Sequence, seed: int = 0) -> Int[Tensor, " n"]:
    """A 0/1 label per example that depends on its type only: half the distinct types (the extra
    one when odd gets 1) drawn at random get 1. Same type, same label, every time."""
    ids, distinct = _type_ids(types)
    if len(distinct) < 2:
        raise ControlTaskError(f"a control task needs at least two types, got {len(distinct)}")
    gen = torch.Generator().manual_seed(seed ^ _CONTROL_SALT)
    order = torch.randperm(len(distinct), generator=gen)
    per_type = torch.zeros(len(distinct), dtype=torch.long)
    per_type[order[: (len(distinct) + 1) // 2]] = 1
    return per_type[ids]


def type_split(
    types: Sequence, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Int[Tensor, " n_train"], Int[Tensor, " n_test"]]:
    """(train, test) indices such that no type appears on both sides; round(fraction · n_types)
    types, drawn at random, go to the test side."""
    ids, distinct = _type_ids(types)
    if not 0 < test_fraction < 1 or len(distinct) < 2:
        raise ControlTaskError(
            f"need >= 2 types and 0 < test_fraction < 1, got {len(distinct)}, {test_fraction}"
        )
    gen = torch.Generator().manual_seed(seed)
    n_test = min(len(distinct) - 1, max(1, round(len(distinct) * test_fraction)))
    test_types = torch.randperm(len(distinct), generator=gen)[:n_test]
    is_test = torch.isin(ids, test_types)
    return torch.nonzero(~is_test).flatten(), torch.nonzero(is_test).flatten()


@dataclass(frozen=True)
class CapacityRow:
    k: int  # principal components the probe sees
    train_accuracy: float
    test_accuracy: float


def capacity_sweep(
    acts: Float[Tensor, "n d"],
    labels: Shaped[Tensor, " n"],
    train: Int[Tensor, " n_train"],
    test: Int[Tensor, " n_test"],
    ks: Sequence[int],
    C: float = 1.0,
) -> list[CapacityRow]:
    """For each k: PCA fitted on the training rows, an L2 logistic probe (`C`) on their top-k
    coordinates, accuracy on train and test. One SVD serves every k."""
    if acts.dim() != 2 or labels.shape != acts.shape[:1]:
        raise ControlTaskError(f"activations {tuple(acts.shape)} and labels {labels.shape}")
    if len(train) == 0 or len(test) == 0:
        raise ControlTaskError("train and test indices must both be non-empty")
    top = min(len(train), acts.shape[1])
    bad = [k for k in ks if not 1 <= k <= top]
    if bad:
        raise ControlTaskError(f"k must be in 1..{top} (min of train rows and width), got {bad}")
    pca = fit_pca(acts[train], n_components=max(ks))
    z = pca.transform(acts)
    rows = []
    for k in ks:
        probe = fit_logistic(z[train, :k], labels[train], C=C)
        rows.append(
            CapacityRow(
                k,
                accuracy(probe.scores(z[train, :k]), labels[train]),
                accuracy(probe.scores(z[test, :k]), labels[test]),
            )
        )
    return rows


def selectivity(real: Sequence[CapacityRow], control: Sequence[CapacityRow]) -> list[float]:
    """Held-out real-task accuracy minus control-task accuracy, per capacity (rows aligned by k)."""
    if [r.k for r in real] != [c.k for c in control]:
        raise ControlTaskError("real and control sweeps must use the same ks in the same order")
    return [r.test_accuracy - c.test_accuracy for r, c in zip(real, control, strict=True)]
