"""stratified_split: exact sizes, proportional per-class counts, disjoint cover, determinism."""

import numpy as np
import pytest

from arena_core.data.split import stratified_split


@pytest.mark.parametrize(
    "n, n_classes, n_test", [(10, 2, 3), (97, 7, 20), (500, 10, 100), (31, 5, 30)]
)
def test_stratified_split_properties(n, n_classes, n_test):
    rng = np.random.default_rng(n)
    labels = rng.integers(0, n_classes, size=n)
    train, test = stratified_split(labels, n_test, seed=3)
    assert len(test) == n_test and len(train) == n - n_test
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))  # disjoint cover
    counts = np.bincount(labels, minlength=n_classes)
    got = np.bincount(labels[test], minlength=n_classes)
    assert np.all(np.abs(got - n_test * counts / n) < 1)  # within 1 of the exact share
    again = stratified_split(labels, n_test, seed=3)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    assert not np.array_equal(stratified_split(labels, n_test, seed=4)[1], test)


def test_stratified_split_rejects_bad_sizes():
    with pytest.raises(ValueError):
        stratified_split(np.zeros(5, int), 0)
    with pytest.raises(ValueError):
        stratified_split(np.zeros(5, int), 5)
