"""Day 21 — The chain rule in code: a numpy `Tensor` engine with backward functions.

Checks every backward function of `arena_core.autograd` (log, exp, multiply, divide, pow, sum,
mean, reshape, permute, getitem incl. repeated indices, maximum with ties, relu, matmul incl.
batched and 1-d) against torch.autograd with random output gradients in float64, draws how
`unbroadcast` sums a gradient back to a broadcast input's shape, and prints the topological order
that backward walks for a small graph.

Run:  arena run 21 [--smoke] [--publish]   (or python 04_backprop/day_021_chain_rule.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~3 s.
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from arena_core.autograd import Tensor, unbroadcast
from arena_core.autograd.tensor import _topological_order
from arena_core.autograd.torch_compare import compare_with_torch
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    trials: int = 20  # random shapes per op


def op_cases(rng: np.random.Generator):
    """(name, our fn, torch fn or None, input arrays) with random sizes, odd sizes included."""
    n, m, k = rng.integers(1, 8, size=3)
    pos = lambda *s: np.abs(rng.standard_normal(s)) + 0.1  # noqa: E731
    rnd = lambda *s: rng.standard_normal(s)  # noqa: E731
    idx = rng.integers(0, n, size=2 * n)  # repeated indices on purpose
    yield "log", lambda x: x.log(), None, [pos(n, m)]
    yield "exp", lambda x: x.exp(), None, [rnd(n, m)]
    yield "mul (broadcast)", lambda x, y: x * y, None, [rnd(n, m), rnd(m)]
    yield "div (broadcast)", lambda x, y: x / y, None, [rnd(n, 1), pos(1, m)]
    yield "pow", lambda x, y: x**y, None, [pos(n, m), rnd(n, m)]
    yield "sum (dim, keepdim)", lambda x: x.sum(dim=1, keepdim=True), None, [rnd(n, m, k)]
    yield "mean", lambda x: x.mean(dim=(0, 2)), None, [rnd(n, m, k)]
    yield "reshape", lambda x: x.reshape(m, n * k), None, [rnd(n, m, k)]
    yield "permute", lambda x: x.permute(2, 0, 1), None, [rnd(n, m, k)]
    yield "getitem (int array)", lambda x: x[idx], lambda x: x[torch.as_tensor(idx)], [rnd(n, m)]
    yield "getitem (slice)", lambda x: x[1:, ::2], None, [rnd(n + 1, m)]
    tie = np.round(rnd(n, m))  # rounding makes ties common
    yield "maximum (ties)", lambda x, y: x.maximum(y), torch.maximum, [tie, np.round(rnd(n, m))]
    yield "relu", lambda x: x.relu(), None, [np.round(rnd(n, m))]  # zeros included
    yield "matmul", lambda x, y: x @ y, None, [rnd(n, m), rnd(m, k)]
    yield "matmul (batched)", lambda x, y: x @ y, None, [rnd(2, n, m), rnd(m, k)]
    yield "matmul (1-d)", lambda x, y: x @ y, None, [rnd(m), rnd(2, m, k)]


def error_figure(errors: dict[str, float]) -> Figure:
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    names = list(errors)
    vals = [max(errors[n], 1e-18) for n in names]
    ax.barh(names, vals, color="C0")
    ax.set_xscale("log")
    ax.axvline(np.finfo(np.float64).eps, color="k", ls="--", lw=1, label="float64 machine eps")
    ax.set(xlabel="max |our grad - torch grad| over random shapes (0 shown as 1e-18)",
           title="every backward function vs torch.autograd (float64)")  # fmt: skip
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def unbroadcast_figure(rng: np.random.Generator) -> Figure:
    g = np.round(rng.standard_normal((3, 4)), 1)
    panels = [("upstream grad (3, 4)", g), ("to bias (4,)", unbroadcast(g, (4,))[None, :]),
              ("to column (3, 1)", unbroadcast(g, (3, 1)))]  # fmt: skip
    fig = Figure(figsize=(10, 3))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [4, 4, 1.4]})
    for ax, (title, arr) in zip(axes, panels, strict=True):
        ax.imshow(arr, cmap="RdBu", vmin=-4, vmax=4)
        for (i, j), v in np.ndenumerate(arr):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=9)
        ax.set(title=title, xticks=[], yticks=[])
    fig.suptitle("unbroadcast: the gradient of a broadcast input sums over the copies it made")
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=21, args=args) as run:
        run.record_source("data", "random float64 arrays (numpy default_rng(seed))")
        rng = np.random.default_rng(args.seed)
        trials = 2 if args.smoke else args.trials
        grad_errors: dict[str, float] = {}
        out_errors: dict[str, float] = {}
        for _ in range(trials):
            for name, fn, torch_fn, arrays in op_cases(rng):
                c = compare_with_torch(fn, arrays, torch_fn)
                grad_errors[name] = max(grad_errors.get(name, 0.0), c.grad_error)
                out_errors[name] = max(out_errors.get(name, 0.0), c.output_error)
        run.save_fig(error_figure(grad_errors), "backward_vs_torch")
        run.save_fig(unbroadcast_figure(rng), "unbroadcast")

        # the order backward walks: c = a * b; d = c + a; e = d.exp().sum()
        a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
        c = a * b
        e = (c + a).exp().sum()
        order = [t.grad_fn or ("a" if t is a else "b") for t in _topological_order(e)]
        run.print("topological order (inputs first): " + " -> ".join(order))
        e.backward()
        # by hand: de/da = exp(ab + a) (b + 1), de/db = exp(ab + a) a
        hand_a = np.exp(a.data * b.data + a.data) * (b.data + 1)
        hand_err = float(np.abs(a.grad.data - hand_a).max())

        return run.finish(
            {
                "ops_checked": len(grad_errors),
                "trials_per_op": trials,
                "max_grad_error_vs_torch": max(grad_errors.values()),
                "max_output_error_vs_torch": max(out_errors.values()),
                "grad_error_per_op": grad_errors,
                "hand_derivation_error": hand_err,
                "topological_order": " -> ".join(order),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
