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

from arena_core.data import DataUnavailableError, load_fashion_mnist, load_mnist
from arena_core.data.sources import log_fallback
from arena_core.nn import ConvNet, SimpleMLP, evaluate, save_classifier, train_classifier
from arena_core.nn.classifiers import day12_checkpoint_name, models_dir
from arena_core.utils import DayArgs, Run, run_script


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


def smooth(values: list[float], window: int) -> list[float]:
    if len(values) < window:
        return values
    t = torch.tensor(values)
    return (t.unfold(0, window, 1).mean(-1)).tolist()


def curves_figure(results: dict, key: str, ylabel: str, title: str) -> Figure:
    fig = Figure(figsize=(9, 3.4), dpi=120)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (dataset, runs) in zip(axes, results.items(), strict=True):
        for model_name, r in runs.items():
            h = r["history"]
            if key == "step_loss":
                ys = smooth(h["step_loss"], 50)
                steps_per_epoch = len(h["step_loss"]) / len(h["epoch"])
                xs = [(i + 50) / steps_per_epoch for i in range(len(ys))]
                ax.plot(xs, ys, label=model_name, lw=1)
            else:
                ax.plot(h["epoch"], [100 * a for a in h[key]], marker="o", label=model_name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        n_train = runs["CNN"]["n_train"]
        label = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}.get(dataset, dataset)
        subset = "bundled subset" if "subset" in runs["CNN"]["source"] else "full set"
        ax.set_title(f"{label} ({subset}, {n_train:,} training images)", fontsize=9)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
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
    fig = Figure(figsize=(5.2, 4.6), dpi=120)
    ax = fig.subplots()
    im = ax.imshow(cm / cm.sum(1, keepdim=True).clamp(min=1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), [str(c)[:8] for c in classes], rotation=60, fontsize=7)
    ax.set_yticks(range(n), [str(c)[:8] for c in classes], fontsize=7)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    int(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=5.5,
                    color="white" if cm[i, j] > cm[i].sum() / 2 else "black",
                )
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    ax.set_title("Fashion-MNIST CNN: confusion matrix (test set)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=12, args=args) as run:
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
        run.save_fig(
            curves_figure(results, "step_loss", "training loss (50-step mean)", "Training loss"),
            "loss_curves",
        )
        run.save_fig(
            curves_figure(
                results, "test_acc", "test accuracy (%)", "Test accuracy after each epoch"
            ),
            "accuracy_curves",
        )
        if "fashion_mnist" in sources:
            test = sources["fashion_mnist"][1]
            run.save_fig(confusion_figure(cnns["fashion_mnist"], test, test.classes), "confusion")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
