"""Residual networks (He et al. 2015, https://arxiv.org/abs/1512.03385) built from our own layers.

A residual block computes relu(left(x) + right(x)):

    left  = conv3x3(stride s) -> BN -> ReLU -> conv3x3 -> BN       (the learned residual)
    right = identity, or conv1x1(stride s) -> BN when the shape changes   (the "downsample")

A block group stacks blocks of one width (only the first may stride or change width); a ResNet is
a stem, block groups, global average pooling and a linear head. ResNet34 is groups of
(3, 4, 6, 3) blocks with widths (64, 128, 256, 512) after an ImageNet stem (7x7 stride-2 conv,
BN, ReLU, 3x3 stride-2 max pool): 21,797,672 parameters.

`ResNetConfig` also describes the small CPU-sized ResNets of days 14 (e.g. a 3x3 stem and
(1, 1, 1) blocks of widths (16, 32, 64) on 3x32x32 images). Days 13-14.
"""

from dataclasses import dataclass
from typing import Literal

from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn.activations import ReLU
from arena_core.nn.batchnorm import BatchNorm2d
from arena_core.nn.conv import Conv2d
from arena_core.nn.linear import Flatten, Linear
from arena_core.nn.pooling import AdaptiveAvgPool2d, MaxPool2d
from arena_core.nn.sequential import Identity, Sequential


class ResidualBlock(nn.Module):
    def __init__(self, in_feats: int, out_feats: int, first_stride: int = 1):
        super().__init__()
        self.left = Sequential(
            Conv2d(in_feats, out_feats, 3, stride=first_stride, padding=1, bias=False),
            BatchNorm2d(out_feats),
            ReLU(),
            Conv2d(out_feats, out_feats, 3, stride=1, padding=1, bias=False),
            BatchNorm2d(out_feats),
        )
        if first_stride == 1 and in_feats == out_feats:
            self.right = Identity()
        else:  # match the residual's shape: 1x1 conv with the same stride, then BN
            self.right = Sequential(
                Conv2d(in_feats, out_feats, 1, stride=first_stride, bias=False),
                BatchNorm2d(out_feats),
            )
        self.relu = ReLU()

    def forward(
        self, x: Float[Tensor, "batch in_feats height width"]
    ) -> Float[Tensor, "batch out_feats out_h out_w"]:
        return self.relu(self.left(x) + self.right(x))


class BlockGroup(nn.Module):
    """`n_blocks` residual blocks; the first maps in_feats -> out_feats with `first_stride`."""

    def __init__(self, n_blocks: int, in_feats: int, out_feats: int, first_stride: int = 1):
        super().__init__()
        self.blocks = Sequential(
            ResidualBlock(in_feats, out_feats, first_stride),
            *[ResidualBlock(out_feats, out_feats) for _ in range(n_blocks - 1)],
        )

    def forward(
        self, x: Float[Tensor, "batch in_feats height width"]
    ) -> Float[Tensor, "batch out_feats out_h out_w"]:
        return self.blocks(x)


@dataclass(frozen=True)
class ResNetConfig:
    in_channels: int = 3
    n_classes: int = 1000
    stem: Literal["imagenet", "small"] = "imagenet"  # 7x7/2 conv + 3x3/2 max pool, or 3x3/1 conv
    stem_channels: int = 64
    n_blocks_per_group: tuple[int, ...] = (3, 4, 6, 3)
    out_features_per_group: tuple[int, ...] = (64, 128, 256, 512)
    first_strides_per_group: tuple[int, ...] = (1, 2, 2, 2)

    def __post_init__(self):
        lengths = {
            len(self.n_blocks_per_group),
            len(self.out_features_per_group),
            len(self.first_strides_per_group),
        }
        if len(lengths) != 1:
            raise ValueError("blocks, widths and strides per group must have the same length")


RESNET34 = ResNetConfig()
RESNET18 = ResNetConfig(n_blocks_per_group=(2, 2, 2, 2))


class ResNet(nn.Module):
    """Stem -> block groups -> global average pool -> linear head."""

    def __init__(self, config: ResNetConfig = RESNET34):
        super().__init__()
        self.config = config
        c = config.stem_channels
        if config.stem == "imagenet":
            self.in_layers = Sequential(
                Conv2d(config.in_channels, c, 7, stride=2, padding=3, bias=False),
                BatchNorm2d(c),
                ReLU(),
                MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        else:
            self.in_layers = Sequential(
                Conv2d(config.in_channels, c, 3, stride=1, padding=1, bias=False),
                BatchNorm2d(c),
                ReLU(),
            )
        widths = [c, *config.out_features_per_group]
        self.residual_layers = Sequential(
            *[
                BlockGroup(n, widths[i], widths[i + 1], stride)
                for i, (n, stride) in enumerate(
                    zip(config.n_blocks_per_group, config.first_strides_per_group, strict=True)
                )
            ]
        )
        self.out_layers = Sequential(
            AdaptiveAvgPool2d((1, 1)), Flatten(), Linear(widths[-1], config.n_classes)
        )

    @property
    def n_features(self) -> int:
        """Width of the representation the linear head reads."""
        return self.config.out_features_per_group[-1]

    def features(
        self, x: Float[Tensor, "batch channels height width"]
    ) -> Float[Tensor, "batch n_features"]:
        """Everything but the head: the pooled representation (for feature extraction)."""
        x = self.residual_layers(self.in_layers(x))
        return self.out_layers[1](self.out_layers[0](x))

    @property
    def head(self) -> Linear:
        return self.out_layers[2]

    def forward(
        self, x: Float[Tensor, "batch channels height width"]
    ) -> Float[Tensor, "batch n_classes"]:
        return self.head(self.features(x))


def resnet34(n_classes: int = 1000) -> ResNet:
    return ResNet(ResNetConfig(n_classes=n_classes))


def small_resnet(
    in_channels: int = 3,
    n_classes: int = 10,
    widths: tuple[int, ...] = (16, 32, 64),
    n_blocks: tuple[int, ...] | None = None,
) -> ResNet:
    """A CPU-sized ResNet for 32x32 (or 28x28) images: 3x3 stem, groups halving the resolution."""
    config = ResNetConfig(
        in_channels=in_channels,
        n_classes=n_classes,
        stem="small",
        stem_channels=widths[0],
        n_blocks_per_group=n_blocks if n_blocks is not None else (1,) * len(widths),
        out_features_per_group=widths,
        first_strides_per_group=(1,) + (2,) * (len(widths) - 1),
    )
    return ResNet(config)
