"""scikit-learn's handwritten digits (UCI "Optical Recognition of Handwritten Digits"): 8x8 images.

1,797 images of digits 0-9, 16 grey levels each, bundled with scikit-learn (always offline). They
are tiny enough that an MLP trains in a second, which makes them the fastest real image dataset for
smoke runs and for checking a from-scratch training loop. `load_digits(split)` divides the pixel
values by 16 (so they lie in [0, 1]) and splits the set deterministically and stratified:
1,437 train / 360 test (each digit in proportion to its count, seed 0). `size=28` resizes them
(bilinear) for networks built for MNIST-sized inputs: the pip-shipped stand-in when Fashion-MNIST
is not installed (`arena_core.data.fallback`).
"""

import numpy as np
import torch

from arena_core.data.dataset import ImageDataset
from arena_core.data.idx_files import check_split
from arena_core.data.split import stratified_split

CLASSES = tuple(str(d) for d in range(10))
N_TEST = 360  # ~20 %, the usual 80/20 split
SEED = 0


def load_digits(split: str = "train", size: int = 8) -> ImageDataset:
    """sklearn digits `split` ("train" or "test"): images float32 `[N, 1, size, size]` in [0, 1]."""
    check_split(split)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    from sklearn.datasets import load_digits as sklearn_load_digits  # import only when used

    bunch = sklearn_load_digits()
    y = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_split(y, N_TEST, seed=SEED)
    idx = train_idx if split == "train" else test_idx
    # Pixel values are integers 0..16 (counts of set bits in 4x4 blocks): /16 maps them to [0, 1].
    images = torch.from_numpy(bunch.images[idx].astype(np.float32) / 16.0).unsqueeze(1)
    labels = torch.from_numpy(y[idx])
    source = (
        f"sklearn.datasets.load_digits (1,797 8x8 images, bundled), stratified split "
        f"{len(train_idx):,} train / {len(test_idx):,} test (seed {SEED}): {split} split"
    )
    if size != 8:
        # Bilinear keeps the values in [0, 1] (a convex combination of neighbours).
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
        source += f", resized to {size}x{size} (bilinear)"
    return ImageDataset(images, labels, CLASSES, "digits", split, source)
