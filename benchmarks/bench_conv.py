"""Our Conv2d forward+backward vs torch.nn.functional.conv2d on ResNet34 layer shapes.

Both get the same input, weight and output gradient; one call = forward, then backward to input
and weight (the stem's input needs no gradient, as in training). Timing is interleaved
(`arena_core.utils.compare`), same thread count for both; the median over layers of the
time ratio (ours / torch) is printed last. Goal: within 3x.

Run:  python benchmarks/bench_conv.py [--threads 2] [--batch 8] [--rounds 7]
"""

import argparse
import statistics

import torch
import torch.nn.functional as F

from arena_core.nn import conv2d
from arena_core.utils import compare

# name, in_ch, out_ch, input size, kernel, stride, padding (ResNet34 at 224x224)
LAYERS = [
    ("stem 7x7/2", 3, 64, 224, 7, 2, 3),
    ("layer1 3x3", 64, 64, 56, 3, 1, 1),
    ("layer2 3x3/2", 64, 128, 56, 3, 2, 1),
    ("layer2 down 1x1/2", 64, 128, 56, 1, 2, 0),
    ("layer2 3x3", 128, 128, 28, 3, 1, 1),
    ("layer3 3x3", 256, 256, 14, 3, 1, 1),
    ("layer4 3x3/2", 256, 512, 14, 3, 2, 1),
    ("layer4 3x3", 512, 512, 7, 3, 1, 1),
]


def step(conv, x, weight, grad, stride, padding):
    def run():
        out = conv(x, weight, None, stride, padding)
        inputs = (x, weight) if x.requires_grad else (weight,)
        torch.autograd.grad(out, inputs, grad)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, float32, "
        "forward + backward"
    )
    print(f"{'layer':<20} {'shape':<24} {'ours ms':>9} {'torch ms':>9} {'ratio':>7}")
    ratios = []
    for name, cin, cout, size, k, s, p in LAYERS:
        x = torch.randn(args.batch, cin, size, size, requires_grad=cin != 3)
        weight = torch.randn(cout, cin, k, k, requires_grad=True)
        grad = torch.randn_like(F.conv2d(x, weight, None, s, p))
        result = compare(
            {
                "ours": step(conv2d, x, weight, grad, s, p),
                "torch": step(F.conv2d, x, weight, grad, s, p),
            },
            reference="torch",
            rounds=args.rounds,
            warmup=1,
        )
        ratios.append(result.ratio("ours"))
        shape = f"{cin}->{cout} @{size}x{size}"
        print(
            f"{name:<20} {shape:<24} {result.medians['ours'] * 1e3:9.2f} "
            f"{result.medians['torch'] * 1e3:9.2f} {ratios[-1]:6.2f}x"
        )
    print(f"median time ratio ours / F.conv2d (goal <= 3): {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
