"""scikit-learn's handwritten digits (UCI "Optical Recognition of Handwritten Digits"): 8x8 images.

1,797 images of digits 0-9, 16 grey levels each, bundled with scikit-learn (always offline). They
are tiny enough that an MLP trains in a second, which makes them the fastest real image dataset for
smoke runs and for checking a from-scratch training loop. `load_digits(split)` divides the pixel
values by 16 (so they lie in [0, 1]) and splits the set deterministically and stratified:
1,437 train / 360 test (each digit in proportion to its count, seed 0).
"""

import numpy as np
import torch

from arena_core.data.dataset import ImageDataset
from arena_core.data.idx_files import check_split
from arena_core.data.split import stratified_split

CLASSES = tuple(str(d) for d in range(10))
N_TEST = 360  # ~20 %, the usual 80/20 split
SEED = 0


def load_digits(split: str = "train") -> ImageDataset:
    """sklearn digits `split` ("train" or "test"): images float32 `[N, 1, 8, 8]` in [0, 1]."""
    check_split(split)
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
    return ImageDataset(images, labels, CLASSES, "digits", split, source)
