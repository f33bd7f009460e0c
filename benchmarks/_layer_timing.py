"""Shared by `bench_conv.py` and `bench_conv_transpose.py`: time one of our convolution functions
against torch's, layer by layer, forward + backward, and print a table and the median ratio."""

import argparse
import statistics
from collections.abc import Callable

import torch

from arena_core.utils import compare

# name, in_ch, out_ch, input size, kernel, stride, padding
Layer = tuple[str, int, int, int, int, int, int]


def _forward_backward(op: Callable, x, weight, grad, stride: int, padding: int) -> Callable:
    def run():
        out = op(x, weight, None, stride, padding)
        inputs = (x, weight) if x.requires_grad else (weight,)
        torch.autograd.grad(out, inputs, grad)

    return run


def time_layers(
    layers: list[Layer],
    ours: Callable,
    reference: Callable,
    weight_shape: Callable[[int, int, int], tuple[int, ...]],
    args: argparse.Namespace,
    input_needs_grad: Callable[[int], bool] = lambda in_ch: True,
) -> float:
    """Interleaved timing (`arena_core.utils.compare`) of `ours` vs `reference` on each layer, with
    `args.threads` torch threads, batch `args.batch` and `args.rounds` rounds; returns the median
    over layers of the time ratio ours / reference."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, float32, "
        "forward + backward"
    )
    print(f"{'layer':<20} {'shape':<24} {'ours ms':>9} {'torch ms':>9} {'ratio':>7}")
    ratios = []
    for name, cin, cout, size, k, s, p in layers:
        x = torch.randn(args.batch, cin, size, size, requires_grad=input_needs_grad(cin))
        weight = torch.randn(*weight_shape(cin, cout, k), requires_grad=True)
        grad = torch.randn_like(reference(x, weight, None, s, p))
        result = compare(
            {
                "ours": _forward_backward(ours, x, weight, grad, s, p),
                "torch": _forward_backward(reference, x, weight, grad, s, p),
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
    return statistics.median(ratios)
