"""Our conv_transpose2d forward+backward vs torch.nn.functional.conv_transpose2d.

Shapes are the transposed convolutions of days 25-27 (autoencoder/VAE decoder, DCGAN generator at
28x28, and the 64x64 generator's up-sampling stages). One call = forward, then backward to input
and weight. Interleaved timing (`arena_core.utils.compare`), same thread count for both; the
median over layers of the time ratio (ours / torch) is printed last.

Run:  python benchmarks/bench_conv_transpose.py [--threads 1] [--batch 64] [--rounds 7]
"""

import argparse

import torch.nn.functional as F
from _layer_timing import time_layers

from arena_core.nn import conv_transpose2d

# name, in_ch, out_ch, input size, kernel, stride, padding
LAYERS = [
    ("AE decoder 7->14", 32, 16, 7, 4, 2, 1),
    ("AE decoder 14->28", 16, 1, 14, 4, 2, 1),
    ("DCGAN28 z->7x7", 64, 32, 1, 7, 1, 0),
    ("DCGAN28 7->14", 32, 16, 7, 4, 2, 1),
    ("DCGAN64 4->8", 512, 256, 4, 4, 2, 1),
    ("DCGAN64 16->32", 128, 64, 16, 4, 2, 1),
    ("DCGAN64 32->64", 64, 3, 32, 4, 2, 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    median = time_layers(
        LAYERS,
        conv_transpose2d,
        F.conv_transpose2d,
        weight_shape=lambda cin, cout, k: (cin, cout, k, k),
        args=args,
    )
    print(f"median time ratio ours / F.conv_transpose2d: {median:.2f}x")


if __name__ == "__main__":
    main()
