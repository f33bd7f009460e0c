"""Copy a torchvision ResNet state dict (BasicBlock ResNets: resnet18, resnet34) into ours.

The two models hold the same tensors under different names; the mapping is a handful of rules:

    conv1 / bn1                        -> in_layers.0 / in_layers.1
    layer{g}.{k}.conv1|bn1|conv2|bn2   -> residual_layers.{g-1}.blocks.{k}.left.0|1|3|4
    layer{g}.{k}.downsample.0|1        -> residual_layers.{g-1}.blocks.{k}.right.0|1
    fc                                 -> out_layers.2

Every key must be accounted for: a torchvision key that maps to nothing, or one of our keys that
receives nothing, raises `WeightMappingError` listing them (as do shape mismatches), rather than
silently leaving random weights in place. Day 13 (and day 14's pretrained path).
"""

import re

import torch
from torch import Tensor

from arena_core.nn.resnet import ResNet

_BLOCK_PARTS = {
    "conv1": "left.0",
    "bn1": "left.1",
    "conv2": "left.3",
    "bn2": "left.4",
    "downsample.0": "right.0",
    "downsample.1": "right.1",
}
_BLOCK_KEY = re.compile(
    r"^layer(\d+)\.(\d+)\.(conv1|bn1|conv2|bn2|downsample\.0|downsample\.1)\.(\w+)$"
)


class WeightMappingError(KeyError):
    """The source state dict does not fit the target model (missing/unexpected keys, shapes)."""


def torchvision_key_to_ours(key: str) -> str | None:
    """Our name for a torchvision ResNet state-dict key, or None if no rule covers it."""
    stem = re.match(r"^(conv1|bn1|fc)\.(\w+)$", key)
    if stem:
        prefix = {"conv1": "in_layers.0", "bn1": "in_layers.1", "fc": "out_layers.2"}[stem[1]]
        return f"{prefix}.{stem[2]}"
    block = _BLOCK_KEY.match(key)
    if block:
        group, index, part, leaf = block.groups()
        return f"residual_layers.{int(group) - 1}.blocks.{index}.{_BLOCK_PARTS[part]}.{leaf}"
    return None


def map_torchvision_state_dict(
    tv_state: dict[str, Tensor], our_keys: set[str] | None = None
) -> dict[str, Tensor]:
    """Rename every key; raise WeightMappingError on unknown keys (or ones not in `our_keys`)."""
    mapped, unexpected = {}, []
    for key, value in tv_state.items():
        ours = torchvision_key_to_ours(key)
        if ours is None or (our_keys is not None and ours not in our_keys):
            unexpected.append(key)
        else:
            mapped[ours] = value
    if unexpected:
        raise WeightMappingError(
            f"torchvision keys with no counterpart in our ResNet: {unexpected}"
        )
    return mapped


def load_torchvision_weights(model: ResNet, tv_state: dict[str, Tensor]) -> ResNet:
    """Copy torchvision `resnet34().state_dict()` (or resnet18) into `model`, strictly."""
    ours = model.state_dict()
    mapped = map_torchvision_state_dict(tv_state, set(ours))
    missing = sorted(set(ours) - set(mapped))
    if missing:
        raise WeightMappingError(
            f"our keys that the torchvision state dict does not fill: {missing}"
        )
    bad_shapes = [
        f"{k}: ours {tuple(ours[k].shape)} vs theirs {tuple(v.shape)}"
        for k, v in mapped.items()
        if ours[k].shape != v.shape
    ]
    if bad_shapes:
        raise WeightMappingError(f"shape mismatches: {bad_shapes}")
    with torch.no_grad():
        model.load_state_dict(mapped, strict=True)
    return model
