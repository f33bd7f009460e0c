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

import torch
from torch import nn

from arena_core.nn import (
    ResNet,
    ResNetConfig,
    load_torchvision_weights,
    small_resnet,
)
from arena_core.nn.torch_twin import torch_twin
from arena_core.utils import compare


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
