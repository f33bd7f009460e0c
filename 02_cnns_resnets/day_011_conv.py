"""Day 11 — Convolutions from scratch: strided views, matrix multiplies, a hand-written backward.

Builds 2-D convolution, max pooling and average pooling out of `torch.as_strided` views
(`arena_core.nn`). `conv2d` has two hand-written routes, both checked here at run time against
`torch.nn.functional` (forward and backward, float64, on odd shapes, strides, paddings and
non-square kernels) and with `torch.autograd.gradcheck`: im2col (copy every window into a matrix,
one matmul) and shifted matmuls (one matmul per kernel tap on a shifted slice of the padded
image, no window copy). The mechanism figure works a 3x3 example through the shifted route. Then
the script times four versions of one 64-channel 3x3 convolution (einsum left to autograd, our
im2col, our shifted matmuls, F.conv2d) and applies hand-made kernels (Sobel edges, a Laplacian, a
blur) to real MNIST digits, followed by max pooling, to show what a conv layer computes.

Run:  arena run 11 [--smoke] [--publish]   (or python 02_cnns_resnets/day_011_conv.py)
Full run: ~10 s on 2 CPU cores. Smoke: ~5 s.
"""

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.data import load_mnist
from arena_core.nn import avg_pool2d, conv2d, max_pool2d
from arena_core.nn.conv import conv2d_autograd
from arena_core.nn.strided import phase_split
from arena_core.utils import DayArgs, Run, compare, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix

METHODS = ("im2col", "shifted")  # conv2d's two routes; "auto" picks one by the layer's shape

# The worked example of the post: a 3x3 image and a 2x2 kernel, stride 1, no padding
EXAMPLE_X = [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [2.0, 0.0, 1.0]]
EXAMPLE_W = [[1.0, 2.0], [0.0, -1.0]]


@dataclass
class Args(DayArgs):
    n_checks: int = 40  # random shapes checked against torch.nn.functional
    n_digits: int = 4  # MNIST digits in the edge-detector figure
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
    """Worst forward/backward difference to torch over `n` random float64 problems, for both of
    conv2d's methods and for the two pooling layers."""
    worst = {f"conv_{m}_{d}": 0.0 for m in METHODS for d in ("fwd", "bwd")}
    worst |= {"maxpool": 0.0, "avgpool": 0.0}
    for _ in range(n):
        c = random_case(g)
        x = torch.randn(c["b"], c["cin"], c["h"], c["w"], dtype=torch.float64, generator=g)
        wt = torch.randn(c["cout"], c["cin"], *c["k"], dtype=torch.float64, generator=g)
        bias = torch.randn(c["cout"], dtype=torch.float64, generator=g)
        x.requires_grad_(True), wt.requires_grad_(True)
        ref = F.conv2d(x, wt, bias, c["stride"], c["padding"])
        grad = torch.randn(ref.shape, dtype=torch.float64, generator=g)
        ref_grads = torch.autograd.grad(ref, (x, wt), grad)
        for method in METHODS:
            ours = conv2d(x, wt, bias, c["stride"], c["padding"], method=method)
            key = f"conv_{method}"
            worst[f"{key}_fwd"] = max(worst[f"{key}_fwd"], max_err(ours, ref))
            for a, r in zip(torch.autograd.grad(ours, (x, wt), grad), ref_grads, strict=True):
                worst[f"{key}_bwd"] = max(worst[f"{key}_bwd"], max_err(a, r))
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
        torch.autograd.gradcheck(
            lambda x, w, s=s, p=p, m=m: conv2d(x, w, None, s, p, method=m), (x, w)
        )
        for s, p in [(1, 1), ((2, 1), (1, 0))]
        for m in METHODS
    )
    return ok and torch.autograd.gradcheck(lambda x: max_pool2d(x, 3, 2, 1), (x,))


def speed(batch: int, rounds: int, channels: int = 64) -> dict[str, float]:
    """Fwd+bwd of a 3x3 conv (64->64 channels, 28x28, padding 1) in milliseconds: einsum left to
    autograd, our two hand-written methods, and torch."""
    x = torch.randn(batch, channels, 28, 28, requires_grad=True)
    w = torch.randn(channels, channels, 3, 3, requires_grad=True)
    grad = torch.randn(batch, channels, 28, 28)

    def make(fn):
        return lambda: torch.autograd.grad(fn(x, w, None, 1, 1), (x, w), grad)

    result = compare(
        {
            "einsum + autograd": make(conv2d_autograd),
            "ours, im2col": make(partial(conv2d, method="im2col")),
            "ours, shifted": make(partial(conv2d, method="shifted")),
            "F.conv2d": make(F.conv2d),
        },
        "F.conv2d",
        rounds=rounds,
    )
    return {name: result.medians[name] * 1e3 for name in result.medians}


def mechanism_figure() -> tuple[Figure, dict]:
    """The shifted-matmul convolution of the 3x3 example: the padded image as one column of rows,
    one shifted slice per kernel tap, their weighted sum on the grid, the border thrown away."""
    x = torch.tensor(EXAMPLE_X)[None, None]
    w = torch.tensor(EXAMPLE_W)[None, None]
    rows, geo = phase_split(x, (2, 2), (1, 1), (0, 0), (1, 1))  # [cells, channels = 1]
    values = rows[:, 0].tolist()
    n, wq, (oh, ow) = geo.rows, geo.grid[1], geo.out_size
    taps = [(u, v) for u in range(2) for v in range(2)]
    parts = [
        EXAMPLE_W[u][v] * rows[o : o + n, 0] for (u, v), o in zip(taps, geo.offsets, strict=True)
    ]
    grid_out = torch.stack(parts).sum(0)
    shifted = conv2d(x, w, method="shifted")[0, 0]
    im2col = conv2d(x, w, method="im2col")[0, 0]
    kept = grid_out.reshape(-1)
    assert torch.equal(shifted.reshape(-1), torch.stack([kept[i * wq + j] for i in range(oh)
                                                         for j in range(ow)]))  # fmt: skip

    fig, ax = canvas(width=20, height=12, scale=0.5)
    c = 0.9  # cell size of the strips
    matrix(ax, EXAMPLE_X, xy=(0, 7.4), cmap=None, cell=c, title="image x (3 × 3)")
    matrix(ax, EXAMPLE_W, xy=(0.45, 3.9), cmap="Oranges", cell=c, title="kernel W",
           row_labels=["u=0", "u=1"], col_labels=["v=0", "v=1"])  # fmt: skip
    x0, top = 4.4, 9.8

    def shade_padding(first: int, count: int, y: float) -> None:
        """Grey out the cells of a strip that hold the zero column rather than pixels."""
        for i in range(first, first + count):
            if i % wq >= x.shape[3]:
                ax.add_patch(Rectangle((x0 + i * c, y), c, c, color="0.82", zorder=1.5))

    label(ax, (x0 + len(values) * c / 2, top + c + 0.6),
          f"x as one strip of cells: row after row, {wq} cells per row (grey: padding zero)",
          fontweight="bold")  # fmt: skip
    matrix(ax, [values], xy=(x0, top), cmap=None, cell=c,
           col_labels=[str(i) for i in range(len(values))])  # fmt: skip
    shade_padding(0, len(values), top)
    for k, ((u, v), off) in enumerate(zip(taps, geo.offsets, strict=True)):
        y = top - 1.5 * (k + 1)
        seg = rows[off : off + n, 0].tolist()
        matrix(ax, [seg], xy=(x0 + off * c, y), cmap=None, cell=c)
        shade_padding(off, n, y)
        text = f"tap ({u},{v}): cells {off}–{off + n - 1}, × {EXAMPLE_W[u][v]:g}"
        label(ax, (x0 + len(values) * c + 0.3, y + c / 2), text, ha="left", fontsize=10)
    y_sum = top - 1.5 * 5 - 0.3
    sums = grid_out.tolist()
    matrix(ax, [sums], xy=(x0, y_sum), cmap=None, cell=c)
    for i in range(n):  # cross out the cells that fall on the zero column (not real outputs)
        if i % wq >= ow:
            xa = x0 + i * c
            ax.plot([xa, xa + c], [y_sum, y_sum + c], color="#d62728", lw=1.5)
            ax.plot([xa, xa + c], [y_sum + c, y_sum], color="#d62728", lw=1.5)
    text = "weighted sum; red: border cells, dropped"
    label(ax, (x0 + len(values) * c + 0.3, y_sum + c / 2), text, ha="left", fontsize=10)
    arrow(ax, (x0 + 2.5 * c, y_sum - 0.1), (x0 + 2.5 * c, y_sum - 1.2))
    matrix(ax, shifted.tolist(), xy=(x0 + 1.5 * c, y_sum - 1.4 - 2 * c), cmap="Greens", cell=c)
    label(ax, (x0 + 4.0 * c, y_sum - 1.4 - c), "output of conv2d(x, W), 2 × 2", ha="left")
    finish(ax)
    return fig, {
        "example_grid_sum": sums,
        "example_output_shifted": shifted.tolist(),
        "example_output_im2col": im2col.tolist(),
        "example_tap_offsets": list(geo.offsets),
    }


def kernel_text(value: float) -> str:
    """Kernel entries as a reader writes them: 1/9 rather than 0.111."""
    return "1/9" if abs(value - 1 / 9) < 1e-6 else f"{value:g}"


def edge_figure(digits: torch.Tensor) -> tuple[Figure, dict[str, float]]:
    """Top row: the kernels. Then one row per digit: the digit, each kernel's response, and the
    2x2 max pool of the Sobel gradient magnitude."""
    weight = torch.tensor(list(KERNELS.values()), dtype=torch.float32)[:, None]  # [4, 1, 3, 3]
    maps = conv2d(digits, weight, None, 1, 1)  # [n, 4, 28, 28]
    edges = (maps[:, 0:1] ** 2 + maps[:, 1:2] ** 2).sqrt()  # gradient magnitude
    pooled = max_pool2d(edges, 2)
    titles = ["digit", *KERNELS, "edge strength,\n2×2 max pool"]
    n = digits.shape[0]
    fig = Figure(figsize=(1.55 * len(titles), 1.6 * (n + 1) + 0.5))
    axes = fig.subplots(n + 1, len(titles), squeeze=False)
    for j, ax in enumerate(axes[0]):  # the kernels, with their numbers
        ax.set_title(titles[j].replace(" (", "\n("), fontsize=9.5)
        ax.axis("off")
        if 1 <= j <= len(KERNELS):
            k = weight[j - 1, 0]
            lim = k.abs().max().item()
            ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)
            for r in range(3):
                for c in range(3):
                    v = k[r, c].item()
                    colour = "white" if abs(v) > 0.6 * lim else "black"
                    ax.text(c, r, kernel_text(v), ha="center", va="center", color=colour,
                            fontsize=9)  # fmt: skip
    label_ax = axes[0, 0]
    label_ax.text(0.5, 0.5, "3×3 kernels\n(red +, blue −)", ha="center", va="center",
                  transform=label_ax.transAxes, fontsize=9.5)  # fmt: skip
    for i in range(n):
        panels = [digits[i, 0], *maps[i], pooled[i, 0]]
        for j, panel in enumerate(panels):
            ax = axes[i + 1, j]
            if j in (0, len(panels) - 1):
                ax.imshow(panel, cmap="gray")
            else:
                lim = panel.abs().max().item() or 1.0
                ax.imshow(panel, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.axis("off")
    fig.tight_layout()
    # sanity numbers: the same maps computed with torch
    ref = F.conv2d(digits, weight, None, 1, 1)
    return fig, {"edge_maps_max_abs_diff_vs_torch": max_err(maps, ref)}


def main(args: Args) -> dict:
    with Run(day=11, args=args) as run:
        g = torch.Generator().manual_seed(args.seed)
        data = load_mnist("test")
        run.record_source("data", data.source)
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
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
        torch_ms = timings["F.conv2d"]
        return run.finish(
            {
                **{f"max_abs_diff_{k}": v for k, v in worst.items()},
                **edge_stats,
                "gradcheck_passed": gradcheck_ok,
                "n_random_checks": n_checks,
                "ms_einsum_autograd": timings["einsum + autograd"],
                "ms_ours_im2col": timings["ours, im2col"],
                "ms_ours_shifted": timings["ours, shifted"],
                "ms_torch_conv2d": torch_ms,
                "slowdown_einsum_autograd_vs_torch": timings["einsum + autograd"] / torch_ms,
                "slowdown_im2col_vs_torch": timings["ours, im2col"] / torch_ms,
                "slowdown_shifted_vs_torch": timings["ours, shifted"] / torch_ms,
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
