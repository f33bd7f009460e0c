"""Day 11 — Convolutions from scratch: as_strided windows, a custom backward, and edge detectors.

Builds 2-D convolution, max pooling and average pooling out of `torch.as_strided` views
(`arena_core.nn`) and checks them at run time against `torch.nn.functional` (forward and
backward, float64, on odd shapes, strides, paddings and non-square kernels) and with
`torch.autograd.gradcheck`. Then it times three versions of the same convolution (einsum left
to autograd, our custom autograd function, F.conv2d) and applies hand-made kernels (Sobel edges,
a Laplacian, a blur) to real MNIST digits, followed by max pooling, to show what a conv layer
computes.

Run:  arena run 11 [--smoke] [--publish]   (or python 02_cnns_resnets/day_011_conv.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~5 s.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from arena_core.data import load_mnist
from arena_core.nn import avg_pool2d, conv2d, max_pool2d
from arena_core.nn.conv import conv2d_autograd
from arena_core.utils import DayArgs, Run, compare, run_script


@dataclass
class Args(DayArgs):
    n_checks: int = 40  # random shapes checked against torch.nn.functional
    n_digits: int = 6  # MNIST digits in the edge-detector figure
    bench_batch: int = 32  # batch of the 3x3 conv timed in the speed comparison


# Hand-designed 3x3 kernels: what a first conv layer often learns something like
KERNELS = {
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian (blobs, outlines)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "box blur": [[1 / 9] * 3] * 3,
}


def random_case(g: torch.Generator) -> dict:
    """A random conv problem: odd sizes, non-square kernels, strides and paddings."""

    def r(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    kh, kw = r(1, 5), r(1, 5)
    return dict(
        b=r(1, 3),
        cin=r(1, 4),
        cout=r(1, 5),
        h=r(kh, 14),
        w=r(kw, 14),
        k=(kh, kw),
        stride=(r(1, 3), r(1, 3)),
        padding=(r(0, kh // 2), r(0, kw // 2)),
    )


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def check_against_torch(n: int, g: torch.Generator) -> dict[str, float]:
    """Worst forward/backward difference to torch over `n` random float64 problems."""
    worst = {"conv_fwd": 0.0, "conv_bwd": 0.0, "maxpool": 0.0, "avgpool": 0.0}
    for _ in range(n):
        c = random_case(g)
        x = torch.randn(c["b"], c["cin"], c["h"], c["w"], dtype=torch.float64, generator=g)
        wt = torch.randn(c["cout"], c["cin"], *c["k"], dtype=torch.float64, generator=g)
        bias = torch.randn(c["cout"], dtype=torch.float64, generator=g)
        x.requires_grad_(True), wt.requires_grad_(True)
        ours = conv2d(x, wt, bias, c["stride"], c["padding"])
        ref = F.conv2d(x, wt, bias, c["stride"], c["padding"])
        worst["conv_fwd"] = max(worst["conv_fwd"], max_err(ours, ref))
        grad = torch.randn(ref.shape, dtype=torch.float64, generator=g)
        for a, r in zip(
            torch.autograd.grad(ours, (x, wt), grad),
            torch.autograd.grad(ref, (x, wt), grad),
            strict=True,
        ):
            worst["conv_bwd"] = max(worst["conv_bwd"], max_err(a, r))
        for name, ours_fn, ref_fn in (
            ("maxpool", max_pool2d, F.max_pool2d),
            ("avgpool", avg_pool2d, F.avg_pool2d),
        ):
            o = ours_fn(x, c["k"], c["stride"], c["padding"])
            t = ref_fn(x, c["k"], c["stride"], c["padding"])
            gp = torch.randn(t.shape, dtype=torch.float64, generator=g)
            worst[name] = max(
                worst[name],
                max_err(o, t),
                max_err(torch.autograd.grad(o, x, gp)[0], torch.autograd.grad(t, x, gp)[0]),
            )
    return worst


def gradchecks() -> bool:
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    ok = all(
        torch.autograd.gradcheck(lambda x, w, s=s, p=p: conv2d(x, w, None, s, p), (x, w))
        for s, p in [(1, 1), ((2, 1), (1, 0))]
    )
    return ok and torch.autograd.gradcheck(lambda x: max_pool2d(x, 3, 2, 1), (x,))


def speed(batch: int, rounds: int, channels: int = 64) -> dict[str, float]:
    """Fwd+bwd of a 3x3 conv (64->64 channels, 28x28): einsum+autograd vs ours vs torch."""
    x = torch.randn(batch, channels, 28, 28, requires_grad=True)
    w = torch.randn(channels, channels, 3, 3, requires_grad=True)
    grad = torch.randn(batch, channels, 28, 28)

    def make(fn):
        return lambda: torch.autograd.grad(fn(x, w, None, 1, 1), (x, w), grad)

    result = compare(
        {
            "einsum + autograd": make(conv2d_autograd),
            "ours (custom backward)": make(conv2d),
            "F.conv2d": make(F.conv2d),
        },
        "F.conv2d",
        rounds=rounds,
    )
    return {name: result.medians[name] * 1e3 for name in result.medians}


def edge_figure(digits: torch.Tensor) -> tuple[Figure, dict[str, float]]:
    """Rows: digits. Columns: the digit, each kernel's response, then 2x2 max pool of |Sobel|."""
    weight = torch.tensor(list(KERNELS.values()), dtype=torch.float32)[:, None]  # [4, 1, 3, 3]
    maps = conv2d(digits, weight, None, 1, 1)  # [n, 4, 28, 28]
    edges = (maps[:, 0:1] ** 2 + maps[:, 1:2] ** 2).sqrt()  # gradient magnitude
    pooled = max_pool2d(edges, 2)
    titles = ["digit", *KERNELS, "|grad|, 2x2 max pool"]
    n = digits.shape[0]
    fig = Figure(figsize=(1.7 * len(titles), 1.75 * n + 0.4), dpi=120)
    axes = fig.subplots(n, len(titles), squeeze=False)
    for i in range(n):
        panels = [digits[i, 0], *maps[i], pooled[i, 0]]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            cmap = "gray" if j in (0, len(panels) - 1) else "RdBu_r"
            if cmap == "RdBu_r":
                lim = panel.abs().max().item() or 1.0
                ax.imshow(panel, cmap=cmap, vmin=-lim, vmax=lim)
            else:
                ax.imshow(panel, cmap=cmap)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=7)
    fig.suptitle("Hand-made 3x3 kernels applied with our conv2d (red +, blue -)", fontsize=9)
    fig.tight_layout()
    # sanity numbers: the same figure computed with torch
    ref = F.conv2d(digits, weight, None, 1, 1)
    return fig, {"edge_maps_max_abs_diff_vs_torch": max_err(maps, ref)}


def kernel_figure() -> Figure:
    fig = Figure(figsize=(7, 2.0), dpi=120)
    axes = fig.subplots(1, len(KERNELS))
    for ax, (name, k) in zip(axes, KERNELS.items(), strict=True):
        k = torch.tensor(k)
        lim = k.abs().max().item()
        ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
        for (r, c), v in zip(
            [(r, c) for r in range(3) for c in range(3)], k.flatten(), strict=True
        ):
            ax.text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=7)
        ax.set_title(name, fontsize=7)
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=11, args=args) as run:
        g = torch.Generator().manual_seed(args.seed)
        data = load_mnist("test")
        run.record_source("data", data.source)
        n_checks = 5 if args.smoke else args.n_checks
        worst = check_against_torch(n_checks, g)
        run.print(
            "worst |ours - torch| over "
            + f"{n_checks} random problems: "
            + ", ".join(f"{k} {v:.1e}" for k, v in worst.items())
        )
        gradcheck_ok = gradchecks()
        timings = speed(2, 1, channels=8) if args.smoke else speed(args.bench_batch, 5)
        for name, ms in timings.items():
            run.print(f"  {name:<24} {ms:8.2f} ms (fwd+bwd)")
        idx = torch.cat([torch.nonzero(data.labels == d)[:1, 0] for d in range(10)])
        digits = data.images[idx[: 2 if args.smoke else args.n_digits]]
        fig, edge_stats = edge_figure(digits)
        run.save_fig(fig, "edge_detectors")
        run.save_fig(kernel_figure(), "kernels")
        return run.finish(
            {
                **{f"max_abs_diff_{k}": v for k, v in worst.items()},
                **edge_stats,
                "gradcheck_passed": gradcheck_ok,
                "n_random_checks": n_checks,
                "ms_einsum_autograd": timings["einsum + autograd"],
                "ms_ours_custom_backward": timings["ours (custom backward)"],
                "ms_torch_conv2d": timings["F.conv2d"],
                "slowdown_ours_vs_torch": timings["ours (custom backward)"] / timings["F.conv2d"],
                "slowdown_einsum_autograd_vs_torch": timings["einsum + autograd"]
                / timings["F.conv2d"],
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
