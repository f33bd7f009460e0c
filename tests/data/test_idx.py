"""IDX parser: against the format spec (struct-built bytes), torchvision's reader, and bad files."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets.mnist import (
    read_image_file,
    read_label_file,
    read_sn3_pascalvincent_tensor,
)

from arena_core.data.fashion_mnist import DEBIAN_DIR
from arena_core.data.idx import IdxFormatError, parse_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (1, 1, 1, 2)])
def test_parse_matches_spec_bytes(synth, dtype, shape):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    got = parse_idx(synth.idx_bytes(array))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == shape
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_write_idx_readable_by_torchvision(tmp_path, dtype):
    # torchvision's reader supports 1-3 dims; it flips byte order itself for multi-byte types.
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    path = write_idx(array, tmp_path / "x-idx3")
    ref = read_sn3_pascalvincent_tensor(str(path))
    np.testing.assert_array_equal(ref.numpy(), array)


def test_gzip_detected_by_content_not_name(tmp_path, synth):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(gzip.compress(synth.idx_bytes(array)))  # gz, no .gz name
    (tmp_path / "b.gz").write_bytes(synth.idx_bytes(array))  # raw, named .gz
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), array)


def test_empty_first_dim_is_valid(synth):
    assert parse_idx(synth.idx_bytes(np.zeros((0, 28, 28), np.uint8))).shape == (0, 28, 28)


@pytest.mark.parametrize(
    "data, match",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated header"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(5), "payload truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3), "trailing bytes"),
        (b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + bytes(3), "payload truncated"),
    ],
)
def test_bad_bytes_raise_clear_error(data, match):
    with pytest.raises(IdxFormatError, match=match) as info:
        parse_idx(data, name="some-file")
    assert isinstance(info.value, ValueError)
    assert "some-file" in str(info.value)


def test_truncated_and_corrupt_gzip_name_the_file(tmp_path, synth):
    gz = gzip.compress(synth.idx_bytes(np.ones((50, 28, 28), np.uint8)))
    cut = tmp_path / "cut-idx3-ubyte.gz"
    cut.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(IdxFormatError, match="cut-idx3-ubyte.gz.*gzip"):
        read_idx(cut)
    bad = tmp_path / "bad-idx3-ubyte.gz"
    bad.write_bytes(gz[:10] + bytes(len(gz) - 10))  # valid gzip magic, garbage body
    with pytest.raises(IdxFormatError, match="bad-idx3-ubyte.gz"):
        read_idx(bad)


@pytest.mark.skipif(
    not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed (optional: make data)",
)
def test_real_fashion_mnist_test_files_match_torchvision(tmp_path):
    """Our parser on the real files == torchvision's reader on decompressed copies, exactly."""
    for stem, reader in (
        ("t10k-images-idx3-ubyte", read_image_file),
        ("t10k-labels-idx1-ubyte", read_label_file),
    ):
        raw = tmp_path / stem
        raw.write_bytes(gzip.decompress(Path(DEBIAN_DIR / f"{stem}.gz").read_bytes()))
        ours = torch.from_numpy(read_idx(DEBIAN_DIR / f"{stem}.gz").astype(np.int64))
        ref = reader(str(raw)).long()
        assert ours.shape == ref.shape
        assert torch.equal(ours, ref)
