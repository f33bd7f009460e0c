"""Day 1 — PyTorch tensors and autograd basics: dtypes, broadcasting, views vs copies, a fit.

The post is about the first experiment: a float is a grid whose spacing doubles at every power of
two. Four small experiments, each checked against torch at run time:
1. dtypes: measure machine epsilon of float16/bfloat16/float32/float64 by halving until 1 + eps
   rounds to 1, compare with `torch.finfo`, plot the spacing between adjacent numbers, find the
   first integer n with n + 1 == n, and add a learning-rate-sized step (0.001) to a weight of 1.0
   a thousand times in each dtype. The mechanism diagram draws the bits and the grid of bfloat16
   around 256, where the spacing changes from 1 to 2.
2. broadcasting: our shape rule (`arena_core.tensors.broadcasting`) vs `torch.broadcast_shapes` on
   random shape pairs, and the stride-0 view vs `torch.broadcast_to` (no memory is copied).
3. views vs copies: which operations share storage (view, transpose, slicing) and which copy
   (reshape of a non-contiguous tensor, clone), checked through `data_ptr` and writes.
4. autograd: fit a cubic to sin(x) by gradient descent with `loss.backward()`; the autograd
   gradient is checked against the analytic one and the fit against the least-squares optimum.

Run:  arena run 1 [--smoke] [--publish]   (or python 00_prerequisites/day_001_tensors.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~2 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.tensors.broadcasting import broadcast_shape, expand_via_strides
from arena_core.tensors.linalg import lstsq_qr
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import PALETTE, arrow, canvas, finish, label

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


@dataclass
class Args(DayArgs):
    steps: int = 3000  # gradient-descent steps of the cubic fit
    lr: float = 0.5  # learning rate of the cubic fit (features are scaled to [-1, 1])
    points: int = 2000  # sample points of sin(x) on [-pi, pi]
    shape_pairs: int = 2000  # random shape pairs for the broadcasting check
    updates: int = 1000  # repeated small steps added to a weight of 1.0 in each dtype
    update_step: float = 1e-3  # size of each step (a typical learning rate x gradient)
    threads: int = 1  # torch intra-op threads (small tensors: 1 thread avoids sync overhead)


def measured_epsilon(dtype: torch.dtype) -> float:
    """Halve eps until 1 + eps/2 rounds to 1 in `dtype`: the gap between 1 and the next number."""
    one = torch.tensor(1.0, dtype=dtype)
    eps = torch.tensor(1.0, dtype=dtype)
    while one + eps / 2 != one:
        eps = eps / 2
    return eps.item()


def spacing_figure(magnitudes: torch.Tensor) -> tuple[Figure, dict[str, float]]:
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    rel = {}
    for dtype in DTYPES:
        x = magnitudes.to(dtype)
        gap = (torch.nextafter(x, torch.full_like(x, math.inf)) - x).double()
        ax.loglog(x.double().numpy(), gap.numpy(), label=dtype_name(dtype))
        rel[str(dtype)] = (gap / x.double()).max().item()
    at = torch.tensor(256.0, dtype=torch.bfloat16)
    gap_256 = (torch.nextafter(at, torch.tensor(math.inf, dtype=at.dtype)) - at).item()
    ax.plot([256], [gap_256], "o", color="black", ms=5, zorder=5)
    ax.annotate(
        f"bfloat16 at 256:\nnext number is {256 + gap_256:g}",
        xy=(256, gap_256),
        xytext=(2e-3, 30),
        arrowprops=dict(arrowstyle="->", color="0.3"),
        fontsize=9.5,
    )
    ax.set_xlabel("magnitude |x|")
    ax.set_ylabel("gap to the next representable number")
    ax.set_title("The gap doubles at every power of two")
    ax.set_ylim(top=1e4)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right")
    return fig, {**rel, "bfloat16_gap_at_256": gap_256}


def first_stuck_integer(dtype: torch.dtype) -> float:
    """The smallest n with n + 1 == n in `dtype`: a counter that adds 1 stops there.

    Below 2**(bits + 1) the gap is at most 1, so n + 1 is representable; at n = 2**(bits + 1) the
    gap is 2 and n + 1 is a tie that rounds to the even neighbour, n. So doubling n finds it.
    """
    n = torch.tensor(1.0, dtype=dtype)
    while n + 1 != n:
        n = n * 2
    return n.item()


def repeated_updates(dtype: torch.dtype, count: int, step: float) -> list[float]:
    """Add `step` to a weight of 1.0 `count` times, rounding to `dtype` after every addition."""
    w = torch.tensor(1.0, dtype=dtype)
    path = [w.item()]
    for _ in range(count):
        w = w + step
        path.append(w.item())
    return path


def updates_figure(args: Args) -> tuple[Figure, dict[str, float]]:
    """A weight of 1.0 receives `updates` steps of `update_step`: which dtypes keep them?"""
    k = list(range(args.updates + 1))
    exact = [1.0 + i * args.update_step for i in k]
    fig = Figure(figsize=(10, 3.9))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(k, exact, color="black", ls="--", lw=2.4, label="exact: 1 + 0.001 k")
    finals = {}
    for dtype in DTYPES:
        path = repeated_updates(dtype, args.updates, args.update_step)
        name = dtype_name(dtype)
        finals[name] = path[-1]
        ax1.plot(k, path, lw=1.5, label=name)
        err = [max(abs(p - e), 1e-17) for p, e in zip(path[1:], exact[1:], strict=True)]
        ax2.semilogy(k[1:], err, lw=1.5, label=name)
    ax1.set_xlabel(f"number of updates of +{args.update_step:g}")
    ax1.set_ylabel("weight")
    ax1.set_title("A weight of 1.0 after many small updates")
    ax1.legend(loc="upper left")
    ax2.set_xlabel(f"number of updates of +{args.update_step:g}")
    ax2.set_ylabel("|weight − exact|")
    ax2.set_title("Accumulated rounding error")
    ax2.set_ylim(1e-17, 10)
    ax2.legend(loc="lower right", ncol=2)
    return fig, finals


def bit_row(ax, bits: str, y: float, x0: float, gap: float = 0.25, changed: int = -1) -> None:
    """16 bfloat16 bits as cells: sign, 8 exponent bits, 7 mantissa bits (a gap between fields)."""
    for i, bit in enumerate(bits):
        x = x0 + i + (gap if i >= 1 else 0) + (gap if i >= 9 else 0)
        role = (
            "highlight"
            if i == changed
            else ("neutral" if i == 0 else "param" if i < 9 else "input")
        )
        ax.add_patch(Rectangle((x, y), 1, 1, facecolor=PALETTE[role], edgecolor="0.4", lw=0.8))
        ax.text(x + 0.5, y + 0.5, bit, ha="center", va="center", fontsize=11)


def mechanism_figure() -> tuple[Figure, dict[str, float]]:
    """The bits of 256 and 258 in bfloat16, and the bfloat16 grid around 256."""
    bf = torch.bfloat16

    def bits(v: float) -> str:
        return format(torch.tensor(v, dtype=bf).view(torch.int16).item() & 0xFFFF, "016b")

    b256, b258 = bits(256.0), bits(258.0)
    exponent = int(b256[1:9], 2)
    changed = next(i for i in range(16) if b256[i] != b258[i])
    # the bfloat16 numbers between 250 and 262, found by rounding a fine grid of candidates
    grid = torch.arange(250.0, 262.01, 0.25).to(bf).unique().double().tolist()
    total = torch.tensor(256.0, dtype=bf) + 1  # the sum the post is about
    fig, ax = canvas(width=19, height=10, scale=0.36)
    x0 = 3.2
    label(ax, (x0 + 0.5, 9.6), "sign", fontsize=10.5)
    label(ax, (x0 + 5.25, 9.6), "exponent $e$ (8 bits)", fontsize=10.5)
    label(ax, (x0 + 13.0, 9.6), "mantissa $m$ (7 bits)", fontsize=10.5)
    bit_row(ax, b256, 8.1, x0)
    bit_row(ax, b258, 6.6, x0, changed=changed)
    label(ax, (x0 - 0.4, 8.6), "256 =", fontsize=11, ha="right")
    label(ax, (x0 - 0.4, 7.1), "258 =", fontsize=11, ha="right")
    power = exponent - 127
    label(
        ax,
        (x0 + 8.25, 5.0),
        "$x = (1 + m/128) \\times 2^{e - 127}$\n"
        f"$e = {exponent}$ gives $2^{{{power}}}$; one step of $m$ is "
        f"$2^{{{power}}}/128 = {2**power / 128:g}$",
        fontsize=11,
        linespacing=1.6,
    )

    def px(v: float) -> float:  # the number line: 1.4 cells per unit, 250 at x = 0.8
        return 0.8 + (v - 250.0) * 1.4

    y = 1.2
    ax.plot([px(250), px(262)], [y, y], color="0.3", lw=1.2)
    for v in grid:
        ax.plot([px(v), px(v)], [y - 0.18, y + 0.18], color="0.2", lw=1.4)
        ax.text(px(v), y - 0.35, f"{v:g}", ha="center", va="top", fontsize=10)
    band = dict(height=0.45, edgecolor="none")
    ax.add_patch(
        Rectangle((px(250), y + 0.3), px(256) - px(250), facecolor=PALETTE["input"], **band)
    )
    ax.add_patch(
        Rectangle((px(256), y + 0.3), px(262) - px(256), facecolor=PALETTE["param"], **band)
    )
    label(ax, ((px(250) + px(256)) / 2, y + 0.52), "$e = 134$: gap 1", fontsize=10)
    label(ax, ((px(256) + px(262)) / 2, y + 0.52), "$e = 135$: gap 2", fontsize=10)
    ax.plot([px(257)], [y], "o", color="#d62728", ms=7, zorder=5)
    arrow(ax, (px(257), y + 0.85), (px(256), y + 0.85), color="#d62728", curve=0.6)
    label(
        ax,
        (px(256), y + 2.1),
        "256 + 1 = 257 falls halfway between 256 and 258;\n"
        f"the tie goes to the even mantissa: bfloat16 gives {total.item():g}",
        fontsize=10.5,
        color="#d62728",
    )
    finish(ax)
    return fig, {"bfloat16_256_plus_1": total.item(), "bfloat16_exponent_bits_of_256": exponent}


def check_broadcasting(pairs: int, gen: torch.Generator) -> tuple[float, float]:
    """Fraction of random shape pairs where our rule agrees with torch; max error of expand."""
    agree = 0
    for _ in range(pairs):
        shapes = []
        for _ in range(2):
            ndim = int(torch.randint(0, 4, (), generator=gen))
            shapes.append(tuple(int(s) for s in torch.randint(1, 4, (ndim,), generator=gen)))
        try:
            ref = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            ref = None
        try:
            ours = broadcast_shape(*shapes)
        except ValueError:
            ours = None
        agree += ours == ref
    x = torch.randn(3, 1, 5, generator=gen)
    err = (expand_via_strides(x, (2, 3, 4, 5)) - torch.broadcast_to(x, (2, 3, 4, 5))).abs().max()
    return agree / pairs, err.item()


def views_and_copies() -> dict[str, bool]:
    x = torch.arange(12.0).reshape(3, 4)
    v = x.view(4, 3)
    v[0, 0] = 100.0  # a view shares storage: the write shows up in x
    t = x.T  # transpose: a view with swapped strides, no longer contiguous
    try:
        t.view(-1)
        transpose_view_flattens = True
    except RuntimeError:
        transpose_view_flattens = False  # .view needs compatible strides; .reshape would copy
    r = t.reshape(-1)
    c = x.clone()
    return {
        "view_write_visible_in_base": bool(x[0, 0] == 100.0),
        "transpose_is_contiguous": t.is_contiguous(),
        "transpose_view_flattens": transpose_view_flattens,
        "reshape_of_transpose_copies": r.data_ptr() != x.data_ptr(),
        "slice_shares_storage": x[1:, ::2].untyped_storage().data_ptr()
        == x.untyped_storage().data_ptr(),
        "clone_copies": c.data_ptr() != x.data_ptr(),
    }


def fit_cubic(args: Args) -> dict[str, float]:
    """Gradient descent with autograd on a cubic fit to sin(x) (metrics only; see the note)."""
    x = torch.linspace(-math.pi, math.pi, args.points, dtype=torch.float64)
    y = torch.sin(x)
    t = x / math.pi  # scale to [-1, 1] so powers stay O(1) and gradient descent is well-posed
    features = torch.stack([torch.ones_like(t), t, t**2, t**3], dim=1)
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)

    # autograd vs the analytic gradient of L = mean((Xw - y)^2): dL/dw = 2 X^T (Xw - y) / n
    loss = ((features @ w - y) ** 2).mean()
    loss.backward()
    analytic = 2 * features.T @ (features @ w.detach() - y) / len(y)
    grad_err = (w.grad - analytic).abs().max().item()
    w.grad = None

    losses = []
    for _ in range(args.steps):
        loss = ((features @ w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():  # the update itself must not be recorded in the graph
            w -= args.lr * w.grad
        w.grad = None
        losses.append(loss.item())

    w_opt = lstsq_qr(features, y)
    w_ref = torch.linalg.lstsq(features, y[:, None]).solution[:, 0]
    opt_loss = ((features @ w_opt - y) ** 2).mean().item()
    # gradient descent on this quadratic is stable only for lr < 2 / (largest eigenvalue of H)
    hessian = 2 * features.T @ features / len(y)
    lr_limit = 2 / torch.linalg.eigvalsh(hessian).max().item()

    return {
        "autograd_vs_analytic_grad_max_abs_err": grad_err,
        "final_mse": losses[-1],
        "least_squares_mse": opt_loss,
        "gd_weights_vs_lstsq_max_abs_err": (w.detach() - w_opt).abs().max().item(),
        "our_lstsq_vs_torch_lstsq_max_abs_err": (w_opt - w_ref).abs().max().item(),
        "cubic_coefficient_t3": w.detach()[3].item(),
        "gd_stability_limit_lr": lr_limit,
    }


def main(args: Args) -> dict:
    if args.smoke:
        args.steps, args.points, args.shape_pairs, args.updates = 60, 200, 100, 50
    with Run(day=1, args=args) as run:
        run.record_source("data", "synthetic: sin(x) on [-pi, pi]; random shapes (seeded)")
        eps_err = max(
            abs(measured_epsilon(d) - torch.finfo(d).eps) / torch.finfo(d).eps for d in DTYPES
        )
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
        fig, rel_gap = spacing_figure(torch.logspace(-3, 4, 200, dtype=torch.float64))
        run.save_fig(fig, "float_spacing")
        fig, finals = updates_figure(args)
        run.save_fig(fig, "lost_updates")
        stuck = {
            f"{dtype_name(d)}_first_n_with_n_plus_1_equal_n": first_stuck_integer(d) for d in DTYPES
        }
        agree, expand_err = check_broadcasting(args.shape_pairs, run.generator)
        flags = views_and_copies()
        fit = fit_cubic(args)
        for name, value in flags.items():
            run.print(f"  {name:<32} {value}")
        return run.finish(
            {
                "epsilon_max_rel_err_vs_finfo": eps_err,
                "float32_eps": torch.finfo(torch.float32).eps,
                "bfloat16_max_relative_gap": rel_gap["torch.bfloat16"],
                "bfloat16_gap_at_256": rel_gap["bfloat16_gap_at_256"],
                **example,
                **stuck,
                **{f"{name}_weight_after_updates": w for name, w in finals.items()},
                "broadcast_rule_agreement_with_torch": agree,
                "expand_via_strides_max_abs_err": expand_err,
                **flags,
                **fit,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
