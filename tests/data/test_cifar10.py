"""load_cifar10 on a synthetic tarball: download, cache, layout vs torchvision, safe unpickling."""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch
from torchvision.datasets import CIFAR10

from arena_core.data import DataUnavailableError, load_cifar10
from arena_core.data import cifar10 as cifar_module

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def batch_pickle(n: int, seed: int) -> bytes:
    """A batch in the original format: dict with uint8 data [n, 3072] and a list of labels.

    Pickled like the Python-2 originals (protocol 2, `numpy.core.multiarray` path).
    """
    rng = np.random.default_rng(seed)
    batch = {
        "batch_label": f"synthetic batch {seed}",
        "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        "labels": rng.integers(0, 10, size=n).tolist(),
    }
    return pickle.dumps(batch, protocol=2).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )


@pytest.fixture
def tarball(tmp_path):
    members = {name: batch_pickle(3 + i, seed=i) for i, name in enumerate(BATCHES)}
    members["batches.meta"] = pickle.dumps({"label_names": list(cifar_module.CLASSES)}, protocol=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), members


def torchvision_reference(tmp_path, members, monkeypatch, train: bool):
    """torchvision's CIFAR10 on an extracted copy (its md5 table pointed at our synthetic files)."""
    folder = tmp_path / "tv" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in members.items()}
    monkeypatch.setattr(CIFAR10, "train_list", [[b, md5[b]] for b in BATCHES[:5]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})
    return CIFAR10(str(tmp_path / "tv"), train=train, download=False)


def test_download_then_cache_matches_torchvision(
    tarball, http_server, tmp_path, isolated_data_env, monkeypatch
):
    data, members = tarball
    http_server.add("/cifar.tgz", data)
    monkeypatch.setattr(cifar_module, "URL", http_server.url("/cifar.tgz"))
    monkeypatch.setattr(cifar_module, "MD5", hashlib.md5(data).hexdigest())
    monkeypatch.delenv("ARENA_OFFLINE")
    for split in ("train", "test"):
        ds = load_cifar10(split)
        ref = torchvision_reference(tmp_path / split, members, monkeypatch, train=split == "train")
        assert ds.images.shape == (len(ref.data), 3, 32, 32)
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        # torchvision keeps HWC uint8; ours is CHW float x / 255.
        expected = torch.from_numpy(ref.data).permute(0, 3, 1, 2).float() / 255
        assert torch.equal(ds.images, expected)
        assert ds.labels.tolist() == ref.targets
        assert ds.classes == tuple(ref.classes)
    assert http_server.requests == ["/cifar.tgz"]  # the second split came from the cache
    assert len(load_cifar10("train")) == 3 + 4 + 5 + 6 + 7
    assert [p.name for p in (isolated_data_env / "cifar10").iterdir()] == [cifar_module.ARCHIVE]


def test_extracted_folder_in_root(tarball, tmp_path):
    _, members = tarball
    folder = tmp_path / "root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, data in members.items():
        (folder / name).write_bytes(data)
    ds = load_cifar10("test", root=tmp_path / "root")
    assert len(ds) == 8 and str(folder) in ds.source


def test_offline_unavailable():
    with pytest.raises(DataUnavailableError, match="CIFAR-10 not found.*ARENA_OFFLINE=1"):
        load_cifar10("train")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_pickle_is_refused():
    payload = pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        cifar_module.parse_batch(payload, "evil")


def test_wrong_shapes_rejected():
    bad = pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, protocol=2)
    with pytest.raises(ValueError, match="3072"):
        cifar_module.parse_batch(bad, "bad")
    bad = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, protocol=2)
    with pytest.raises(ValueError, match="0..9"):
        cifar_module.parse_batch(bad, "bad")
