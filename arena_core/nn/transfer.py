"""Transfer learning helpers: grey 28x28 -> RGB 32x32, frozen-feature extraction, new heads.

Two ways to reuse a trained network on a new task (day 14):

- feature extraction (a "linear probe"): freeze the backbone, compute its pooled features once,
  and train only a new linear head on them;
- fine-tuning: replace the head and keep training every parameter, usually with a smaller
  learning rate, starting from the pretrained weights.

Both are compared with training the same architecture from scratch.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from arena_core.nn.linear import Linear
from arena_core.nn.resnet import ResNet


def as_rgb32(images: Float[Tensor, "n 1 28 28"]) -> Float[Tensor, "n 3 32 32"]:
    """Zero-pad 28x28 greyscale images by 2 pixels and repeat them into 3 channels (CIFAR shape)."""
    return F.pad(images, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()


@torch.no_grad()
def extract_features(
    model: ResNet, images: Float[Tensor, "n c h w"], batch_size: int = 500
) -> Float[Tensor, "n features"]:
    """The backbone's pooled features (eval mode: BN uses its running statistics)."""
    was_training = model.training
    model.eval()
    feats = torch.cat(
        [model.features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    )
    model.train(was_training)
    return feats


def replace_head(model: ResNet, n_classes: int) -> ResNet:
    """Give `model` a freshly initialised linear head with `n_classes` outputs (in place)."""
    model.out_layers._modules["2"] = Linear(model.n_features, n_classes)
    return model
