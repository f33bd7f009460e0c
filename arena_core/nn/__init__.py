"""Neural-network building blocks written from scratch (days 11-14; reused by days 25-28).

Each file holds one concept: `strided` (as_strided windows and their adjoint), `conv`, `pooling`,
`batchnorm`, `linear`, `activations`, `sequential`, `resnet`, `weights` (torchvision -> ours),
`classifiers` (day 12's MLP/CNN and their checkpoints) and `training` (a resumable loop).
Modules subclass `torch.nn.Module` for parameter bookkeeping, but the forward/backward math is
ours: no `torch.nn.functional` convolutions, pools, norms or linears inside.
"""

from arena_core.nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh, sigmoid, tanh
from arena_core.nn.batchnorm import BatchNorm2d
from arena_core.nn.classifiers import ConvNet, SimpleMLP, load_day12_classifier, save_classifier
from arena_core.nn.conv import Conv2d, conv2d
from arena_core.nn.conv_transpose import ConvTranspose2d, conv_transpose2d
from arena_core.nn.linear import Flatten, Linear
from arena_core.nn.pooling import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    GlobalAvgPool,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool2d,
)
from arena_core.nn.resnet import (
    RESNET18,
    RESNET34,
    BlockGroup,
    ResidualBlock,
    ResNet,
    ResNetConfig,
    resnet34,
    small_resnet,
)
from arena_core.nn.sequential import Identity, Sequential
from arena_core.nn.training import evaluate, train_classifier, train_step
from arena_core.nn.weights import WeightMappingError, load_torchvision_weights

__all__ = [
    "sigmoid",
    "tanh",
    "conv_transpose2d",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "ConvTranspose2d",
    "RESNET18",
    "RESNET34",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm2d",
    "BlockGroup",
    "Conv2d",
    "ConvNet",
    "Flatten",
    "GlobalAvgPool",
    "Identity",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "ResNet",
    "ResNetConfig",
    "ResidualBlock",
    "Sequential",
    "SimpleMLP",
    "WeightMappingError",
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "conv2d",
    "evaluate",
    "load_day12_classifier",
    "load_torchvision_weights",
    "max_pool2d",
    "resnet34",
    "save_classifier",
    "small_resnet",
    "train_classifier",
    "train_step",
]
