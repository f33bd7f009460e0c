"""Datasets with an offline default: MNIST, Fashion-MNIST, CIFAR-10, sklearn digits.

    from arena_core.data import load_mnist
    train = load_mnist("train")          # ImageDataset: .images [N,1,28,28] float32 in [0,1]
    run.record_source("data", train.source)

Every loader follows one resolution order (explicit `root=` / `$ARENA_DATA` -> cache
`$ARENA_CACHE` (default `~/.cache/arena`) -> download unless `ARENA_OFFLINE=1` -> the shipped
offline default), records the source it used in `.source`, and logs a fallback in one line
(logger "arena_core.data", WARNING): see `arena_core/data/sources.py`. Datasets that pip can't
install (Fashion-MNIST) are preferred through `load_first_available`, which falls back to a
pip-shipped one and says so (`arena_core/data/fallback.py`).
"""

from arena_core.data.cifar10 import load_cifar10
from arena_core.data.dataset import ImageDataset
from arena_core.data.digits import load_digits
from arena_core.data.download import DownloadError
from arena_core.data.fallback import load_first_available
from arena_core.data.fashion_mnist import load_fashion_mnist
from arena_core.data.mnist import load_mnist
from arena_core.data.sources import DataUnavailableError, cache_dir

__all__ = [
    "DataUnavailableError",
    "DownloadError",
    "ImageDataset",
    "cache_dir",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_first_available",
    "load_mnist",
]
