"""AUROC and accuracy against scikit-learn on hypothesis-drawn data, ties included."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, roc_auc_score

from arena_core.probes.metrics import (
    MetricInputError,
    accuracy,
    auroc,
    average_ranks,
    predictions_accuracy,
)

# few distinct values so that ties are common; both classes present
scores_and_labels = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-4, 4), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)),
    )
)


@settings(max_examples=200, deadline=None)
@given(scores_and_labels, st.booleans())
def test_auroc_matches_sklearn(data, as_float):
    s, y = data
    scores = torch.tensor(s, dtype=torch.float64) / 3 if as_float else torch.tensor(s)
    labels = torch.tensor(y)
    expected = roc_auc_score(np.array(y), scores.numpy())
    assert auroc(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_average_ranks_by_hand():
    # 3 < 5 = 5 < 7: ranks 1, 2.5, 2.5, 4
    ranks = average_ranks(torch.tensor([5.0, 3.0, 7.0, 5.0]))
    torch.testing.assert_close(ranks, torch.tensor([2.5, 1.0, 4.0, 2.5], dtype=torch.float64))


def test_auroc_extremes_and_all_ties():
    y = torch.tensor([0, 0, 1, 1])
    assert auroc(torch.tensor([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert auroc(torch.tensor([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert auroc(torch.zeros(4), y) == 0.5


@settings(max_examples=50, deadline=None)
@given(scores_and_labels, st.floats(-2, 2))
def test_accuracy_matches_sklearn(data, threshold):
    s, y = data
    scores = torch.tensor(s, dtype=torch.float64)
    expected = accuracy_score(np.array(y), scores.numpy() > threshold)
    assert accuracy(scores, torch.tensor(y), threshold) == pytest.approx(expected)
    assert predictions_accuracy(scores > threshold, torch.tensor(y)) == pytest.approx(expected)


def test_bad_input_is_a_user_error():
    with pytest.raises(MetricInputError, match="both|positive"):
        auroc(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]))
