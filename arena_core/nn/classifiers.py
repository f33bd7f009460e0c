"""The image classifiers of day 12 (an MLP and a small CNN), and how later days reload them.

SimpleMLP: 784 -> 100 -> ReLU -> 10 (79,510 parameters).
ConvNet:   conv3x3(1->32) -> ReLU -> maxpool2 -> conv3x3(32->64) -> ReLU -> maxpool2
           -> flatten (64*7*7 = 3136) -> linear 128 -> ReLU -> linear 10      (421,642 parameters)

Day 12 trains the ConvNet and saves its state dict with `save_classifier`; a later day (27, GAN
evaluation) gets "the project's day-12 classifier" back with `load_day12_classifier(dataset)`,
which looks (in order) at an explicit path, `$ARENA_MODELS`, `~/.cache/arena/models`, and the
latest day-12 run directory, and says how to make one if none exists.
"""

import os
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core import REPO_ROOT
from arena_core.nn.activations import ReLU
from arena_core.nn.conv import Conv2d
from arena_core.nn.linear import Flatten, Linear
from arena_core.nn.pooling import MaxPool2d
from arena_core.nn.sequential import Sequential


class SimpleMLP(nn.Module):
    def __init__(self, in_features: int = 784, hidden: int = 100, n_classes: int = 10):
        super().__init__()
        self.layers = Sequential(
            Flatten(), Linear(in_features, hidden), ReLU(), Linear(hidden, n_classes)
        )

    def forward(self, x: Float[Tensor, "batch ..."]) -> Float[Tensor, "batch n_classes"]:
        return self.layers(x)


class ConvNet(nn.Module):
    def __init__(self, in_channels: int = 1, n_classes: int = 10, image_size: int = 28):
        super().__init__()
        self.config = {"in_channels": in_channels, "n_classes": n_classes, "image_size": image_size}
        side = image_size // 4  # two 2x2 max pools
        self.layers = Sequential(
            Conv2d(in_channels, 32, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Conv2d(32, 64, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Linear(64 * side * side, 128),
            ReLU(),
            Linear(128, n_classes),
        )

    def forward(
        self, x: Float[Tensor, "batch channels height width"]
    ) -> Float[Tensor, "batch n_classes"]:
        return self.layers(x)


def models_dir() -> Path:
    """Where project-trained checkpoints are cached: $ARENA_MODELS or ~/.cache/arena/models."""
    root = os.environ.get("ARENA_MODELS")
    return Path(root) if root else Path.home() / ".cache" / "arena" / "models"


def day12_checkpoint_name(dataset: str) -> str:
    return f"day_012_{dataset}_cnn.pt"


def save_classifier(model: ConvNet, path: str | Path, meta: dict[str, Any]) -> Path:
    """Save the state dict, the builder's arguments and `meta` (data source, accuracy)."""
    from arena_core.utils import save_checkpoint

    return save_checkpoint(
        {"state_dict": model.state_dict(), "config": model.config, "meta": meta}, path
    )


def load_day12_classifier(
    dataset: str = "mnist", path: str | Path | None = None
) -> tuple[ConvNet, dict[str, Any]]:
    """The ConvNet day 12 trained on `dataset` ("mnist" or "fashion_mnist"), in eval mode,
    with its metadata (data source and test accuracy)."""
    name = day12_checkpoint_name(dataset)
    candidates = (
        [Path(path)]
        if path is not None
        else [models_dir() / name, REPO_ROOT / "runs" / "day_012" / name]
    )
    for candidate in candidates:
        if candidate.exists():
            state = torch.load(candidate, map_location="cpu", weights_only=False)
            model = ConvNet(**state["config"])
            model.load_state_dict(state["state_dict"])
            return model.eval(), state["meta"]
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"no day-12 {dataset} classifier found (tried {tried}); run `arena run 12` to train one"
    )
