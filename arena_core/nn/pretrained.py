"""ImageNet-pretrained ResNet34 when torchvision's weights are cached, plus sample images.

Nothing here downloads: `cached_resnet34_weights()` only looks in torch hub's checkpoint cache
(`torch.hub.get_dir()/checkpoints`), where `torchvision.models.resnet34(weights=...)` leaves the
file after a first online run. Sample photos come from scikit-learn's bundled images (a Chinese
temple and a flower), preprocessed the way torchvision's ImageNet weights expect. Day 13.
"""

from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

RESNET34_FILE = "resnet34-b627a593.pth"  # torchvision's ResNet34_Weights.IMAGENET1K_V1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def cached_resnet34_weights() -> Path | None:
    """Path of torchvision's ImageNet ResNet34 state dict in the hub cache, or None."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / RESNET34_FILE
    return path if path.exists() else None


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet class names (shipped inside torchvision's code, no download)."""
    from torchvision.models import ResNet34_Weights

    return list(ResNet34_Weights.IMAGENET1K_V1.meta["categories"])


def sample_images(size: int = 224) -> tuple[Float[Tensor, "n 3 size size"], list[str]]:
    """scikit-learn's two bundled photos, resized/cropped to `size` and ImageNet-normalised."""
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    images = []
    for array in bunch.images:
        x = torch.tensor(array, dtype=torch.float32).permute(2, 0, 1)[None] / 255.0
        h, w = x.shape[2:]
        scale = 256 / min(h, w)  # resize the short side to 256, then centre-crop `size`
        x = torch.nn.functional.interpolate(
            x, size=(round(h * scale), round(w * scale)), mode="bilinear", antialias=True
        )
        top = (x.shape[2] - size) // 2
        left = (x.shape[3] - size) // 2
        images.append(x[0, :, top : top + size, left : left + size])
    batch = torch.stack(images)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    names = [Path(f).stem for f in bunch.filenames]
    return (batch - mean) / std, names
