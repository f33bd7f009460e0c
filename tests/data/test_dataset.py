"""ImageDataset: validation, take() class balance, loader(), mean/std vs numpy float64."""

import numpy as np
import pytest
import torch

from arena_core.data import ImageDataset


def make(n=50, c=1, hw=5, n_classes=4, seed=0, labels=None):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, c, hw, hw, generator=g)
    if labels is None:
        labels = torch.randint(0, n_classes, (n,), generator=g)
    return ImageDataset(images, labels, tuple("abcd")[:n_classes], "toy", "train", "synthetic")


def reference_take(labels: list[int], n: int) -> list[int]:
    """Round-robin by rank within class, as a plain loop (independent of the tensor code)."""
    rank, seen = [], {}
    for y in labels:
        rank.append(seen.get(y, 0))
        seen[y] = rank[-1] + 1
    order = sorted(range(len(labels)), key=lambda i: (rank[i], i))
    return sorted(order[:n])


@pytest.mark.parametrize("n", [0, 1, 3, 7, 10, 33, 49])
def test_take_is_balanced_prefix(n):
    labels = torch.tensor([0] * 30 + [1] * 3 + [2] * 12 + [3] * 5)[torch.randperm(50)]
    ds = make(labels=labels)
    sub = ds.take(n)
    keep = reference_take(labels.tolist(), n)
    assert torch.equal(sub.labels, labels[keep])
    assert torch.equal(sub.images, ds.images[keep])
    counts = torch.bincount(sub.labels, minlength=4)
    available = torch.bincount(labels, minlength=4)
    # Balanced: a class below the max count only when it ran out of examples.
    assert all(counts[c] >= counts.max() - 1 or counts[c] == available[c] for c in range(4))
    assert sub.source == ds.source and sub.classes == ds.classes


def test_take_whole_and_negative():
    ds = make()
    assert ds.take(50) is ds and ds.take(1000) is ds
    with pytest.raises(ValueError):
        ds.take(-1)


def test_loader_batches_and_reproducible_shuffle():
    ds = make(n=23)
    batches = list(ds.loader(batch_size=5, shuffle=False))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    assert torch.equal(torch.cat([x for x, _ in batches]), ds.images)
    a = [y for _, y in ds.loader(4, True, generator=torch.Generator().manual_seed(1))]
    b = [y for _, y in ds.loader(4, True, generator=torch.Generator().manual_seed(1))]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert sorted(torch.cat(a).tolist()) == sorted(ds.labels.tolist())


def test_mean_std_match_numpy_float64():
    ds = make(n=17, c=3, hw=4)
    ref = ds.images.double().numpy()
    # float32 reductions over 17*16 values: relative error ~1e-6; 1e-5 leaves headroom.
    np.testing.assert_allclose(ds.mean.numpy(), ref.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(ds.std.numpy(), ref.std(axis=(0, 2, 3)), rtol=1e-5)
    assert ds.mean.shape == (3,)


def test_validation():
    x, y = torch.rand(4, 1, 2, 2), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(Exception, match="float32|dtype|Float"):
        ImageDataset(x.double(), y, ("a",), "t", "train", "s")
    with pytest.raises(Exception, match="int64|dtype|Int"):
        ImageDataset(x, y.int(), ("a",), "t", "train", "s")
    with pytest.raises(Exception):
        ImageDataset(x, y[:3], ("a",), "t", "train", "s")
    ds = ImageDataset(x, y, ("a",), "t", "train", "s")
    with pytest.raises(AttributeError):
        ds.name = "other"  # frozen
    assert len(ds) == 4 and "n=4" in repr(ds)
