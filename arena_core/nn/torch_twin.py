"""The same network built from `torch.nn` layers: the reference our layers are checked against.

`torch_twin(ours)` deep-copies a network made of our layers (Conv2d, BatchNorm2d, Linear, ReLU,
MaxPool2d, AdaptiveAvgPool2d, Flatten, and containers of them) and swaps every one of our layers
for its `torch.nn` counterpart with the same hyper-parameters, weights and buffers. Only the layer
implementations differ, so comparing outputs, gradients or training speed isolates them. Used by
the day-14 tests (`tests/nn/test_resnet_small.py`) and `benchmarks/bench_resnet_train.py`.
"""

import copy

from torch import nn

from arena_core.nn.activations import ReLU
from arena_core.nn.batchnorm import BatchNorm2d
from arena_core.nn.conv import Conv2d
from arena_core.nn.linear import Flatten, Linear
from arena_core.nn.pooling import AdaptiveAvgPool2d, MaxPool2d


def torch_twin(module: nn.Module) -> nn.Module:
    """A copy of `module` in which each of our layers is replaced by torch.nn's (same weights)."""
    twin = copy.deepcopy(module)
    for name, child in list(twin.named_children()):
        setattr(twin, name, _swap(child))
    return twin


def _swap(m: nn.Module) -> nn.Module:
    if isinstance(m, Conv2d):
        new = nn.Conv2d(
            m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
            bias=m.bias is not None,
        )  # fmt: skip
    elif isinstance(m, BatchNorm2d):
        new = nn.BatchNorm2d(m.num_features, m.eps, m.momentum)
    elif isinstance(m, Linear):
        new = nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    elif isinstance(m, ReLU):
        return nn.ReLU()
    elif isinstance(m, MaxPool2d):
        return nn.MaxPool2d(m.kernel_size, m.stride, m.padding)
    elif isinstance(m, AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool2d(m.output_size)
    elif isinstance(m, Flatten):
        return nn.Flatten(m.start_dim, m.end_dim)
    else:  # a container (ResNet, a block, a Sequential): swap inside it
        return torch_twin(m)
    new.load_state_dict(m.state_dict())
    return new
