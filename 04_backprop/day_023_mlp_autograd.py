"""Day 23 — Train an MLP with our own autograd: the numpy `Tensor` engine on MNIST.

ARENA's setting: a 784-64-64-10 ReLU MLP, plain SGD with lr 0.01, batch 512, 5 epochs; ARENA
reports 57.6 / 78.4 / 83.2 / 86.0 / 87.7 % test accuracy per epoch on full MNIST. We train that
network with `arena_core.autograd` (Parameter, Linear, cross_entropy, SGD - all numpy), and a torch
twin from the same initial weights on the same minibatches, on MNIST (full when cached or
downloadable, else the bundled 5k subset) and on Fashion-MNIST (full 60k, offline from the Debian
package when installed). Accuracy per epoch for both engines, loss curves, and epoch times. The
mechanism diagram is one training step, with a worked example of the loss (logits [2, 1, 0],
label 0) and one SGD step computed by the engine. On a
subset (4,000 training images = 8 SGD steps per epoch) it also trains for the same number of SGD
steps as ARENA's 5 full-MNIST epochs (590), which is the comparable budget.

Run:  arena run 23 [--smoke] [--publish]   (or python 04_backprop/day_023_mlp_autograd.py)
Full run: ~1 min on 2 CPU cores (two datasets, two engines). Smoke: ~4 s.
"""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from arena_core.autograd import Tensor, no_grad
from arena_core.autograd.nn import MLP, Linear, cross_entropy
from arena_core.autograd.optim import SGD
from arena_core.autograd.training import (
    image_arrays,
    torch_twin,
    train_numpy_mlp,
    train_torch_mlp,
)
from arena_core.data import DataUnavailableError, load_fashion_mnist, load_mnist
from arena_core.utils import DayArgs, Run, diagrams, run_script

ARENA_MNIST_ACCURACY = [0.576, 0.784, 0.832, 0.860, 0.877]  # ARENA 0.4, full MNIST, per epoch
FULL_TRAIN_SIZE = 60_000  # MNIST and Fashion-MNIST training sets


@dataclass
class Args(DayArgs):
    epochs: int = 5  # passes over the training set (ARENA: 5)
    lr: float = 0.01  # SGD learning rate (ARENA: 0.01)
    batch_size: int = 512  # minibatch size (ARENA: 512)
    hidden: int = 64  # width of both hidden layers (ARENA: 64)
    datasets: str = "mnist,fashion_mnist"  # comma-separated: mnist, fashion_mnist


LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}


PRETTY = {"mnist": "MNIST subset", "fashion_mnist": "Fashion-MNIST"}


def curves_figure(results: dict) -> Figure:
    fig = Figure(figsize=(11, 4.2))
    ax_acc, ax_loss = fig.subplots(1, 2)
    for i, (name, r) in enumerate(results.items()):
        label = PRETTY.get(name, name)
        epochs = np.arange(1, len(r["ours"].test_accuracy) + 1)
        ax_acc.plot(epochs, 100 * np.array(r["ours"].test_accuracy), "o-", color=f"C{i}",
                    label=f"{label}: my engine")  # fmt: skip
        ax_acc.plot(epochs, 100 * np.array(r["torch"].test_accuracy), "x--", color=f"C{i}",
                    markersize=9, label=f"{label}: torch twin")  # fmt: skip
        ax_loss.plot(r["ours"].train_loss, color=f"C{i}", label=f"{label}: my engine")
        ax_loss.plot(r["torch"].train_loss, "--", color=f"C{i}", alpha=0.6,
                     label=f"{label}: torch twin")  # fmt: skip
    if "mnist" in results and len(results["mnist"]["ours"].test_accuracy) >= 1:
        n = min(len(ARENA_MNIST_ACCURACY), len(results["mnist"]["ours"].test_accuracy))
        ax_acc.plot(np.arange(1, n + 1), 100 * np.array(ARENA_MNIST_ACCURACY[:n]), "k:",
                    label="ARENA's reported curve, full MNIST")  # fmt: skip
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(0, 100),
               title="784-64-64-10 MLP, SGD lr 0.01, batch 512")  # fmt: skip
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(loc="lower right", fontsize=8.5)
    ax_loss.set(xlabel="SGD step", ylabel="training cross-entropy (nats)",
                title="training loss, per minibatch")  # fmt: skip
    ax_loss.legend(loc="upper right", fontsize=8.5)
    fig.tight_layout()
    return fig


def worked_example(lr: float = 0.1) -> dict:
    """One SGD step of a Linear(2 -> 3) layer on one input, with the engine's own code."""
    layer = Linear(2, 3, rng=np.random.default_rng(0))
    layer.weight.data[...] = [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    layer.bias.data[...] = 0.0
    x, target = Tensor(np.array([[1.0, 1.0]], dtype=np.float32)), np.array([0])
    logits = layer(x)
    with no_grad():
        probs = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
    loss = cross_entropy(logits, target)
    layer.zero_grad()
    loss.backward()
    grad_b = layer.bias.grad.data.copy()
    SGD(layer.parameters(), lr=lr).step()
    with no_grad():
        after = cross_entropy(layer(x), target)
    return {
        "x": x.data[0], "logits": logits.data[0], "probs": probs.data[0], "loss": loss.item(),
        "grad_logits": grad_b, "grad_weight": layer.weight.grad.data.copy(),
        "bias_after": layer.bias.data.copy(), "loss_after": after.item(), "lr": lr,
    }  # fmt: skip


def mechanism_figure(ex: dict) -> Figure:
    """One training step: forward through the MLP, backward fills .grad, SGD updates in place."""
    fig, ax = diagrams.canvas(width=22, height=11, scale=0.42)
    red = "#b03a2e"
    stages = [("minibatch\n512 × 784", "input", 2.2), ("Linear\n784 → 64", "param", 2.0),
              ("ReLU", "op", 1.2), ("Linear\n64 → 64", "param", 2.0), ("ReLU", "op", 1.2),
              ("Linear\n64 → 10", "param", 2.0), ("cross-\nentropy", "op", 1.8),
              ("loss", "output", 1.3)]  # fmt: skip
    x, y, h, gap = 0.0, 8.2, 1.3, 0.55
    edges = []
    for text, role, w in stages:
        diagrams.box(ax, (x, y), text, width=w, height=h, role=role, fontsize=10.5)
        edges.append((x, x + w))
        x += w + gap
    for (_, right), (left, _) in zip(edges, edges[1:], strict=False):
        diagrams.arrow(ax, (right, y + h / 2), (left, y + h / 2))
    diagrams.label(ax, (edges[6][0] + 0.9, y + h + 0.45), "labels y", fontsize=10)
    diagrams.arrow(ax, (edges[6][0] + 0.9, y + h + 0.25), (edges[6][0] + 0.9, y + h))
    end = edges[-1][1]
    diagrams.label(ax, (0, y + h + 1.0), "1. forward: the engine records every op", fontsize=11,
                   ha="left", fontweight="bold")  # fmt: skip
    diagrams.arrow(ax, (end - 0.6, y - 0.35), (1.0, y - 0.35), color=red)
    diagrams.label(ax, (0, y - 1.3), "2. loss.backward(): the engine fills .grad of every "
                   "Parameter (orange)\n3. optimizer step, under no_grad: p ← p − lr · p.grad",
                   fontsize=10.5, color=red, ha="left")  # fmt: skip
    # the loss, zoomed in: the worked example
    diagrams.label(ax, (0, 5.6), "zoom on the loss for one input: logits "
                   f"{_vec(ex['logits'])}, label class 0", fontsize=11, ha="left",
                   fontweight="bold")  # fmt: skip
    c, yz = 1.5, 2.6
    diagrams.matrix(ax, ex["logits"], xy=(0.5, yz), title="logits z", fmt="{:.3g}", cell=c)
    diagrams.arrow(ax, (5.3, yz + c / 2), (8.2, yz + c / 2), "softmax")
    diagrams.matrix(ax, ex["probs"], xy=(8.5, yz), title="probabilities p", fmt="{:.3f}",
                    cmap="Greens", cell=c)  # fmt: skip
    diagrams.arrow(ax, (13.3, yz + c / 2), (16.2, yz + c / 2), "p − one-hot(0)", color=red)
    grad = [f"{v:+.3f}".replace("-", "−") for v in ex["grad_logits"]]
    for j, text in enumerate(grad):  # signed numbers, no colour scale needed
        diagrams.box(ax, (16.5 + j * c, yz), text, width=c, height=c, role="highlight"
                     if j == 0 else "neutral", fontsize=10)  # fmt: skip
    diagrams.label(ax, (16.5 + 1.5 * c, yz + c + 0.35), "∂loss/∂z", fontsize=10.5,
                   fontweight="bold")  # fmt: skip
    diagrams.label(ax, (10.75, yz - 0.5), f"loss = −log p[0] = {ex['loss']:.4f}", fontsize=10.5)
    diagrams.label(ax, (18.75, yz - 0.5), "raises z[0], lowers the others", fontsize=10.5,
                   color=red)  # fmt: skip
    diagrams.label(ax, (0, 0.7), f"one SGD step (lr {ex['lr']:g}) of the Linear layer that made "
                   f"these logits from the input {_vec(ex['x'])}:\nbias 0 → "
                   f"{_vec(ex['bias_after'], '{:+.4f}')}, loss {ex['loss']:.4f} → "
                   f"{ex['loss_after']:.4f}", fontsize=10.5, ha="left")  # fmt: skip
    diagrams.finish(ax)
    return fig


def _vec(v, fmt: str = "{:g}") -> str:
    return "[" + ", ".join(fmt.format(float(a)) for a in v).replace("-", "−") + "]"


def train_both(args: Args, data: tuple, epochs: int, report=None) -> dict:
    """Our MLP and its torch twin (same initial weights, same batches)."""
    sizes = [data[0].shape[1], args.hidden, args.hidden, 10]
    model = MLP(sizes, rng=np.random.default_rng(args.seed))
    twin = torch_twin(model)
    ours = train_numpy_mlp(model, data, epochs, args.lr, args.batch_size, args.seed, report)
    ref = train_torch_mlp(twin, data, epochs, args.lr, args.batch_size, args.seed)
    return {"ours": ours, "torch": ref}


def summarise(key: str, r: dict) -> dict:
    ours, ref = r["ours"], r["torch"]
    gap = np.abs(np.array(ours.test_accuracy) - np.array(ref.test_accuracy))
    return {
        f"{key}_test_accuracy_ours": ours.test_accuracy,
        f"{key}_test_accuracy_torch": ref.test_accuracy,
        f"{key}_final_test_accuracy": ours.test_accuracy[-1],
        f"{key}_max_accuracy_gap_vs_torch": float(gap.max()),
        f"{key}_epoch_seconds_ours": float(np.median(ours.epoch_seconds)),
        f"{key}_epoch_seconds_torch": float(np.median(ref.epoch_seconds)),
    }


def matched_figure(matched: dict, args: Args) -> Figure:
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    steps_per_full_epoch = math.ceil(FULL_TRAIN_SIZE / args.batch_size)
    for i, (name, r) in enumerate(matched.items()):
        n = len(r["ours"].test_accuracy)
        per_epoch = len(r["ours"].train_loss) / n  # SGD steps per subset epoch
        x = np.arange(1, n + 1) * per_epoch / steps_per_full_epoch
        ax.plot(x, 100 * np.array(r["ours"].test_accuracy), "-", color=f"C{i}",
                label=f"{PRETTY.get(name, name)}: my engine")  # fmt: skip
        ax.plot(x, 100 * np.array(r["torch"].test_accuracy), "--", color=f"C{i}", alpha=0.7,
                label=f"{PRETTY.get(name, name)}: torch twin")  # fmt: skip
    ax.plot(np.arange(1, 6), 100 * np.array(ARENA_MNIST_ACCURACY), "ko:",
            label="ARENA's reported curve, full MNIST")  # fmt: skip
    ax.set(xlabel="SGD steps, in units of one full-MNIST epoch (118 steps)",
           ylabel="test accuracy (%)",
           title="the same number of SGD steps as ARENA's 5 epochs")  # fmt: skip
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=23, args=args) as run:
        epochs = 1 if args.smoke else args.epochs
        ex = worked_example()
        run.save_fig(mechanism_figure(ex), "mechanism")
        run.print(
            f"worked example: logits {_vec(ex['logits'])}, softmax {_vec(ex['probs'], '{:.4f}')}, "
            f"loss {ex['loss']:.4f}, d loss / d logits {_vec(ex['grad_logits'], '{:+.4f}')}; "
            f"after one SGD step (lr {ex['lr']:g}) the loss is {ex['loss_after']:.4f}"
        )
        results, matched, metrics, missing = {}, {}, {}, {}
        for i, name in enumerate(n.strip() for n in args.datasets.split(",")):
            try:
                train, test = LOADERS[name]("train"), LOADERS[name]("test")
            except DataUnavailableError as err:
                run.print(f"{name}: unavailable ({err}); skipped")
                run.record_source(name, f"unavailable: {err}")
                missing[name] = str(err)
                continue
            run.record_source("data" if i == 0 else name, train.source)
            if args.smoke:
                train, test = train.take(600), test.take(200)
            data = image_arrays(train, test)

            def report(epoch, hist, name=name):
                acc = hist.test_accuracy[-1]
                run.print(f"{name} epoch {epoch + 1}: test accuracy {acc:.2%} (ours)")
                run.log(**{f"{name}_test_accuracy_ours": list(hist.test_accuracy)})

            results[name] = train_both(args, data, epochs, report)
            metrics.update({f"{name}_n_train": len(train), f"{name}_n_test": len(test)})
            metrics.update(summarise(name, results[name]))
            # A subset has far fewer SGD steps per epoch than the 60k-image original: also train
            # for as many *steps* as ARENA's 5 epochs of full MNIST (5 x ceil(60000 / 512) = 590).
            if len(train) < FULL_TRAIN_SIZE and not args.smoke:
                steps_per_epoch = math.ceil(len(train) / args.batch_size)
                target = args.epochs * math.ceil(FULL_TRAIN_SIZE / args.batch_size)
                n_epochs = math.ceil(target / steps_per_epoch)
                run.print(f"{name}: subset, so also {n_epochs} epochs = {target} SGD steps")
                matched[name] = train_both(args, data, n_epochs)
                metrics[f"{name}_step_matched_epochs"] = n_epochs
                metrics.update(summarise(f"{name}_step_matched", matched[name]))
        if not results:
            why = "; ".join(f"{name}: {reason}" for name, reason in missing.items())
            raise DataUnavailableError(f"none of the datasets could be loaded ({why})")
        run.save_fig(curves_figure(results), "accuracy_curves")
        if matched:
            run.save_fig(matched_figure(matched, args), "step_matched_curves")
        metrics["arena_reported_mnist_accuracy"] = ARENA_MNIST_ACCURACY
        metrics["worked_example_loss"] = ex["loss"]
        metrics["worked_example_grad_logits"] = ex["grad_logits"].tolist()
        metrics["worked_example_loss_after_step"] = ex["loss_after"]
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
