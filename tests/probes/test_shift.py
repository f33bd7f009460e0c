"""Threshold, ranking and calibration under a shift, against scikit-learn (`roc_auc_score`,
`accuracy_score` over every threshold, `calibration_curve` + bin counts) and hand-made scores."""

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, roc_auc_score

from arena_core.probes.shift import (
    ShiftInputError,
    best_threshold,
    expected_calibration_error,
    shift_report,
)


def scores_and_labels(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.5).long()
    s = torch.randn(n, generator=g, dtype=torch.float64) + 1.5 * (2 * y - 1)
    return s, y


def test_best_threshold_is_best_over_all_cuts():
    s, y = scores_and_labels()
    t, acc = best_threshold(s, y)
    cuts = np.concatenate([[-np.inf], np.sort(s.numpy())])  # every distinct partition
    brute = max(accuracy_score(y.numpy(), s.numpy() > c) for c in cuts)
    assert acc == pytest.approx(brute)
    assert accuracy_score(y.numpy(), s.numpy() > t) == pytest.approx(acc)


def test_shift_moves_accuracy_not_auroc():
    s, y = scores_and_labels()
    base = shift_report(s, y)
    moved = shift_report(s + 4.0, y)  # every score up by 4: same ranking, threshold now too low
    assert base.auroc == pytest.approx(roc_auc_score(y.numpy(), s.numpy()))
    assert moved.auroc == pytest.approx(base.auroc)
    assert base.accuracy > 0.85
    assert moved.accuracy < 0.6  # nearly everything predicted positive
    assert moved.best_accuracy == pytest.approx(base.best_accuracy)
    assert moved.best_threshold == pytest.approx(base.best_threshold + 4.0)
    assert moved.midpoint == pytest.approx(base.midpoint + 4.0)
    assert moved.gap == pytest.approx(base.gap)


def test_hand_made_report():
    s = torch.tensor([-2.0, -1.0, 3.0, 5.0])
    y = torch.tensor([0, 0, 1, 1])
    r = shift_report(s, y, threshold=4.0)
    # positives' mean 4, negatives' mean -1.5: midpoint 1.25, gap 5.5; at t = 4 only 5 > 4
    assert (r.midpoint, r.gap, r.accuracy, r.auroc) == (1.25, 5.5, 0.75, 1.0)
    assert r.best_accuracy == 1.0 and -1.0 <= r.best_threshold < 3.0


@pytest.mark.parametrize("n_bins", [5, 10])
def test_ece_matches_calibration_curve(n_bins):
    g = torch.Generator().manual_seed(4)
    p = torch.rand(500, generator=g, dtype=torch.float64)
    y = (torch.rand(500, generator=g, dtype=torch.float64) < p**2).long()  # over-confident p
    prob_true, prob_pred = calibration_curve(y.numpy(), p.numpy(), n_bins=n_bins)
    edges = np.linspace(0, 1, n_bins + 1)
    counts = np.histogram(p.numpy(), bins=edges)[0]
    counts = counts[counts > 0]  # calibration_curve drops empty bins
    ref = float(np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)))
    assert expected_calibration_error(p, y, n_bins) == pytest.approx(ref, abs=1e-12)


def test_ece_hand_made():
    p = torch.tensor([0.1, 0.1, 0.9, 0.9])
    y = torch.tensor([0, 0, 1, 0])
    # bin of 0.1: mean y 0 vs 0.1 -> 0.1; bin of 0.9: mean y 0.5 vs 0.9 -> 0.4; weights 1/2 each
    assert expected_calibration_error(p, y) == pytest.approx(0.25)


def test_bad_inputs_raise_user_errors():
    with pytest.raises(ShiftInputError, match="scores"):
        best_threshold(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ShiftInputError, match="both classes"):
        shift_report(torch.zeros(3), torch.ones(3))
    with pytest.raises(ShiftInputError, match=r"\[0, 1\]"):
        expected_calibration_error(torch.tensor([1.5]), torch.tensor([1]))
    with pytest.raises(ShiftInputError, match="n_bins"):
        expected_calibration_error(torch.tensor([0.5]), torch.tensor([1]), n_bins=0)
