"""Day 21 — The chain rule in code: a numpy `Tensor` engine with backward functions.

Checks every backward function of `arena_core.autograd` (log, exp, multiply, divide, pow, sum,
mean, reshape, permute, getitem incl. repeated indices, maximum with ties, relu, matmul incl.
batched and 1-d) against torch.autograd with random output gradients in float64, draws how
`unbroadcast` sums a gradient back to a broadcast input's shape (the mechanism diagram, on a
worked example computed by the engine), and prints the topological order
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
from arena_core.utils import DayArgs, Run, diagrams, run_script


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
    yield "sum over a dim (keepdim)", lambda x: x.sum(dim=1, keepdim=True), None, [rnd(n, m, k)]
    yield "mean over dims", lambda x: x.mean(dim=(0, 2)), None, [rnd(n, m, k)]
    yield "reshape", lambda x: x.reshape(m, n * k), None, [rnd(n, m, k)]
    yield "permute", lambda x: x.permute(2, 0, 1), None, [rnd(n, m, k)]
    yield (
        "index (repeated integers)",
        lambda x: x[idx],
        lambda x: x[torch.as_tensor(idx)],
        [rnd(n, m)],
    )
    yield "index (slices)", lambda x: x[1:, ::2], None, [rnd(n + 1, m)]
    tie = np.round(rnd(n, m))  # rounding makes ties common
    yield "maximum (ties)", lambda x, y: x.maximum(y), torch.maximum, [tie, np.round(rnd(n, m))]
    yield "relu (zeros included)", lambda x: x.relu(), None, [np.round(rnd(n, m))]
    yield "matmul", lambda x, y: x @ y, None, [rnd(n, m), rnd(m, k)]
    yield "matmul (batched)", lambda x, y: x @ y, None, [rnd(2, n, m), rnd(m, k)]
    yield "matmul (1-d @ batched)", lambda x, y: x @ y, None, [rnd(m), rnd(2, m, k)]


def error_figure(errors: dict[str, float]) -> Figure:
    """Largest gradient difference per op; ops that agree bit for bit are marked, not barred."""
    fig = Figure(figsize=(8, 5.2))
    ax = fig.subplots()
    names = list(errors)
    y = np.arange(len(names))
    floor = 1e-17
    vals = [errors[n] if errors[n] > 0 else np.nan for n in names]
    ax.barh(y, vals, left=floor, color="C0")
    for i, n in enumerate(names):
        if errors[n] == 0:
            box = {"fc": "white", "ec": "none", "pad": 1}
            ax.text(floor * 1.4, i, "exactly 0: identical to torch", va="center", fontsize=9,
                    color="0.3", bbox=box, zorder=5)  # fmt: skip
    ax.set_yticks(y, names)
    ax.set_xscale("log")
    ax.set_xlim(floor, 1e-12)
    ax.axvline(np.finfo(np.float64).eps, color="k", ls="--", lw=1,
               label="float64 machine epsilon (2.2e-16)")  # fmt: skip
    ax.set(xlabel="largest |our gradient − torch's gradient| over random shapes",
           title="each backward function against torch.autograd (float64)")  # fmt: skip
    ax.set_ylim(len(names) - 0.4, -0.8)  # first op on top, room below the title
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def worked_example() -> dict:
    """A bias of shape (3,) added to a (2, 3) batch; the upstream gradient is 1..6."""
    G = np.arange(1.0, 7.0).reshape(2, 3)
    x = Tensor(np.zeros((2, 3)), requires_grad=True)
    b = Tensor([1.0, -1.0, 2.0], requires_grad=True)
    c = Tensor([[0.5], [-0.5]], requires_grad=True)  # a (2, 1) column, broadcast along rows
    ((x + b + c) * Tensor(G)).sum().backward()
    return {
        "upstream": G,
        "bias": b.data,
        "bias_grad": b.grad.data,
        "column_grad": c.grad.data,
        "unbroadcast_bias": unbroadcast(G, (3,)),
        "unbroadcast_column": unbroadcast(G, (2, 1)),
    }


def mechanism_figure(ex: dict) -> Figure:
    """Forward: the bias is copied to every row. Backward: the copies' gradients are summed."""
    fig, ax = diagrams.canvas(width=16, height=7.5, scale=0.5)
    red = "#b03a2e"
    copies = np.tile(ex["bias"], (2, 1))
    # forward row: b -> two copies -> loss
    diagrams.label(ax, (-0.4, 5.5), "forward", fontsize=12, ha="right", fontweight="bold")
    diagrams.matrix(ax, ex["bias"], xy=(0, 5.0), title="bias b, shape (3,)", cmap="Oranges")
    diagrams.arrow(ax, (3.2, 5.5), (6.3, 5.5), "copy to each row")
    diagrams.matrix(ax, copies, xy=(6.5, 4.5), title="b broadcast to (2, 3)", cmap="Oranges")
    diagrams.arrow(ax, (9.7, 5.5), (12.8, 5.5), "+ x, … , loss")
    diagrams.box(ax, (13.0, 5.0), "loss L", width=1.8, height=1.0, role="output")
    # backward row: loss -> one gradient per copy -> column sums
    diagrams.label(ax, (-0.4, 1.0), "backward", fontsize=12, ha="right", fontweight="bold",
                   color=red)  # fmt: skip
    diagrams.box(ax, (13.0, 0.5), "loss L", width=1.8, height=1.0, role="output")
    diagrams.arrow(ax, (12.8, 1.0), (9.7, 1.0), "∂L/∂(each copy)", color=red)
    diagrams.matrix(ax, ex["upstream"], xy=(6.5, 0.0), title="upstream gradient G, (2, 3)")
    diagrams.arrow(ax, (6.3, 1.0), (3.2, 1.0), "sum each column", color=red)
    diagrams.matrix(ax, ex["bias_grad"], xy=(0, 0.5), title="gradient of b, (3,)",
                    highlight=[(0, 0), (0, 1), (0, 2)])  # fmt: skip
    diagrams.label(ax, (1.5, -0.1), "5 = 1 + 4   7 = 2 + 5   9 = 3 + 6", fontsize=10.5,
                   color=red)  # fmt: skip
    diagrams.label(ax, (7.3, 3.0), "each entry of b is used once per row, and the chain rule "
                   "adds up one term per use:\n∂L/∂b[j] = G[0, j] + G[1, j]", fontsize=10.5,
                   color="0.25")  # fmt: skip
    diagrams.finish(ax)
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
        ex = worked_example()
        run.save_fig(mechanism_figure(ex), "mechanism")
        run.print(f"worked example: upstream gradient {ex['upstream'].tolist()}")
        run.print(f"  gradient of the (3,) bias: {ex['bias_grad'].tolist()}")
        run.print(f"  gradient of the (2, 1) column: {ex['column_grad'].tolist()}")

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
                "worked_example_bias_grad": ex["bias_grad"].tolist(),
                "worked_example_column_grad": ex["column_grad"].ravel().tolist(),
                "topological_order": " -> ".join(order),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
