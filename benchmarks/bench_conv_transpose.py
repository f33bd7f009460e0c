"""Our conv_transpose2d forward+backward vs torch.nn.functional.conv_transpose2d.

Shapes are the transposed convolutions of days 25-27 (autoencoder/VAE decoder, DCGAN generator at
28x28, and the 64x64 generator's up-sampling stages). One call = forward, then backward to input
and weight. Interleaved timing (`arena_core.utils.compare`), same thread count for both; the
median over layers of the time ratio (ours / torch) is printed last.

Run:  python benchmarks/bench_conv_transpose.py [--threads 1] [--batch 64] [--rounds 7]
"""

import argparse
import statistics

import torch
import torch.nn.functional as F

from arena_core.nn import conv_transpose2d
from arena_core.utils import compare

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


def step(fn, x, weight, grad, stride, padding):
    def run():
        out = fn(x, weight, None, stride, padding)
        torch.autograd.grad(out, (x, weight), grad)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, float32, "
        "forward + backward"
    )
    print(f"{'layer':<20} {'shape':<22} {'ours ms':>9} {'torch ms':>9} {'ratio':>7}")
    ratios = []
    for name, cin, cout, size, k, s, p in LAYERS:
        x = torch.randn(args.batch, cin, size, size, requires_grad=True)
        weight = torch.randn(cin, cout, k, k, requires_grad=True)
        grad = torch.randn_like(F.conv_transpose2d(x, weight, None, s, p))
        result = compare(
            {
                "ours": step(conv_transpose2d, x, weight, grad, s, p),
                "torch": step(F.conv_transpose2d, x, weight, grad, s, p),
            },
            reference="torch",
            rounds=args.rounds,
            warmup=1,
        )
        ratios.append(result.ratio("ours"))
        shape = f"{cin}->{cout} @{size}x{size}"
        print(
            f"{name:<20} {shape:<22} {result.medians['ours'] * 1e3:9.2f} "
            f"{result.medians['torch'] * 1e3:9.2f} {ratios[-1]:6.2f}x"
        )
    print(f"median time ratio ours / F.conv_transpose2d: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
