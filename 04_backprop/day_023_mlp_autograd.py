"""Day 23 — Train an MLP with our own autograd: the numpy `Tensor` engine on MNIST.

ARENA's setting: a 784-64-64-10 ReLU MLP, plain SGD with lr 0.01, batch 512, 5 epochs; ARENA
reports 57.6 / 78.4 / 83.2 / 86.0 / 87.7 % test accuracy per epoch on full MNIST. We train that
network with `arena_core.autograd` (Parameter, Linear, cross_entropy, SGD - all numpy), and a torch
twin from the same initial weights on the same minibatches, on MNIST (full when cached or
downloadable, else the bundled 5k subset) and on Fashion-MNIST (full 60k, offline from the Debian
package when installed). Accuracy per epoch for both engines, loss curves, and epoch times. On a
subset (4,000 training images = 8 SGD steps per epoch) it also trains for the same number of SGD
steps as ARENA's 5 full-MNIST epochs (590), which is the comparable budget.

Run:  arena run 23 [--smoke] [--publish]   (or python 04_backprop/day_023_mlp_autograd.py)
Full run: ~1 min on 2 CPU cores (two datasets, two engines). Smoke: ~4 s.
"""

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from arena_core.autograd.nn import MLP
from arena_core.autograd.training import (
    image_arrays,
    torch_twin,
    train_numpy_mlp,
    train_torch_mlp,
)
from arena_core.data import DataUnavailableError, load_fashion_mnist, load_mnist
from arena_core.utils import DayArgs, Run, run_script

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


def curves_figure(results: dict) -> Figure:
    fig = Figure(figsize=(11, 4))
    ax_acc, ax_loss = fig.subplots(1, 2)
    for i, (name, r) in enumerate(results.items()):
        epochs = np.arange(1, len(r["ours"].test_accuracy) + 1)
        ax_acc.plot(epochs, 100 * np.array(r["ours"].test_accuracy), "o-", color=f"C{i}",
                    label=f"{name}: ours (numpy)")  # fmt: skip
        ax_acc.plot(epochs, 100 * np.array(r["torch"].test_accuracy), "x--", color=f"C{i}",
                    label=f"{name}: torch twin")  # fmt: skip
        ax_loss.plot(r["ours"].train_loss, color=f"C{i}", label=f"{name}: ours")
        ax_loss.plot(r["torch"].train_loss, "--", color=f"C{i}", alpha=0.6, label=f"{name}: torch")
    if "mnist" in results and len(results["mnist"]["ours"].test_accuracy) >= 1:
        n = min(len(ARENA_MNIST_ACCURACY), len(results["mnist"]["ours"].test_accuracy))
        ax_acc.plot(np.arange(1, n + 1), 100 * np.array(ARENA_MNIST_ACCURACY[:n]), "k:",
                    label="ARENA, full MNIST")  # fmt: skip
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="784-64-64-10 MLP, SGD lr 0.01")
    ax_acc.legend(fontsize=7)
    ax_loss.set(xlabel="SGD step", ylabel="train cross-entropy", title="training loss")
    ax_loss.legend(fontsize=7)
    fig.tight_layout()
    return fig


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
                label=f"{name} subset: ours")  # fmt: skip
        ax.plot(x, 100 * np.array(r["torch"].test_accuracy), "--", color=f"C{i}", alpha=0.7,
                label=f"{name} subset: torch twin")  # fmt: skip
    ax.plot(np.arange(1, 6), 100 * np.array(ARENA_MNIST_ACCURACY), "ko:",
            label="ARENA, full MNIST (per epoch)")  # fmt: skip
    ax.set(xlabel="SGD steps, in units of one full-MNIST epoch (118 steps)",
           ylabel="test accuracy (%)", title="same number of SGD steps as ARENA")  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=23, args=args) as run:
        epochs = 1 if args.smoke else args.epochs
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
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
