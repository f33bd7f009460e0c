"""load_first_available: the preferred dataset when present, else a pip-shipped one, said once."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits as sklearn_digits

from arena_core.data import DataUnavailableError, load_first_available
from arena_core.data import fashion_mnist as fm
from arena_core.data.digits import load_digits

PREFERRED = ("fashion_mnist", "digits28")


@pytest.fixture
def fake_debian(tmp_path, synth, monkeypatch):
    files = synth.gz_files(n_train=25, n_test=15, seed=3)
    monkeypatch.setattr(fm, "DEBIAN_DIR", synth.write_files(tmp_path / "debian", files))
    return files


def warnings_of(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_preferred_source_is_used_when_present(fake_debian, monkeypatch, caplog):
    monkeypatch.delenv("ARENA_NO_SYSTEM_DATA", raising=False)
    caplog.set_level(logging.INFO, logger="arena_core.data")
    ds = load_first_available(PREFERRED, "train")
    assert ds.name == "fashion-mnist" and len(ds) == 25 and "fallback" not in ds.source
    assert not warnings_of(caplog)


def test_hidden_system_data_falls_back_in_one_line(fake_debian, monkeypatch, caplog):
    """ARENA_NO_SYSTEM_DATA=1 hides the Debian files: the pip-shipped digits stand in."""
    monkeypatch.setenv("ARENA_NO_SYSTEM_DATA", "1")
    caplog.set_level(logging.INFO, logger="arena_core.data")
    ds = load_first_available(PREFERRED, "test")
    (line,) = warnings_of(caplog)
    assert "Fashion-MNIST unavailable" in line.getMessage() and "\n" not in line.getMessage()
    assert ds.source.startswith("fallback for Fashion-MNIST: sklearn.datasets.load_digits")
    assert ds.images.shape == (360, 1, 28, 28) and ds.images.dtype == torch.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    # Labels are sklearn's own, in the split's order: the same multiset as a fresh sklearn load.
    counts = np.bincount(sklearn_digits().target, minlength=10)
    assert (torch.bincount(ds.labels, minlength=10).numpy() <= counts).all()
    assert torch.equal(ds.labels, load_digits("test").labels)


def test_missing_debian_package_falls_back(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "not-installed")
    ds = load_first_available(PREFERRED, "train")
    assert ds.name == "digits" and len(warnings_of(caplog)) == 1


def test_resized_digits_match_pillow_bilinear():
    """28x28 digits are the 8x8 ones resized as Pillow's bilinear filter does (independent)."""
    small, big = load_digits("train"), load_digits("train", size=28)
    assert torch.equal(small.labels, big.labels)
    assert small.images.shape[1:] == (1, 8, 8) and big.images.shape[1:] == (1, 28, 28)
    for k in range(0, len(small), 97):
        pixels = small.images[k, 0].numpy()
        ref = np.asarray(Image.fromarray(pixels, mode="F").resize((28, 28), Image.BILINEAR))
        np.testing.assert_allclose(big.images[k, 0].numpy(), ref, atol=1e-5)
    with pytest.raises(ValueError, match="size"):
        load_digits("train", size=0)


def test_nothing_available_names_every_attempt(monkeypatch, tmp_path):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "not-installed")
    with pytest.raises(DataUnavailableError, match="Fashion-MNIST.*make data"):
        load_first_available(("fashion_mnist",), "train")


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_first_available(("cifar100",), "train")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_first_available((), "train")
