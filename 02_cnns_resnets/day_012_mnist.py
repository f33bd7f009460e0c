"""Day 12 — MNIST and Fashion-MNIST classifiers: an MLP and a CNN built from our own layers.

Trains SimpleMLP (784-100-10, 79,510 parameters) and ConvNet (two conv+pool stages and two
linear layers) from `arena_core.nn` with `train_classifier` (Adam, per-epoch test evaluation,
checkpoints after every epoch) on two data sources, reported separately:

- MNIST from `arena_core.data.load_mnist`: the full 60k/10k set when it is cached/downloadable,
  otherwise the bundled 5,000-image subset (4,000 train / 1,000 test) -- metrics.json says which;
- Fashion-MNIST (full 60k/10k) from the Debian package files.

The trained CNNs are saved (state dict + builder config + data source + accuracy) as
`day_012_<dataset>_cnn.pt` in the run directory and, after a full run, in `~/.cache/arena/models`
so later days get them back with `arena_core.nn.load_day12_classifier(dataset)`.

Run:  arena run 12 [--smoke] [--publish] [--resume]   (or python 02_cnns_resnets/day_012_mnist.py)
Full run: ~7 min on one thread (offline sources; the 5 Fashion-MNIST CNN epochs are ~6 of them).
Smoke: ~10 s.
"""

import shutil
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.data import DataUnavailableError, load_fashion_mnist, load_mnist
from arena_core.data.sources import log_fallback
from arena_core.nn import ConvNet, SimpleMLP, evaluate, save_classifier, train_classifier
from arena_core.nn.classifiers import day12_checkpoint_name, models_dir
from arena_core.nn.conv import conv2d
from arena_core.utils import DayArgs, Run, diagrams, run_script


@dataclass
class Args(DayArgs):
    cnn_epochs_mnist_full: int = 2  # CNN epochs on full MNIST (60k images), when available
    cnn_epochs_mnist_subset: int = 5  # CNN epochs on the 4,000-image MNIST subset
    cnn_epochs_fashion: int = 5  # CNN epochs on Fashion-MNIST
    fashion_n_train: int = 60_000  # Fashion-MNIST training images used (class-balanced subset)
    mlp_epochs: int = 5  # MLP epochs (any source)
    batch_size: int = 64  # minibatch size
    lr: float = 1e-3  # Adam learning rate
    resume: bool = False  # continue from the checkpoints of an interrupted run
    threads: int = 1  # torch CPU threads (small convolutions: one thread beats two)


def load_sources(smoke: bool, fashion_n_train: int, record) -> dict:
    """name -> (train, test); without Fashion-MNIST the run goes on with MNIST (logged, recorded)"""
    sources = {"mnist": (load_mnist("train"), load_mnist("test"))}
    try:
        train = load_fashion_mnist("train").take(fashion_n_train)
        sources["fashion_mnist"] = (train, load_fashion_mnist("test"))
    except DataUnavailableError as err:
        log_fallback(f"Fashion-MNIST unavailable, the run goes on with MNIST only: {err}")
        record("data_fashion_mnist", f"unavailable, skipped: {err}")
    if smoke:  # a few hundred images: seconds, not minutes
        sources = {k: (tr.take(128), te.take(100)) for k, (tr, te) in sources.items()}
    return sources


def stroke_images() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 5x5 images of a vertical stroke, in column 1 and one pixel to the right (column 2)."""
    left, right = torch.zeros(5, 5), torch.zeros(5, 5)
    left[:, 1] = 1.0
    right[:, 2] = 1.0
    return left, right


#: A 3x3 "vertical line" kernel: +2 on the centre column, -1 on either side.
LINE_KERNEL = torch.tensor([[-1.0, 2.0, -1.0]] * 3)


def worked_example() -> dict[str, list]:
    """The post's hand example: one 3x3 kernel slid over both stroke images by our conv2d."""
    out = {}
    for name, image in zip(("left", "right"), stroke_images(), strict=True):
        out[name] = conv2d(image[None, None], LINE_KERNEL[None, None])[0, 0].tolist()
    return out


def mechanism_figure() -> Figure:
    """Weight sharing: 9 weights reused at every position; the response follows the stroke."""
    fig, ax = diagrams.canvas(width=15, height=16, scale=0.5)
    outputs = worked_example()
    font = 11
    for row, (name, image) in enumerate(zip(("left", "right"), stroke_images(), strict=True)):
        y = 9.6 - 7.0 * row
        where = "a stroke in column 2" if name == "left" else "the stroke moved one pixel right"
        diagrams.matrix(
            ax,
            image.tolist(),
            xy=(0, y),
            title=where,
            cmap="Greys",
            fontsize=font,
        )
        if row == 0:  # the 3x3 window that produces the top-left output
            ax.add_patch(Rectangle((0, y + 2), 3, 3, fill=False, edgecolor="#d62728", lw=2.5))
        diagrams.label(ax, (5.8, y + 2.5), "⊛", fontsize=20)
        diagrams.matrix(
            ax,
            LINE_KERNEL.tolist(),
            xy=(6.6, y + 1),
            title="the same kernel",
            cmap="Oranges",
            fontsize=font,
        )
        diagrams.label(ax, (10.4, y + 2.5), "=", fontsize=20)
        out = outputs[name]
        peak = max(range(3), key=lambda j: out[0][j])
        diagrams.matrix(
            ax,
            out,
            xy=(11.2, y + 1),
            title="feature map",
            cmap="Greens",
            fontsize=font,
            highlight=[(i, peak) for i in range(3)],
        )
    diagrams.label(
        ax,
        (0, 1.2),
        "Large red box: the 3×3 window behind the top-left output. Each of its rows gives\n"
        "(-1)·0 + 2·1 + (-1)·0 = 2, so the output is 6. Red columns: the peak of the feature map.\n"
        "The same 9 weights are used at every position, so the peak moves with the stroke.\n"
        "An MLP hidden unit has one weight per pixel (784 of them): a moved stroke meets\n"
        "different weights, which must be learned again.",
        fontsize=font,
        ha="left",
        va="center",
    )
    diagrams.finish(ax)
    return fig


def accuracy_figure(results: dict) -> Figure:
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (dataset, runs) in zip(axes, results.items(), strict=True):
        for model_name, r in runs.items():
            h = r["history"]
            ax.plot(h["epoch"], [100 * a for a in h["test_acc"]], marker="o", label=model_name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        n_train = runs["CNN"]["n_train"]
        label = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}.get(dataset, dataset)
        subset = "bundled subset" if "subset" in runs["CNN"]["source"] else "full set"
        ax.set_title(f"{label} ({subset}, {n_train:,} training images)", fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="lower right")
    fig.suptitle("Test accuracy after each epoch")
    fig.tight_layout()
    return fig


def confusion_figure(model, test, classes) -> Figure:
    with torch.no_grad():
        preds = torch.cat(
            [model(test.images[i : i + 1000]).argmax(-1) for i in range(0, len(test), 1000)]
        )
    n = len(classes)
    cm = torch.zeros(n, n, dtype=torch.long)
    cm.index_put_((test.labels, preds), torch.ones_like(preds), accumulate=True)
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    im = ax.imshow(cm / cm.sum(1, keepdim=True).clamp(min=1), cmap="Blues", vmin=0, vmax=1)
    names = [str(c) for c in classes]
    ax.set_xticks(range(n), names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), names)
    ax.grid(False)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    int(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if cm[i, j] > cm[i].sum() / 2 else "black",
                )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Fashion-MNIST CNN on the {len(test):,} test images")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=12, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        run.log(worked_example=worked_example())
        sources = load_sources(args.smoke, args.fashion_n_train, run.record_source)
        for name, (train, _) in sources.items():
            run.record_source(f"data_{name}", f"{train.source}; {len(train):,} train images")
        results: dict[str, dict] = {}
        cnns: dict[str, ConvNet] = {}
        metrics: dict[str, float] = {}
        for dataset, (train, test) in sources.items():
            if dataset == "fashion_mnist":
                cnn_epochs = args.cnn_epochs_fashion
            elif len(train) >= 50_000:
                cnn_epochs = args.cnn_epochs_mnist_full
            else:
                cnn_epochs = args.cnn_epochs_mnist_subset
            plan = {"MLP": (SimpleMLP(), args.mlp_epochs), "CNN": (ConvNet(), cnn_epochs)}
            results[dataset] = {}
            for model_name, (model, epochs) in plan.items():
                epochs = 1 if args.smoke else epochs
                ckpt = run.checkpoint_path(f"{dataset}_{model_name.lower()}.pt")
                if not args.resume:
                    ckpt.unlink(missing_ok=True)
                history = train_classifier(
                    model,
                    train,
                    test,
                    epochs=epochs,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    checkpoint_path=ckpt,
                    seed=args.seed,
                    device=run.device,
                    desc=f"{dataset} {model_name}",
                )
                acc = history["test_acc"][-1]
                run.print(
                    f"{dataset:<14} {model_name}: test accuracy {100 * acc:.2f}% after "
                    f"{len(history['epoch'])} epoch(s) on {len(train):,} images ({train.source})"
                )
                results[dataset][model_name] = {
                    "history": history,
                    "source": train.source,
                    "n_train": len(train),
                }
                metrics[f"{dataset}_{model_name.lower()}_test_acc"] = acc
                metrics[f"{dataset}_{model_name.lower()}_epochs"] = len(history["epoch"])
                metrics[f"{dataset}_{model_name.lower()}_train_seconds"] = sum(history["seconds"])
                run.log(**metrics)
            metrics[f"{dataset}_n_train"] = len(train)
            metrics[f"{dataset}_n_test"] = len(test)
            cnn = cnns[dataset] = plan["CNN"][0].cpu()
            path = run.out_dir / day12_checkpoint_name(dataset)
            meta = {
                "dataset": dataset,
                "source": train.source,
                "test_acc": acc,
                "test_loss": evaluate(cnn, test)[0],
                "seed": args.seed,
                "smoke": args.smoke,
            }
            save_classifier(cnn, path, meta)
            if not args.smoke:  # make it "the project's day-12 classifier" for later days
                models_dir().mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, models_dir() / path.name)
        metrics["mlp_n_params"] = sum(p.numel() for p in SimpleMLP().parameters())
        metrics["cnn_n_params"] = sum(p.numel() for p in ConvNet().parameters())
        run.save_fig(accuracy_figure(results), "accuracy_curves")
        if "fashion_mnist" in sources:
            test = sources["fashion_mnist"][1]
            run.save_fig(confusion_figure(cnns["fashion_mnist"], test, test.classes), "confusion")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
