"""load_fashion_mnist: cache -> Debian dir -> download -> DataUnavailableError, plus real files."""

import gzip

import numpy as np
import pytest
import torch
from torchvision.datasets import FashionMNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from arena_core.data import DataUnavailableError, load_fashion_mnist
from arena_core.data import fashion_mnist as fm

REAL = fm.DEBIAN_DIR


@pytest.fixture
def fake_debian(tmp_path, synth, monkeypatch):
    """A synthetic 'Debian package' dir: the order is tested with or without the package."""
    files = synth.gz_files(n_train=25, n_test=15, seed=3)
    monkeypatch.setattr(fm, "DEBIAN_DIR", synth.write_files(tmp_path / "debian", files))
    return files


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "not-installed")


def labels_of(files, split, synth):
    return torch.from_numpy(files[f"{synth.SPLIT_FILES[split][1]}.gz"][1].astype(np.int64))


def test_debian_dir_used_after_cache(fake_debian, synth, isolated_data_env, caplog):
    ds = load_fashion_mnist("train")
    assert torch.equal(ds.labels, labels_of(fake_debian, "train", synth))
    assert "Debian" in ds.source and ds.name == "fashion-mnist"
    assert ds.classes == tuple(FashionMNIST.classes)  # independent: torchvision's class list
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # A copy in the cache wins over the Debian dir.
    cache_files = synth.gz_files(n_train=11, n_test=7, seed=9)
    synth.write_files(isolated_data_env / "fashion-mnist", cache_files)
    ds = load_fashion_mnist("test")
    assert torch.equal(ds.labels, labels_of(cache_files, "test", synth))
    assert str(isolated_data_env / "fashion-mnist") in ds.source


def test_root_beats_debian(fake_debian, tmp_path, synth):
    files = synth.gz_files(n_train=13, n_test=8, seed=4)
    synth.write_files(tmp_path / "mine" / "FashionMNIST" / "raw", files, gz=False)
    ds = load_fashion_mnist("test", root=tmp_path / "mine")
    assert torch.equal(ds.labels, labels_of(files, "test", synth))


def test_unavailable_offline_with_hint(no_debian):
    with pytest.raises(DataUnavailableError, match="make data") as info:
        load_fashion_mnist("train")
    assert "ARENA_OFFLINE=1" in str(info.value) and "\n" not in str(info.value)


def test_download_via_mirror(no_debian, http_server, synth, isolated_data_env, monkeypatch):
    files = synth.gz_files(n_train=10, n_test=10, seed=6)
    for name, (data, _) in files.items():
        http_server.add(f"/fm/{name}", data)
    monkeypatch.setattr(fm, "MIRRORS", [http_server.url("/fm/")])
    monkeypatch.setattr(fm, "RESOURCES", {n: synth.md5(d) for n, (d, _) in files.items()})
    monkeypatch.delenv("ARENA_OFFLINE")
    ds = load_fashion_mnist("train")
    assert torch.equal(ds.labels, labels_of(files, "train", synth))
    assert (isolated_data_env / "fashion-mnist" / "train-images-idx3-ubyte.gz").is_file()
    assert len(http_server.requests) == 2
    load_fashion_mnist("train")
    assert len(http_server.requests) == 2  # cached now
    # A mirror that serves the wrong bytes: DataUnavailableError naming the md5 problem + hint.
    monkeypatch.setitem(fm.RESOURCES, "t10k-labels-idx1-ubyte.gz", "f" * 32)
    with pytest.raises(DataUnavailableError, match="md5 mismatch.*make data"):
        load_fashion_mnist("test")
    assert not (isolated_data_env / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").exists()


@pytest.mark.skipif(
    not (REAL / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed (optional: make data)",
)
def test_real_debian_files(tmp_path):
    """Full Fashion-MNIST from the Debian package: published sizes, balance, torchvision reader."""
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    # Published facts (Xiao et al. 2017): 60,000 / 10,000 images, 6,000 / 1,000 per class.
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    for ds in (train, test):
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        assert ds.images.min() == 0 and ds.images.max() == 1
    # torchvision's reader on decompressed copies, scaled as ToTensor does (x / 255 in float32).
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress((REAL / "t10k-images-idx3-ubyte.gz").read_bytes()))
    raw_labels = tmp_path / "t10k-labels-idx1-ubyte"
    raw_labels.write_bytes(gzip.decompress((REAL / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert torch.equal(test.images[:, 0], read_image_file(str(raw)).float() / 255)
    assert torch.equal(test.labels, read_label_file(str(raw_labels)))
