"""Day 24 — Gradient checking: finite differences against both of our autograd engines.

1. The finite-difference error curve: forward vs central differences for d/dx e^x at x = 1, over
   eps from 1e-15 to 1e-1 in float64 and float32 (truncation error vs rounding error).
2. `arena_core.autograd.gradcheck` on a suite of functions for the `Tensor` engine (broadcasting,
   matmul, indexing, an MLP with cross-entropy) and the `Value` engine: max relative error each.
3. A deliberately wrong backward (tanh' written as 1 - tanh instead of 1 - tanh^2) is caught.
4. Random expression graphs (the same generator idea as tests/autograd/test_property_engines.py):
   how many agree with torch.autograd.
The mechanism diagram is the check itself on tanh of a 2 x 2 input along a direction v: the
numeric slopes, the correct backward and the planted bug side by side.

Run:  arena run 24 [--smoke] [--publish]   (or python 04_backprop/day_024_grad_check.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~3 s.
"""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from arena_core.autograd import Tensor
from arena_core.autograd.gradcheck import (
    finite_difference_errors,
    gradcheck_tensor,
    gradcheck_value,
    numeric_grad,
)
from arena_core.autograd.nn import cross_entropy
from arena_core.autograd.torch_compare import compare_with_torch
from arena_core.utils import DayArgs, Run, diagrams, run_script


@dataclass
class Args(DayArgs):
    random_graphs: int = 200  # random expression graphs compared with torch


def buggy_tanh(x: Tensor) -> Tensor:
    """tanh with a classic bug in its backward: 1 - tanh instead of 1 - tanh^2."""
    out = np.tanh(x.data)
    return Tensor.from_op(
        out, "buggy_tanh", lambda g, saved, meta: (g * (1 - saved[0]),), (x,), (out,)
    )


def tensor_suite(rng: np.random.Generator) -> dict:
    targets = rng.integers(0, 4, 6)
    idx = np.array([0, 2, 2, 1])
    return {
        "broadcast multiply/divide": (lambda a, b: a * b / (b * b + 1.0), [(3, 4), (4,)]),
        "matmul + relu": (lambda a, b: (a @ b).relu(), [(5, 3), (3, 4)]),
        "exp/log/sum": (lambda a: (a.exp().sum(dim=1) + 1.0).log(), [(4, 5)]),
        "indexing with repeats": (lambda a: a[idx] * a[idx], [(3, 4)]),
        "permute/reshape": (lambda a: a.permute(1, 0).reshape(2, -1).tanh(), [(3, 4)]),
        "maximum": (lambda a, b: a.maximum(b), [(4, 4), (4, 4)]),
        "MLP + cross-entropy": (
            lambda x, w1, w2: cross_entropy((x @ w1).relu() @ w2, targets),
            [(6, 5), (5, 8), (8, 4)],
        ),
        "buggy tanh (planted)": (buggy_tanh, [(3, 3)]),
    }


VALUE_SUITE = {
    "neuron": (lambda a, b, c: (a * b + c).tanh(), [0.5, -1.2, 0.3]),
    "rational": (lambda a, b, c: (a**2 + 1) / (b * c + 3), [0.5, -1.2, 0.3]),
    "exp/log": (lambda a, b, c: (a.exp() + b.exp()).log() * c, [0.5, -1.2, 0.3]),
    "relu mix": (lambda a, b, c: (a - b).relu() * c + 2.0 / (c * c + 1), [0.5, -1.2, 0.3]),
}


def eps_figure(curves: dict) -> Figure:
    fig = Figure(figsize=(8, 4.8))
    ax = fig.subplots()
    colours = {("float64", "forward"): "C0", ("float64", "central"): "C1",
               ("float32", "forward"): "C2", ("float32", "central"): "C3"}  # fmt: skip
    for (dtype, kind), c in curves.items():
        style = "-" if kind == "central" else "--"
        ax.loglog(c["eps"], np.maximum(c[kind], 1e-17), style, marker=".",
                  color=colours[(dtype, kind)], label=f"{kind} difference, {dtype}")  # fmt: skip
        u = float(np.finfo(dtype).eps)
        ax.axvline(u ** (0.5 if kind == "forward" else 1 / 3), color=colours[(dtype, kind)],
                   ls=":", lw=1.2)  # fmt: skip
    ax.plot([], [], "k:", lw=1.2, label="predicted best step, √u or u^(1/3)")
    ax.set(xlabel="step ε", ylabel="|finite difference − exact derivative|",
           title="d/dx eˣ at x = 1: rounding error (left), truncation error (right)")  # fmt: skip
    ax.legend(loc="lower left", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def suite_figure(errors: dict[str, float]) -> Figure:
    fig = Figure(figsize=(8, 4.8))
    ax = fig.subplots()
    names = list(errors)
    colors = ["C1" if "buggy" in n else "C0" for n in names]
    ax.barh(names, [max(errors[n], 1e-16) for n in names], color=colors)
    ax.set_xscale("log")
    ax.axvline(1e-5, color="k", ls="--", lw=1, label="tolerance (relative 1e-5)")
    ax.set(xlabel="largest relative error, backward against central differences (float64)",
           title="gradient check of both engines, one bug planted")  # fmt: skip
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def worked_example() -> dict:
    """The check on tanh of a 2 x 2 input along a fixed direction v: numeric vs both backwards."""
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    v = np.array([[1.0, 2.0], [-1.0, 0.5]])

    def projected(arrs):
        return float((np.tanh(arrs[0]) * v).sum())

    (numeric,) = numeric_grad(projected, [x], eps=1e-6)
    out = {"x": x, "v": v, "numeric": numeric}
    for name, fn in [("correct", lambda t: t.tanh()), ("buggy", buggy_tanh)]:
        leaf = Tensor(x.copy(), requires_grad=True)
        fn(leaf).backward(v)
        out[name] = leaf.grad.data.copy()
    return out


def mechanism_figure(ex: dict) -> Figure:
    """What a gradient check computes, on tanh of a 2 x 2 input, and how it exposes a bug."""
    fig, ax = diagrams.canvas(width=24, height=9, scale=0.42)
    red = "#b03a2e"
    c = 1.6
    kw = {"cell": c, "fmt": "{:.4f}"}
    top, bottom = 5.0, -0.6
    diagrams.matrix(ax, ex["x"], xy=(0, top), title="input x", cell=c, fmt="{:g}")
    diagrams.matrix(ax, ex["v"], xy=(0, bottom), title="direction v\n(random in the check)",
                    cell=c, fmt="{:g}", cmap="Greys")  # fmt: skip
    # numeric path (top)
    diagrams.arrow(ax, (3.6, top + c), (13.7, top + c))
    diagrams.label(ax, (8.6, top + c + 0.25), "for each entry x[i, j]: nudge it by ±ε (ε = 1e-6),\n"
                   "s± = Σ v ⊙ tanh(x ± ε·e_ij), slope = (s₊ − s₋) / 2ε", fontsize=10.5,
                   va="bottom")  # fmt: skip
    diagrams.label(ax, (8.6, top + c - 0.35), "2 × 4 forward passes, no backward", fontsize=10,
                   va="top", color="0.35")  # fmt: skip
    diagrams.matrix(ax, ex["numeric"], xy=(14.0, top), title="numeric slopes", **kw)
    # analytic path (bottom)
    diagrams.arrow(ax, (3.6, bottom + c), (13.7, bottom + c), color=red)
    diagrams.label(ax, (8.6, bottom + c + 0.25), "one forward, then backward(v):\nthe "
                   "vector-Jacobian product vᵀJ", fontsize=10.5, va="bottom",
                   color=red)  # fmt: skip
    diagrams.matrix(ax, ex["correct"], xy=(14.0, bottom), title="backward,\n1 − tanh²", **kw)
    gap = float(np.abs(ex["correct"] - ex["numeric"]).max())
    diagrams.label(ax, (15.6, top - 0.45), f"↕ differ by at most {gap:.0e}", fontsize=10.5,
                   va="top")  # fmt: skip
    bad = [(i, j) for (i, j), d in np.ndenumerate(np.abs(ex["buggy"] - ex["numeric"])) if d > 1e-6]
    diagrams.matrix(ax, ex["buggy"], xy=(19.6, bottom), title="backward with the bug,\n1 − tanh",
                    highlight=bad, cmap="Oranges", **kw)  # fmt: skip
    diagrams.label(ax, (21.2, top + 1.3), "the bug: 3 of 4 entries\ndisagree (red). At x = 0\n"
                   "both derivatives are 1,\nso that entry cannot\nsee it.", fontsize=10.5,
                   color=red)  # fmt: skip
    diagrams.finish(ax)
    return fig


def random_graph(rng: np.random.Generator, n_ops: int):
    """A random composition of domain-safe ops on two (3, 4)-broadcastable inputs."""
    unary = [
        lambda x: x.tanh(), lambda x: x.relu(), lambda x: (x * x + 1.0).log(),
        lambda x: x.tanh().exp(), lambda x: x.sum(dim=-1, keepdim=True),
        lambda x: 2.0 / (x * x + 1.0),
    ]  # fmt: skip
    binary = [lambda x, y: x + y, lambda x, y: x * y, lambda x, y: x - y, lambda x, y: x.maximum(y)]
    plan = [
        (rng.integers(2), rng.integers(6), rng.integers(4), rng.integers(0, 99, 2))
        for _ in range(n_ops)
    ]

    def fn(a, b):
        pool = [a, b]
        for is_binary, u, bi, (i, j) in plan:
            x, y = pool[i % len(pool)], pool[j % len(pool)]
            pool.append(binary[bi](x, y) if is_binary else unary[u](x))
        return pool[-1] * 1.0 + pool[0].sum() * 0.0

    return fn


def main(args: Args) -> dict:
    with Run(day=24, args=args) as run:
        run.record_source("data", "synthetic float64 inputs (numpy default_rng(seed))")
        rng = np.random.default_rng(args.seed)
        ex = worked_example()
        run.save_fig(mechanism_figure(ex), "mechanism")
        run.print(f"worked example, tanh at {ex['x'].tolist()} along v = {ex['v'].tolist()}:")
        for name in ("numeric", "correct", "buggy"):
            run.print(f"  {name:8s} {np.round(ex[name], 4).tolist()}")
        c01 = finite_difference_errors(math.exp, math.exp, 1.0, [0.1])  # the worked example
        at_01 = {kind: float(c01[kind][0]) for kind in ("forward", "central")}
        run.print(f"  e^x at x = 1, eps = 0.1: forward error {at_01['forward']:.4g}, "
                  f"central error {at_01['central']:.4g}")  # fmt: skip

        eps = np.logspace(-15, -1, 29)
        curves = {}
        for dtype in (np.float64, np.float32):
            c = finite_difference_errors(math.exp, math.exp, 1.0, eps, dtype=dtype)
            for kind in ("forward", "central"):
                curves[(dtype.__name__, kind)] = c
        run.save_fig(eps_figure(curves), "finite_difference_error")
        best = {
            f"best_eps_{d}_{k}": float(c["eps"][np.argmin(c[k])]) for (d, k), c in curves.items()
        }

        errors, passed = {}, {}
        for name, (fn, shapes) in tensor_suite(rng).items():
            r = gradcheck_tensor(fn, [rng.standard_normal(s) for s in shapes])
            errors[f"Tensor: {name}"], passed[f"Tensor: {name}"] = r.max_rel_error, r.ok
        for name, (fn, xs) in VALUE_SUITE.items():
            r = gradcheck_value(fn, xs)
            errors[f"Value: {name}"], passed[f"Value: {name}"] = r.max_rel_error, r.ok
        run.save_fig(suite_figure(errors), "gradcheck_suite")

        n_graphs = 20 if args.smoke else args.random_graphs
        agree, worst = 0, 0.0
        for _ in range(n_graphs):
            fn = random_graph(rng, int(rng.integers(1, 9)))
            shapes = [(3, 4), [(3, 4), (4,), (3, 1), (1, 4)][rng.integers(4)]]
            c = compare_with_torch(fn, [rng.standard_normal(s) for s in shapes])
            worst = max(worst, c.grad_error)
            agree += c.grad_error < 1e-9  # float64: rounding only

        correct = [k for k in passed if "buggy" not in k]
        return run.finish(
            {
                **best,
                "eps_0.1_forward_error": at_01["forward"],
                "eps_0.1_central_error": at_01["central"],
                "worked_example_numeric": ex["numeric"].tolist(),
                "worked_example_backward_correct": ex["correct"].tolist(),
                "worked_example_backward_buggy": ex["buggy"].tolist(),
                "gradcheck_all_correct_ops_pass": all(passed[k] for k in correct),
                "gradcheck_worst_rel_error_correct_ops": max(errors[k] for k in correct),
                "gradcheck_catches_planted_bug": not passed["Tensor: buggy tanh (planted)"],
                "planted_bug_rel_error": errors["Tensor: buggy tanh (planted)"],
                "gradcheck_rel_errors": errors,
                "random_graphs_checked": n_graphs,
                "random_graphs_agreeing_with_torch": agree,
                "random_graphs_worst_grad_error": worst,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
