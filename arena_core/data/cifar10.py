"""CIFAR-10 (Krizhevsky, 2009): 50k/10k colour images, 32x32, ten classes. No offline source.

`load_cifar10(split)` resolves, in order:

1. `root=` / `$ARENA_DATA`: an extracted `cifar-10-batches-py/` (torchvision's layout) or the
   `cifar-10-python.tar.gz` archive, in the directory itself or in its `cifar10/`;
2. the cache, `$ARENA_CACHE/cifar10/` (same two forms);
3. a download of the python tarball (`URL`, md5 `MD5` from torchvision's `CIFAR10` class) into
   the cache;
4. otherwise `DataUnavailableError`. No Python or Debian package ships CIFAR-10, so callers that
   must run offline choose a clearly labelled substitute themselves (e.g. Fashion-MNIST).

The batches are Python pickles. Unpickling can run arbitrary code, so `SafeUnpickler` accepts
only the globals that a pickled numpy array needs; anything else raises `pickle.UnpicklingError`.
The tarball is read member by member in memory, never extracted to disk. Images are float32
`[N, 3, 32, 32]` in [0, 1]; labels int64 `[N]`.
"""

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from arena_core.data.dataset import ImageDataset
from arena_core.data.download import DownloadError
from arena_core.data.download import download as fetch
from arena_core.data.idx_files import check_split
from arena_core.data.sources import (
    DataUnavailableError,
    cache_dir,
    candidate_dirs,
    downloads_allowed,
    logger,
    why_no_download,
)

#: torchvision's `CIFAR10.url` and `CIFAR10.tgz_md5`.
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
SUBDIRS = ("cifar10",)


class SafeUnpickler(pickle.Unpickler):
    """Unpickles dicts/lists/str/bytes/ints and numpy arrays; refuses every other global."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # Python 3 protocol-2 pickles store bytes as encode(str, latin1)
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle global {module}.{name}")
        return super().find_class(module, name)


def parse_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch pickle -> uint8 images `[n, 3, 32, 32]`, int64 labels `[n]`."""
    # latin1 decodes the Python-2 byte strings inside numpy arrays unchanged.
    batch = SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise ValueError(f"{name}: not a CIFAR-10 batch (need a dict with 'data' and 'labels')")
    images = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{name}: expected uint8 data [n, 3072], got {images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),) or (
        len(labels) and not 0 <= labels.min() <= labels.max() < 10
    ):
        raise ValueError(f"{name}: labels must be {len(images)} ints in 0..9")
    # Each row is 1024 red, then 1024 green, then 1024 blue values, rows of 32: i.e. C, H, W.
    return images.reshape(-1, 3, 32, 32), labels


def _read_batches(location: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read `split`'s batches from an extracted folder or from the tarball, concatenated."""
    parts = []
    if location.is_dir():
        for b in BATCHES[split]:
            parts.append(parse_batch((location / b).read_bytes(), str(location / b)))
    else:
        try:
            with tarfile.open(location, "r:gz") as tar:
                for b in BATCHES[split]:
                    member = tar.extractfile(f"{FOLDER}/{b}")
                    if member is None:
                        raise ValueError(f"{location}: {FOLDER}/{b} is not a file")
                    parts.append(parse_batch(member.read(), f"{location}:{b}"))
        except (tarfile.TarError, KeyError, EOFError, OSError) as err:
            raise ValueError(f"{location}: unreadable CIFAR-10 archive ({err})") from err
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _find(dirs: list[Path], split: str) -> Path | None:
    for d in dirs:
        if all((d / FOLDER / b).is_file() for b in BATCHES[split]):
            return d / FOLDER
        if (d / ARCHIVE).is_file():
            return d / ARCHIVE
    return None


def load_cifar10(
    split: str = "train", *, root: str | Path | None = None, download: bool | None = None
) -> ImageDataset:
    """CIFAR-10 `split` ("train" or "test"): images float32 `[N, 3, 32, 32]` in [0, 1].

    download: True/False force it on/off; None = allowed unless env `ARENA_OFFLINE=1`.
    Raises `DataUnavailableError` when it is neither on disk nor downloadable.
    """
    check_split(split)
    dirs = candidate_dirs(root, SUBDIRS)
    location = _find(dirs, split)
    if location is None:
        searched = ", ".join(str(d) for d in dirs)
        if not downloads_allowed(download):
            raise DataUnavailableError(
                f"CIFAR-10 not found in [{searched}] and downloads are off "
                f"({why_no_download(download)}); no offline copy exists, use a labelled substitute"
            )
        dest = cache_dir() / SUBDIRS[0] / ARCHIVE
        try:
            location = fetch([URL], dest, md5=MD5, timeout=60.0)
        except DownloadError as err:
            raise DataUnavailableError(f"CIFAR-10 not found in [{searched}] and {err}") from err
        logger.info("downloaded CIFAR-10 into %s", dest.parent)
    images, labels = _read_batches(location, split)
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0)
    source = f"CIFAR-10 ({location})"
    return ImageDataset(x, torch.from_numpy(labels), CLASSES, "cifar10", split, source)
