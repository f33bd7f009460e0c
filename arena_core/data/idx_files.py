"""The four-file IDX layout shared by MNIST and Fashion-MNIST: find, download, read one split.

Both datasets ship as `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`. A directory counts as
holding a split when both of its files are there, gzip-compressed (`.gz`) or raw (as torchvision
leaves them in `MNIST/raw/`).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from arena_core.data.download import download
from arena_core.data.idx import IdxFormatError, read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def check_split(split: str) -> None:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _file_in(directory: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):  # raw first: no gunzip needed
        if (directory / name).is_file():
            return directory / name
    return None


def find_split(dirs: Sequence[Path], split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of `split` in the first directory of `dirs` holding both."""
    for directory in dirs:
        images, labels = (_file_in(directory, stem) for stem in SPLIT_FILES[split])
        if images is not None and labels is not None:
            return images, labels
    return None


def download_split(
    split: str, mirrors: Sequence[str], md5s: Mapping[str, str], dest_dir: Path
) -> tuple[Path, Path]:
    """Download the two `.gz` files of `split` into `dest_dir`, trying `mirrors` in order.

    `md5s` maps each `.gz` file name to its md5. Files already there are not fetched again.
    """
    paths = []
    for stem in SPLIT_FILES[split]:
        name = f"{stem}.gz"
        dest = dest_dir / name
        if not dest.is_file():
            download([m.rstrip("/") + "/" + name for m in mirrors], dest, md5=md5s[name])
        paths.append(dest)
    return paths[0], paths[1]


def read_split(
    images_path: Path, labels_path: Path, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images float32 `[N, 1, H, W]` in [0, 1] (pixel / 255) and labels int64 `[N]`.

    Checks what the IDX header cannot: uint8 images with 3 dims, uint8 labels with 1 dim, matching
    counts, labels in `range(n_classes)`. Raises `IdxFormatError` naming the file otherwise.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IdxFormatError(
            f"{images_path}: expected uint8 images [N, H, W], got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IdxFormatError(
            f"{labels_path}: expected uint8 labels [N], got {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
        )
    if len(labels) and labels.max() >= n_classes:
        raise IdxFormatError(f"{labels_path}: label {labels.max()} >= {n_classes} classes")
    # One vectorised conversion (a copy, so the tensor is writable); x / 255 exactly as
    # torchvision's ToTensor does it, so values match a torchvision pipeline bit for bit.
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y
