"""Day 1 — PyTorch tensors and autograd basics: dtypes, broadcasting, views vs copies, a fit.

Four small experiments, each checked against torch at run time:
1. dtypes: measure machine epsilon of float16/bfloat16/float32/float64 by halving until 1 + eps
   rounds to 1, compare with `torch.finfo`, and plot the spacing between adjacent numbers.
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

from arena_core.tensors.broadcasting import broadcast_shape, expand_via_strides
from arena_core.tensors.linalg import lstsq_qr
from arena_core.utils import DayArgs, Run, run_script

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@dataclass
class Args(DayArgs):
    steps: int = 3000  # gradient-descent steps of the cubic fit
    lr: float = 0.5  # learning rate of the cubic fit (features are scaled to [-1, 1])
    points: int = 2000  # sample points of sin(x) on [-pi, pi]
    shape_pairs: int = 2000  # random shape pairs for the broadcasting check
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
        ax.loglog(x.double().numpy(), gap.numpy(), label=str(dtype).replace("torch.", ""))
        rel[str(dtype)] = (gap / x.double()).max().item()
    ax.set_xlabel("magnitude |x|")
    ax.set_ylabel("gap to the next representable number")
    ax.set_title("Float spacing grows with magnitude (relative gap ~ eps)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig, rel


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


def fit_cubic(args: Args, run: Run) -> dict[str, float]:
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

    losses, snapshots = [], {}
    keep = {0, 10, 100, args.steps - 1}
    for step in range(args.steps):
        loss = ((features @ w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():  # the update itself must not be recorded in the graph
            w -= args.lr * w.grad
        w.grad = None
        losses.append(loss.item())
        if step in keep:
            snapshots[step] = (features @ w).detach()

    w_opt = lstsq_qr(features, y)
    w_ref = torch.linalg.lstsq(features, y[:, None]).solution[:, 0]
    opt_loss = ((features @ w_opt - y) ** 2).mean().item()

    fig = Figure(figsize=(10, 3.8))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(x.numpy(), y.numpy(), color="black", lw=2.5, label="sin(x)")
    for step, pred in snapshots.items():
        ax1.plot(x.numpy(), pred.numpy(), lw=1.3, label=f"after step {step + 1}")
    ax1.set_title("Cubic fitted by gradient descent (autograd)")
    ax1.set_xlabel("x")
    ax1.legend(fontsize=8)
    ax2.semilogy(range(1, len(losses) + 1), losses, label="gradient descent")
    ax2.axhline(opt_loss, color="red", ls="--", label="least-squares optimum")
    ax2.set_xscale("log")
    ax2.set_xlabel("step")
    ax2.set_ylabel("mean squared error")
    ax2.set_title("Loss")
    ax2.legend()
    run.save_fig(fig, "autograd_fit")
    return {
        "autograd_vs_analytic_grad_max_abs_err": grad_err,
        "final_mse": losses[-1],
        "least_squares_mse": opt_loss,
        "gd_weights_vs_lstsq_max_abs_err": (w.detach() - w_opt).abs().max().item(),
        "our_lstsq_vs_torch_lstsq_max_abs_err": (w_opt - w_ref).abs().max().item(),
        "cubic_coefficient_t3": w.detach()[3].item(),
    }


def main(args: Args) -> dict:
    if args.smoke:
        args.steps, args.points, args.shape_pairs = 60, 200, 100
    with Run(day=1, args=args) as run:
        run.record_source("data", "synthetic: sin(x) on [-pi, pi]; random shapes (seeded)")
        eps_err = max(
            abs(measured_epsilon(d) - torch.finfo(d).eps) / torch.finfo(d).eps for d in DTYPES
        )
        fig, rel_gap = spacing_figure(torch.logspace(-3, 4, 200, dtype=torch.float64))
        run.save_fig(fig, "float_spacing")
        agree, expand_err = check_broadcasting(args.shape_pairs, run.generator)
        flags = views_and_copies()
        fit = fit_cubic(args, run)
        for name, value in flags.items():
            run.print(f"  {name:<32} {value}")
        return run.finish(
            {
                "epsilon_max_rel_err_vs_finfo": eps_err,
                "float32_eps": torch.finfo(torch.float32).eps,
                "bfloat16_max_relative_gap": rel_gap["torch.bfloat16"],
                "broadcast_rule_agreement_with_torch": agree,
                "expand_via_strides_max_abs_err": expand_err,
                **flags,
                **fit,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
