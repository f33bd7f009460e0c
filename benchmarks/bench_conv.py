"""Our conv2d forward+backward vs torch.nn.functional.conv2d on ResNet layer shapes.

Two tables: ResNet34's layers at 224x224 (batch `--batch`), and the layers of day 14's small
ResNet at 32x32 (widths 16/32/64, batch `--small-batch`), whose thin layers are where im2col was
slowest. Both sides get the same input, weight and output gradient; one call = forward, then
backward to input and weight (a stem's input needs no gradient, as in training). Timing is
interleaved (`arena_core.utils.compare`), same thread count for both; the median over layers of
the time ratio (ours / torch) is printed after each table. Goal: within 3x.

Run:  python benchmarks/bench_conv.py [--threads 2] [--batch 8] [--small-batch 64] [--rounds 7]
"""

import argparse

import torch.nn.functional as F
from _layer_timing import time_layers

from arena_core.nn import conv2d

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
# day 14's small ResNet on 3x32x32 images (each layer once; group 1 has two 16->16 convs)
SMALL_LAYERS = [
    ("stem 3x3", 3, 16, 32, 3, 1, 1),
    ("group1 3x3", 16, 16, 32, 3, 1, 1),
    ("group2 3x3/2", 16, 32, 32, 3, 2, 1),
    ("group2 down 1x1/2", 16, 32, 32, 1, 2, 0),
    ("group2 3x3", 32, 32, 16, 3, 1, 1),
    ("group3 3x3/2", 32, 64, 16, 3, 2, 1),
    ("group3 down 1x1/2", 32, 64, 16, 1, 2, 0),
    ("group3 3x3", 64, 64, 8, 3, 1, 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--small-batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for layers, batch, name in (
        (LAYERS, args.batch, "ResNet34"),
        (SMALL_LAYERS, args.small_batch, "day 14 small ResNet"),
    ):
        median = time_layers(
            layers,
            conv2d,
            F.conv2d,
            weight_shape=lambda cin, cout, k: (cout, cin, k, k),
            args=argparse.Namespace(threads=args.threads, batch=batch, rounds=args.rounds),
            input_needs_grad=lambda cin: cin != 3,  # a stem's input needs no gradient
        )
        print(f"{name}: median time ratio ours / F.conv2d (goal <= 3): {median:.2f}x\n")


if __name__ == "__main__":
    main()
