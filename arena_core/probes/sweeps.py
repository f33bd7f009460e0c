"""Layer sweeps and generalisation matrices of probes, with their plots (days 39–41).

Layer sweep: fit a probe on each layer's activations and score it on held-out prompts; the curve
shows where a feature becomes linearly decodable (Marks & Tegmark 2023 find truth separating in the
middle layers). Generalisation matrix: train on dataset A, test on dataset B, for every pair; the
diagonal is ordinary held-out accuracy, the off-diagonal cells say whether the probe learned the
feature or something particular to A (the paper's cities → larger-than transfer). A probe that
does well everywhere can still read a spurious feature; control tasks (Hewitt & Liang 2019,
"Designing and Interpreting Probes with Control Tasks") give the baseline to compare with: feed
the same sweep random labels fixed per word type.

Probes are named by string: "logistic", "mass_mean", "mass_mean_iid" (covariance-corrected).
Used by days 39, 40 and 41.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from arena_core.errors import ArgumentError
from arena_core.probes.directions import fit_mass_mean
from arena_core.probes.logistic import fit_logistic
from arena_core.probes.metrics import accuracy, auroc

Dataset = tuple[Tensor, Tensor]  # (activations [n d], labels [n])


def fit_probe(
    kind: str, acts: Float[Tensor, "n d"], labels: Shaped[Tensor, " n"], C: float = 1.0
) -> Callable[[Tensor], Tensor]:
    """Fit a named probe; return its score function (score > 0 predicts the positive class)."""
    if kind == "logistic":
        return fit_logistic(acts, labels, C=C).scores
    if kind in ("mass_mean", "mass_mean_iid"):
        return fit_mass_mean(acts, labels, covariance_correction=kind == "mass_mean_iid").scores
    raise ArgumentError(f"unknown probe {kind!r}: use 'logistic', 'mass_mean' or 'mass_mean_iid'")


def train_test_split(n: int, test_fraction: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Shuffled (train indices, test indices) of n examples, reproducible from `seed`."""
    if not 0 < test_fraction < 1 or n < 4:
        raise ArgumentError(f"need n >= 4 and 0 < test_fraction < 1, got {n}, {test_fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, round(n * test_fraction))
    return perm[n_test:], perm[:n_test]


@dataclass(frozen=True)
class SweepRow:
    layer: str
    train_accuracy: float
    test_accuracy: float
    test_auroc: float


def layer_sweep(
    acts_by_layer: Mapping[str | int, Tensor],
    labels: Shaped[Tensor, " n"],
    probe: str = "logistic",
    test_fraction: float = 0.25,
    seed: int = 0,
    C: float = 1.0,
) -> list[SweepRow]:
    """Fit + score one probe per layer on the same train/test split; one row per layer."""
    n = labels.shape[0]
    train, test = train_test_split(n, test_fraction, seed)
    rows = []
    for layer, acts in acts_by_layer.items():
        score = fit_probe(probe, acts[train], labels[train], C)
        rows.append(
            SweepRow(
                str(layer),
                accuracy(score(acts[train]), labels[train]),
                accuracy(score(acts[test]), labels[test]),
                auroc(score(acts[test]), labels[test]),
            )
        )
    return rows


def sweep_markdown(rows: list[SweepRow]) -> str:
    """The sweep as a Markdown table (for notes and posts)."""
    lines = ["| layer | train acc | test acc | test AUROC |", "|---|---|---|---|"]
    lines += [
        f"| {r.layer} | {r.train_accuracy:.3f} | {r.test_accuracy:.3f} | {r.test_auroc:.3f} |"
        for r in rows
    ]
    return "\n".join(lines)


def generalisation_matrix(
    datasets: Mapping[str, Dataset],
    probe: str = "logistic",
    metric: str = "accuracy",
    test_fraction: float = 0.25,
    seed: int = 0,
    C: float = 1.0,
) -> tuple[list[str], Float[Tensor, "n_sets n_sets"]]:
    """`M[i, j]` = metric of a probe trained on dataset i's train split, on dataset j's test split.

    Every dataset is split once (same seed), so the diagonal is held-out, never training, data."""
    if metric not in ("accuracy", "auroc"):
        raise ArgumentError(f"metric must be 'accuracy' or 'auroc', got {metric!r}")
    names = list(datasets)
    splits = {k: train_test_split(len(y), test_fraction, seed) for k, (_, y) in datasets.items()}
    score_of = accuracy if metric == "accuracy" else auroc
    out = torch.empty((len(names), len(names)), dtype=torch.float64)
    for i, a in enumerate(names):
        xa, ya = datasets[a]
        score = fit_probe(probe, xa[splits[a][0]], ya[splits[a][0]], C)
        for j, b in enumerate(names):
            xb, yb = datasets[b]
            test = splits[b][1]
            out[i, j] = score_of(score(xb[test]), yb[test])
    return names, out


def plot_layer_sweep(
    rows: list[SweepRow], ax=None, label: str | None = None, metric: str = "test_accuracy"
):
    """A line of `metric` over layers (call again on the same `ax` to compare probes)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(rows))
    ax.plot(x, [getattr(r, metric) for r in rows], marker="o", label=label)
    ax.set_xticks(list(x), [r.layer for r in rows], rotation=0 if len(rows) <= 16 else 90)
    ax.set_xlabel("layer")
    ax.set_ylabel(metric.replace("_", " "))
    if label is not None:
        ax.legend()
    return ax


def plot_generalisation_matrix(
    names: list[str], matrix: Tensor, ax=None, metric: str = "accuracy", vmin: float | None = None
):
    """Heatmap: rows = trained on, columns = tested on, the value written in each cell.

    The colour scale runs from `vmin` (default: 0.5 = chance, or lower if a cell is) to 1."""
    import matplotlib.pyplot as plt

    if ax is None:
        size = 1.0 + 0.8 * len(names)
        _, ax = plt.subplots(figsize=(size + 1.5, size))
    m = matrix.detach().double().cpu().numpy()
    vmin = min(0.5, float(m.min())) if vmin is None else vmin
    im = ax.imshow(m, vmin=vmin, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("tested on")
    ax.set_ylabel("trained on")
    for i in range(len(names)):
        for j in range(len(names)):
            # dark text on the bright end of viridis, white on the dark end
            colour = "black" if (m[i, j] - vmin) / (1 - vmin) > 0.6 else "white"
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color=colour, fontsize=9)
    ax.figure.colorbar(im, ax=ax, label=metric)
    return ax
