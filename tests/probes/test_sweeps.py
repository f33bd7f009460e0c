"""Layer sweeps and generalisation matrices against the same computation done with
scikit-learn (its `LogisticRegression` and metrics on the same splits), and the two plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from arena_core.errors import ArgumentError
from arena_core.probes.sweeps import (
    generalisation_matrix,
    layer_sweep,
    plot_generalisation_matrix,
    plot_layer_sweep,
    sweep_markdown,
    train_test_split,
)


def layered_data(n=240, d=10, seed=0):
    """Activations at 4 "layers" whose class signal along v grows with depth."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(d, generator=g, dtype=torch.float64)
    v /= v.norm()
    y = torch.rand(n, generator=g) < 0.5
    acts = {}
    for layer, strength in enumerate([0.0, 0.5, 1.5, 4.0]):
        noise = torch.randn(n, d, generator=g, dtype=torch.float64)
        acts[layer] = noise + strength * (y.double()[:, None] - 0.5) * v
    return acts, y, v


def sk_scores(x_train, y_train, x_test, C=1.0):
    clf = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(x_train, y_train)
    return clf, clf.decision_function(x_test)


def test_layer_sweep_matches_sklearn():
    acts, y, _ = layered_data()
    rows = layer_sweep(acts, y, probe="logistic", seed=3)
    train, test = train_test_split(len(y), 0.25, seed=3)
    for row, (layer, x) in zip(rows, acts.items(), strict=True):
        clf, s = sk_scores(x[train].numpy(), y[train].numpy(), x[test].numpy())
        assert row.layer == str(layer)
        assert row.test_accuracy == pytest.approx(
            clf.score(x[test].numpy(), y[test].numpy()), abs=1e-4
        )
        assert row.test_auroc == pytest.approx(roc_auc_score(y[test].numpy(), s), abs=1e-4)
    # the planted signal: chance at layer 0, near-perfect at layer 3
    assert abs(rows[0].test_auroc - 0.5) < 0.15 and rows[3].test_auroc > 0.97
    assert sweep_markdown(rows).count("\n") == len(rows) + 1


@pytest.mark.parametrize("probe", ["mass_mean", "mass_mean_iid"])
def test_mass_mean_sweeps_run(probe):
    acts, y, _ = layered_data()
    rows = layer_sweep(acts, y, probe=probe)
    assert rows[3].test_auroc > 0.97


def test_generalisation_matrix_matches_sklearn():
    # three "datasets" sharing the direction v; the third flips the label convention, so a probe
    # trained on it transfers with AUROC ≈ 0 to the others
    acts, y, _ = layered_data(seed=1)
    sets = {"A": (acts[3], y), "B": (acts[2], y), "flipped": (acts[3], ~y)}
    names, m = generalisation_matrix(sets, metric="auroc", seed=5)
    assert names == ["A", "B", "flipped"]
    splits = {k: train_test_split(len(sets[k][1]), 0.25, seed=5) for k in sets}
    for i, a_name in enumerate(names):
        xa, ya = sets[a_name]
        tr = splits[a_name][0]
        for j, b_name in enumerate(names):
            xb, yb = sets[b_name]
            te = splits[b_name][1]
            _, s = sk_scores(xa[tr].numpy(), ya[tr].numpy(), xb[te].numpy())
            assert m[i, j].item() == pytest.approx(roc_auc_score(yb[te].numpy(), s), abs=1e-4)
    assert m[0, 2] < 0.1 and m[2, 2] > 0.9


def test_plots_label_ticks_and_cells():
    acts, y, _ = layered_data()
    ax = plot_layer_sweep(layer_sweep(acts, y), label="logistic")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    names = ["cities", "neg_cities", "larger_than"]
    m = torch.tensor([[0.95, 0.6, 0.7], [0.55, 0.9, 0.65], [0.7, 0.52, 0.99]])
    ax = plot_generalisation_matrix(names, m)
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(f"{v:.2f}" for v in m.flatten().tolist())
    import matplotlib.pyplot as plt

    plt.close("all")


def test_unknown_probe_is_a_user_error():
    acts, y, _ = layered_data()
    with pytest.raises(ArgumentError, match="unknown probe"):
        layer_sweep(acts, y, probe="svm")
    assert np.isfinite(layer_sweep({"x": acts[1]}, y)[0].test_accuracy)
