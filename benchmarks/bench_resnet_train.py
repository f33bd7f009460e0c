"""Training throughput (images/s) of our from-scratch ResNet vs the same network in torch.nn.

The reference is built by swapping every one of our layers for its `torch.nn` twin (same
architecture, same weights), so the only difference is the layer implementations. Two networks:
day 14's small ResNet on 3x32x32 images, and a torchvision-style ResNet-10 (ImageNet stem, one
BasicBlock per group) checked against torchvision's own `ResNet(BasicBlock, [1, 1, 1, 1])`.
Goal: ours >= 0.5x the reference's images/s. Same thread count for both; interleaved rounds
(`arena_core.utils.compare`); the median ratio is printed last.

Run:  python benchmarks/bench_resnet_train.py [--threads 2] [--batch 64] [--rounds 7]
"""

import argparse
import copy

import torch
from torch import nn

from arena_core.nn import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    ResNet,
    ResNetConfig,
    load_torchvision_weights,
    small_resnet,
)
from arena_core.utils import compare


def torch_twin(module: nn.Module) -> nn.Module:
    """A copy of `module` in which each of our layers is replaced by torch.nn's (same weights)."""
    twin = copy.deepcopy(module)
    for name, child in list(twin.named_children()):
        setattr(twin, name, _swap(child))
    return twin


def _swap(m: nn.Module) -> nn.Module:
    if isinstance(m, Conv2d):
        new = nn.Conv2d(
            m.in_channels,
            m.out_channels,
            m.kernel_size,
            m.stride,
            m.padding,
            m.dilation,
            bias=m.bias is not None,
        )
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
    else:
        return torch_twin(m)
    new.load_state_dict(m.state_dict())
    return new


def train_step_fn(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))

    from torchvision.models.resnet import BasicBlock
    from torchvision.models.resnet import ResNet as TorchvisionResNet

    tv10 = TorchvisionResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
    ours10 = load_torchvision_weights(
        ResNet(ResNetConfig(n_classes=10, n_blocks_per_group=(1, 1, 1, 1))), tv10.state_dict()
    )
    small = small_resnet(in_channels=3, n_classes=10)
    cases = {
        "small ResNet (day 14), torch.nn twin": (small, torch_twin(small)),
        "ResNet-10 (ImageNet stem), torchvision": (ours10, tv10),
    }
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, 3x32x32 input")
    ratios: list[float] = []
    for name, (ours, ref) in cases.items():
        result = compare(
            {"ours": train_step_fn(ours, x, y), "reference": train_step_fn(ref, x, y)},
            reference="reference",
            rounds=args.rounds,
            warmup=1,
        )
        ours_ips = args.batch / result.medians["ours"]
        ref_ips = args.batch / result.medians["reference"]
        ratios.append(ours_ips / ref_ips)
        print(
            f"{name:<42} ours {ours_ips:7.1f} img/s   reference {ref_ips:7.1f} img/s   "
            f"throughput ratio {ours_ips / ref_ips:.2f}x"
        )
    median = sorted(ratios)[len(ratios) // 2] if len(ratios) % 2 else sum(ratios) / 2
    each = ", ".join(f"{r:.2f}x" for r in ratios)
    print(f"throughput ratios ours / reference (goal >= 0.5): {each}; median {median:.2f}x")


if __name__ == "__main__":
    main()
