"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017, arXiv:1708.07747): 60k/10k 28x28 clothing images.

A drop-in replacement for MNIST with the same file format and sizes, but harder (a linear model
reaches ~84 %, not ~92 %). `load_fashion_mnist(split)` resolves, in order:

1. `root=` / `$ARENA_DATA` (the directory itself, `fashion-mnist/` or torchvision's
   `FashionMNIST/raw/` in it);
2. the cache, `$ARENA_CACHE/fashion-mnist/` (default `~/.cache/arena/fashion-mnist/`);
3. the Debian package `dataset-fashion-mnist` (`DEBIAN_DIR`, a full copy of the four `.gz` files;
   `make data` installs it; ignored when env `ARENA_NO_SYSTEM_DATA=1`);
4. a download into the cache from `MIRRORS` (md5-checked);
5. otherwise `DataUnavailableError` (hint: `make data`). Nothing pip installs ships Fashion-MNIST,
   so days that prefer it fall back to a pip-shipped dataset through
   `arena_core.data.fallback.load_first_available`.

Images are float32 `[N, 1, 28, 28]` in [0, 1]; labels int64 `[N]` in 0..9 (see `CLASSES`).
"""

from pathlib import Path

from arena_core.data.dataset import ImageDataset
from arena_core.data.download import DownloadError
from arena_core.data.idx_files import check_split, download_split, find_split, read_split
from arena_core.data.sources import (
    DataUnavailableError,
    cache_dir,
    candidate_dirs,
    downloads_allowed,
    logger,
    system_data_hidden,
    why_no_download,
)

#: Where Debian's `dataset-fashion-mnist` package puts the files (gzip idx, re-compressed, so
#: their md5s differ from the upstream ones; the idx parser validates them instead).
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: torchvision's `FashionMNIST.mirrors` (Zalando's S3 bucket).
MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
#: File name -> md5 of the gzip file, as listed in torchvision's `FashionMNIST.resources`.
RESOURCES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
SUBDIRS = ("fashion-mnist", "FashionMNIST/raw")  # first one is the cache layout
HINT = "`make data` installs it (Debian package dataset-fashion-mnist)"


def load_fashion_mnist(
    split: str = "train",
    *,
    root: str | Path | None = None,
    download: bool | None = None,
) -> ImageDataset:
    """Fashion-MNIST `split` ("train" or "test"): `[N, 1, 28, 28]` float32 in [0, 1].

    download: True/False force it on/off; None = allowed unless env `ARENA_OFFLINE=1`.
    Raises `DataUnavailableError` when no source has the files.
    """
    check_split(split)
    dirs = candidate_dirs(root, SUBDIRS)
    found = find_split(dirs, split)
    if found is not None:
        return _load(split, *found, f"full Fashion-MNIST (idx files in {found[0].parent})")
    system_dirs = [] if system_data_hidden() else [DEBIAN_DIR]
    found = find_split(system_dirs, split)
    if found is not None:
        logger.info("Fashion-MNIST %s from the Debian package in %s", split, DEBIAN_DIR)
        source = f"full Fashion-MNIST (Debian package dataset-fashion-mnist, {DEBIAN_DIR})"
        return _load(split, *found, source)
    searched = ", ".join(str(d) for d in [*dirs, *system_dirs])
    if not downloads_allowed(download):
        raise DataUnavailableError(
            f"Fashion-MNIST not found in [{searched}] and downloads are off "
            f"({why_no_download(download)}); {HINT}"
        )
    try:
        paths = download_split(split, MIRRORS, RESOURCES, cache_dir() / SUBDIRS[0])
    except DownloadError as err:
        raise DataUnavailableError(
            f"Fashion-MNIST not found in [{searched}] and {err}; {HINT}"
        ) from err
    logger.info("downloaded Fashion-MNIST %s into %s", split, paths[0].parent)
    return _load(split, *paths, f"full Fashion-MNIST (downloaded into {paths[0].parent})")


def _load(split: str, images_path: Path, labels_path: Path, source: str) -> ImageDataset:
    images, labels = read_split(images_path, labels_path, n_classes=len(CLASSES))
    return ImageDataset(images, labels, CLASSES, "fashion-mnist", split, source)
