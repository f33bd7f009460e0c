"""Day 20 — Autograd theory + a scalar `Value` engine: the chain rule, one node at a time.

Builds a single tanh neuron out of `Value`s, draws its computation graph as the mechanism diagram
(every node's value and gradient, every edge's stored local derivative), checks those gradients
against torch.autograd, shows that our engine leaves no
reference cycles (micrograd's closures do), and then trains micrograd's demo network (a 2-16-16-1
ReLU MLP, max-margin loss, on 100 `make_moons` points) with the engine: decision boundary and
loss curve.

Run:  arena run 20 [--smoke] [--publish]   (or python 04_backprop/day_020_value.py)
Full run: ~10 s on 2 CPU cores. Smoke: ~3 s.
"""

import gc
import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.datasets import make_moons

from arena_core.autograd import Value
from arena_core.autograd.graph_plot import plot_value_graph
from arena_core.autograd.value import topological_order
from arena_core.autograd.value_nn import ValueMLP, sgd_step, svm_loss
from arena_core.utils import DayArgs, Run, diagrams, run_script


@dataclass
class Args(DayArgs):
    n_points: int = 100  # make_moons points (micrograd's demo uses 100)
    steps: int = 100  # SGD steps; lr decays as 1.0 - 0.9 k / 100 like the demo
    hidden: int = 16  # width of both hidden layers


def neuron_graph() -> tuple[Value, dict]:
    """o = tanh(x1 w1 + x2 w2 + b), the example every autograd tutorial starts from."""
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    x1w1, x2w2 = x1 * w1, x2 * w2
    s = x1w1 + x2w2
    n = s + b
    o = n.tanh()
    names = {x1: "x1", x2: "x2", w1: "w1", w2: "w2", b: "b", x1w1: "x1·w1", x2w2: "x2·w2",
             s: "s", n: "n = s + b", o: "o = tanh(n)"}  # fmt: skip
    return o, names


def mechanism_figure(o: Value, names: dict) -> Figure:
    """The neuron's graph after backward: values, gradients, and the local derivative per edge."""
    fig, ax = diagrams.canvas(width=20, height=8, scale=0.42)
    centres = plot_value_graph(o, ax, names)
    xs = [x for x, _ in centres.values()]
    ys = [y for _, y in centres.values()]
    left, right, top, bottom = min(xs), max(xs), max(ys) + 1.35, min(ys) - 1.45
    diagrams.arrow(ax, (left, top), (right, top), "forward: each node computes its value and "
                   "stores d(node)/d(parent) on its incoming edges (red)", fontsize=11)  # fmt: skip
    diagrams.arrow(ax, (right, bottom), (left, bottom), color="#b03a2e", text_offset=(0, -0.8),
                   text="backward: grad of a node = sum over the edges leaving it of "
                   "(red number) × (grad at the edge's head)", fontsize=11)  # fmt: skip
    diagrams.finish(ax)
    return fig


def torch_neuron_grads() -> dict[str, float]:
    vals = {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.8813735870195432}
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in vals.items()}
    torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"]).backward()
    return {k: v.grad.item() for k, v in t.items()}


def cyclic_garbage(value_cls, n: int = 200) -> int:
    """Objects only the cycle collector can free after one forward+backward of a small chain."""
    gc.collect()
    gc.disable()
    try:
        xs = [value_cls(0.01 * i) for i in range(n)]
        out = xs[0]
        for x in xs[1:]:
            out = out * x + x
        out.backward()
        del out, xs, x
        return gc.collect()
    finally:
        gc.enable()


def boundary_figure(
    model: ValueMLP, X: np.ndarray, y: np.ndarray, losses, accs, res: int
) -> Figure:
    fig = Figure(figsize=(10, 4))
    ax, ax_loss = fig.subplots(1, 2)
    xx, yy = np.meshgrid(np.linspace(-1.6, 2.6, res), np.linspace(-1.1, 1.6, res * 3 // 4))
    scores = np.array([model([a, b])[0].data for a, b in zip(xx.ravel(), yy.ravel(), strict=True)])
    ax.contourf(xx, yy, scores.reshape(xx.shape) > 0, cmap="coolwarm", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=18, edgecolors="k", linewidths=0.4)
    ax.set(title="decision boundary of the 2-16-16-1 MLP", xlabel="first coordinate",
           ylabel="second coordinate")  # fmt: skip
    ax_loss.plot(losses, label="loss")
    ax_loss.set(xlabel="SGD step", ylabel="loss (hinge + L2 penalty, log scale)",
                title="training on the 100 points", yscale="log")  # fmt: skip
    twin = ax_loss.twinx()
    twin.plot(accs, color="C1", label="training accuracy")
    twin.set(ylabel="training accuracy", ylim=(0.4, 1.02))
    twin.grid(False)
    ax_loss.legend(loc="center right", handles=ax_loss.lines + twin.lines)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=20, args=args) as run:
        run.record_source("data", "sklearn.datasets.make_moons(noise=0.1), generated")
        n_points = 30 if args.smoke else args.n_points
        steps = 5 if args.smoke else args.steps

        # 1. the neuron graph, its gradients, and torch's
        o, names = neuron_graph()
        o.backward()
        run.save_fig(mechanism_figure(o, names), "mechanism")
        ref = torch_neuron_grads()
        ours = {name: node.grad for node, name in names.items() if name in ref}
        max_err = max(abs(ours[k] - ref[k]) for k in ref)

        # 2. reference cycles: ours vs micrograd
        chain = 20 if args.smoke else 200
        cycles_ours = cyclic_garbage(Value, chain)
        try:
            from micrograd.engine import Value as MicrogradValue

            cycles_micrograd = cyclic_garbage(MicrogradValue, chain)
        except ImportError:
            cycles_micrograd = -1

        # 3. micrograd's demo task with our engine
        X, y = make_moons(n_samples=n_points, noise=0.1, random_state=args.seed)
        y_pm = (2 * y - 1).tolist()
        model = ValueMLP(2, [args.hidden, args.hidden, 1], seed=args.seed)
        losses, accs = [], []
        start = time.perf_counter()
        for k in range(steps):
            loss, acc = svm_loss(model, X.tolist(), y_pm)
            model.zero_grad()
            loss.backward()
            sgd_step(model.parameters(), 1.0 - 0.9 * k / 100)
            losses.append(loss.data)
            accs.append(acc)
            run.log(step=k, loss=loss.data, accuracy=acc)
        train_seconds = time.perf_counter() - start
        n_nodes = len(topological_order(svm_loss(model, X.tolist(), y_pm)[0]))
        _, final_acc = svm_loss(model, X.tolist(), y_pm)
        fig = boundary_figure(model, X, y, losses, accs, res=12 if args.smoke else 80)
        run.save_fig(fig, "moons_boundary")

        return run.finish(
            {
                "neuron_output": o.data,
                "neuron_max_grad_error_vs_torch": max_err,
                "cyclic_garbage_objects_ours": cycles_ours,
                "cyclic_garbage_objects_micrograd": cycles_micrograd,
                "moons_final_accuracy": final_acc,
                "moons_final_loss": losses[-1],
                "moons_train_seconds": train_seconds,
                "graph_nodes_per_step": n_nodes,
                "n_parameters": len(model.parameters()),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
