"""CelebA faces (Liu et al. 2015) for the DCGAN of day 27, when they can be had.

The DCGAN paper trained on 64x64 face crops. `load_celeba(split, limit)` looks for torchvision's
`CelebA` layout under `$ARENA_DATA/celeba` or `$ARENA_CACHE/celeba` (i.e. `.../celeba/celeba/
img_align_celeba/` + the list files), and downloads it there through torchvision (a Google Drive
archive of ~1.4 GB) when downloads are allowed. On this project's offline machine neither works,
and it raises `arena_core.data.DataUnavailableError`, which day 27 reports before falling back to
MNIST/Fashion-MNIST. Images: centre crop 178x178, resize to `image_size`, float32 [N, 3, s, s] in
[0, 1]; there are no class labels (all zeros, classes = ("face",)).
"""

import torch

from arena_core.data import DataUnavailableError, ImageDataset, cache_dir
from arena_core.data.sources import downloads_allowed, user_roots, why_no_download


def load_celeba(
    split: str = "train", limit: int = 20_000, image_size: int = 64, download: bool | None = None
) -> ImageDataset:
    """The first `limit` images of a CelebA split (see module docstring)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.CenterCrop(178), transforms.Resize(image_size), transforms.ToTensor()]
    )
    roots = [*(r / "celeba" for r in user_roots(None)), cache_dir() / "celeba"]
    errors = []
    for attempt, root in enumerate(roots):
        allow = downloads_allowed(download) and attempt == len(roots) - 1
        try:
            data = datasets.CelebA(
                str(root),
                split="valid" if split == "test" else split,
                target_type=[],
                transform=transform,
                download=allow,
            )
        except Exception as err:  # torchvision raises RuntimeError/OSError/gdown errors
            errors.append(f"{root}: {type(err).__name__}: {str(err)[:120]}")
            continue
        n = min(limit, len(data))
        images = torch.stack([data[i][0] for i in range(n)]).float()
        return ImageDataset(
            images=images,
            labels=torch.zeros(n, dtype=torch.long),
            classes=("face",),
            name="celeba",
            split=split,
            source=f"CelebA {split} (first {n} of {len(data)} images, torchvision files in {root})",
        )
    hint = "" if downloads_allowed(download) else f" (no download: {why_no_download(download)})"
    raise DataUnavailableError(f"CelebA not found{hint}; tried " + "; ".join(errors))
