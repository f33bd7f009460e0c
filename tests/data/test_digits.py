"""load_digits vs sklearn.datasets.load_digits directly: same images, stratified, disjoint."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sklearn_digits

from arena_core.data import load_digits


def test_digits_partition_sklearn():
    bunch = sklearn_digits()
    ref_counts = np.bincount(bunch.target)
    train, test = load_digits("train"), load_digits("test")
    assert len(train) + len(test) == len(bunch.images) == 1797
    for ds in (train, test):
        assert ds.images.shape[1:] == (1, 8, 8)
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        assert ds.images.min() >= 0 and ds.images.max() <= 1
        assert ds.classes == tuple(str(d) for d in range(10))
    # Stratified: 360 test images, each digit's count within 1 of its proportional share.
    assert (len(train), len(test)) == (1437, 360)
    test_counts = torch.bincount(test.labels, minlength=10).numpy()
    assert np.all(np.abs(test_counts - 360 * ref_counts / 1797) < 1)
    # Together the splits are exactly sklearn's (image, label) pairs; pixels are 0..16 integers.
    ours = torch.cat([train.images, test.images]).reshape(-1, 64).double() * 16
    assert torch.equal(ours, ours.round())
    labels = torch.cat([train.labels, test.labels]).numpy()
    key = lambda x, y: sorted(zip(map(bytes, x.astype(np.uint8)), y.tolist()))
    assert key(ours.numpy(), labels) == key(bunch.data, bunch.target)


def test_digits_deterministic_and_bad_split():
    assert torch.equal(load_digits("test").labels, load_digits("test").labels)
    with pytest.raises(ValueError):
        load_digits("val")
