"""`ImageDataset`: a labelled image dataset held as two tensors, plus where it came from.

Every image loader in `arena_core.data` returns one. Conventions:

- `images`: float32, shape `[N, C, H, W]` (channels first, as `torch.nn.Conv2d` expects), values in
  [0, 1] (raw uint8 pixel / 255, no normalisation applied). MNIST and Fashion-MNIST are
  `[N, 1, 28, 28]`, sklearn digits `[N, 1, 8, 8]`, CIFAR-10 `[N, 3, 32, 32]`.
- `labels`: int64, shape `[N]`, values in `range(len(classes))`.
- `source`: a one-line description of the source actually used, for `metrics.json`.

`mean` / `std` are the per-channel statistics of *this* dataset's images (shape `[C]`, float32);
compute them on the training split and reuse them for the test split:
`(x - train.mean[:, None, None]) / train.std[:, None, None]`.
"""

from dataclasses import dataclass, replace

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images `[N, C, H, W]` float32 in [0, 1] with int64 labels `[N]` (see module docstring)."""

    images: Float[Tensor, "n c h w"]
    labels: Int[Tensor, " n"]
    classes: tuple[str, ...]
    name: str  # e.g. "mnist", "fashion-mnist"
    split: str  # "train" or "test"
    source: str  # which source was used, e.g. "full MNIST (idx files in ~/.cache/arena/mnist)"

    def __post_init__(self):
        if self.images.dtype != torch.float32:
            raise TypeError(f"images must be float32, got {self.images.dtype}")
        if self.labels.dtype != torch.int64:
            raise TypeError(f"labels must be int64, got {self.labels.dtype}")
        if self.images.ndim != 4 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(
                f"need images [N,C,H,W] and labels [N], got {tuple(self.images.shape)} "
                f"and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, split={self.split!r}, n={len(self)}, "
            f"shape={tuple(self.images.shape[1:])}, source={self.source!r})"
        )

    @property
    def mean(self) -> Float[Tensor, " c"]:
        """Per-channel mean of the pixel values (in [0, 1] units)."""
        return self.images.mean(dim=(0, 2, 3))

    @property
    def std(self) -> Float[Tensor, " c"]:
        """Per-channel standard deviation of the pixel values (population std, in [0, 1] units)."""
        return self.images.std(dim=(0, 2, 3), correction=0)

    def take(self, n: int) -> "ImageDataset":
        """The first `n` examples, chosen class-balanced: round-robin over classes in data order.

        Example k of class c has rank k; we keep the n examples of lowest rank (ties broken by
        position), so every class gets floor(n / n_classes) or one more while it has examples left.
        The kept examples stay in their original order. `n >= len(self)` returns `self`.
        """
        if n < 0:
            raise ValueError(f"take(n) needs n >= 0, got {n}")
        if n >= len(self):
            return self
        labels = self.labels
        order = torch.sort(labels, stable=True).indices  # positions grouped by class, in order
        sorted_labels = labels[order]
        starts = torch.searchsorted(sorted_labels, sorted_labels, right=False)
        rank = torch.empty_like(labels)
        rank[order] = torch.arange(len(labels)) - starts  # rank of each example within its class
        # Sort by (rank, position): rank * N + position is a unique key.
        keep = torch.argsort(rank * len(labels) + torch.arange(len(labels)))[:n]
        keep = torch.sort(keep).values
        return replace(self, images=self.images[keep], labels=labels[keep])

    def loader(
        self, batch_size: int, shuffle: bool, generator: torch.Generator | None = None
    ) -> DataLoader:
        """A `DataLoader` yielding `(images [B,C,H,W] float32, labels [B] int64)` batches.

        Runs in the main process (the tensors are already in memory, so workers would only add
        overhead). Pass a seeded `generator` for a reproducible shuffle order.
        """
        return DataLoader(
            TensorDataset(self.images, self.labels),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
        )
