"""Day 14 — Training a small ResNet, and transfer: feature extraction vs fine-tuning vs scratch.

ARENA's day 14 fine-tunes an ImageNet ResNet34 on CIFAR-10. Neither ImageNet weights nor CIFAR-10
ship offline, so the offline default keeps the idea and shrinks it to 2 CPU cores:

1. pretrain a small ResNet (`arena_core.nn.small_resnet`: 3x3 stem, three groups of widths
   16/32/64) on Fashion-MNIST (the *source* task; where it isn't installed -- `make data` -- the
   run falls back to sklearn's 8x8 digits resized to 28x28, logged and recorded);
2. move to a different *target* task with few labels -- CIFAR-10 when `arena_core.data.load_cifar10`
   finds/downloads it (then every image is 3x32x32, Fashion-MNIST padded and replicated into 3
   channels), otherwise the bundled MNIST subset, a clearly labelled substitute;
3. compare, on the target test set: a linear head on frozen pretrained features (feature
   extraction), full fine-tuning of the pretrained network, the same network trained from scratch,
   and a linear head on the features of an untrained (random) network.

metrics.json records which source and target data were used.

Run:  arena run 14 [--smoke] [--publish] [--resume]   (or python 02_cnns_resnets/day_014_cifar.py)
Full run: ~25 s on 2 CPU cores. Smoke: ~5 s.
"""

import copy
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data import DataUnavailableError, load_cifar10, load_first_available, load_mnist
from arena_core.nn import Linear, small_resnet, train_classifier
from arena_core.nn.transfer import as_rgb32, extract_features, replace_head
from arena_core.utils import DayArgs, Run, diagrams, run_script


@dataclass
class Args(DayArgs):
    n_source_train: int = 6_000  # source images used for pretraining (class-balanced)
    source_epochs: int = 2  # pretraining epochs
    n_target_train: int = 1_000  # labelled target images (the low-data regime transfer is for)
    target_epochs: int = 4  # epochs of fine-tuning and of training from scratch
    probe_epochs: int = 30  # epochs of the linear head on frozen features (cheap)
    width: int = 16  # channels of the first group (then 2x and 4x): 16 -> widths 16/32/64
    batch_size: int = 64  # minibatch size
    lr: float = 2e-3  # Adam learning rate for pretraining and from-scratch training
    finetune_lr: float = 2e-3  # Adam learning rate for fine-tuning (same as scratch: a fair race)
    probe_lr: float = 1e-2  # Adam learning rate for the linear head
    resume: bool = False  # continue from the checkpoints of an interrupted run


def load_data(args: Args):
    """(source train, source test, target train, target test, description of the target)."""
    preferred = ("fashion_mnist", "digits28")  # digits: pip-shipped, and a different dataset
    src_train, src_test = (load_first_available(preferred, s) for s in ("train", "test"))
    try:
        tgt_train, tgt_test = load_cifar10("train"), load_cifar10("test")
        target = "CIFAR-10"
    except DataUnavailableError as err:
        print(f"CIFAR-10 unavailable ({str(err)[:120]}...); using MNIST as a labelled substitute")
        tgt_train, tgt_test = load_mnist("train"), load_mnist("test")
        target = "MNIST (offline substitute for CIFAR-10)"
    small = args.smoke
    src_train = src_train.take(128 if small else args.n_source_train)
    src_test = src_test.take(100 if small else 1000)
    tgt_train = tgt_train.take(64 if small else args.n_target_train)
    tgt_test = tgt_test.take(100 if small else 1000)
    return src_train, src_test, tgt_train, tgt_test, target


def prepare(dataset, rgb: bool) -> tuple[torch.Tensor, torch.Tensor]:
    images = dataset.images
    if rgb and images.shape[1] == 1:
        images = as_rgb32(images)
    return images, dataset.labels


def mechanism_figure(
    n_backbone: int, n_head: int, n_features: int, source: str, n_labels: int, args: Args
) -> Figure:
    """What each method starts from and what it trains: frozen backbones are grey."""
    probe = f"Adam {args.probe_lr:g}, {args.probe_epochs} epochs"
    full = f"Adam {args.lr:g}, {args.target_epochs} epochs"
    tune = f"Adam {args.finetune_lr:g}, {args.target_epochs} epochs"
    methods = (  # name, where the backbone starts, is it trained, optimiser
        ("linear probe,\npretrained features", f"pretrained on {source}", False, probe),
        ("linear probe,\nrandom features", "from random weights", False, probe),
        ("full fine-tuning", f"pretrained on {source}", True, tune),
        ("from scratch", "from random weights", True, full),
    )
    fig, ax = diagrams.canvas(width=20, height=12, scale=0.45)
    font = 10.5
    for i, (name, start, trained, optimiser) in enumerate(methods):
        y = 8.4 - 2.6 * i
        diagrams.label(
            ax, (3.6, y + 1.05), name, fontsize=font + 0.5, ha="right", fontweight="bold"
        )
        diagrams.label(
            ax,
            (3.6, y + 0.05 if "\n" in name else y + 0.35),
            optimiser,
            fontsize=font - 1,
            ha="right",
            color="0.3",
        )
        state = f"trained ({n_backbone:,} weights)" if trained else "frozen: features computed once"
        diagrams.box(
            ax,
            (4.2, y),
            f"backbone: stem + 3 residual groups\nstarts {start}\n{state}",
            width=8.6,
            height=1.8,
            role="param" if trained else "neutral",
            fontsize=font,
        )
        diagrams.arrow(
            ax, (12.8, y + 0.9), (15.0, y + 0.9), f"{n_features} features", fontsize=font - 0.5
        )
        head = "linear head" if name == "from scratch" else "new linear head"
        diagrams.box(
            ax,
            (15.0, y),
            f"{head}\n{n_head} weights,\ntrained",
            width=3.6,
            height=1.8,
            role="param",
            fontsize=font,
        )
    diagrams.label(
        ax,
        (11.4, 11.0),
        f"Four ways to use {n_labels:,} labelled target images",
        fontsize=font + 1.5,
        fontweight="bold",
    )
    diagrams.label(
        ax,
        (11.4, 10.45),
        "grey: frozen weights   orange: weights the optimiser updates on the target task",
        fontsize=font,
    )
    diagrams.finish(ax)
    return fig


def accuracy_figure(curves: dict[str, list[float]], target: str) -> Figure:
    """Whole-network training (left), linear probes (middle), final accuracies (right).

    The bars name the methods in the colours of the curves, so the curves need no legend.
    """
    colours = dict(zip(curves, ["#1f77b4", "#9467bd", "#2ca02c", "#d62728"], strict=False))
    fig = Figure(figsize=(11, 3.8))
    whole, probes, bars = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.3, 1.1]})
    for ax, names, title in (
        (whole, ["full fine-tuning", "from scratch"], "Training the whole network"),
        (probes, [n for n in curves if n.startswith("linear probe")], "Linear probes"),
    ):
        for name in names:
            accs = curves[name]
            ax.plot(
                range(1, len(accs) + 1),
                [100 * x for x in accs],
                marker="o",
                ms=4,
                color=colours[name],
                label=name.replace("linear probe, ", ""),
            )
        ax.axhline(10, ls="--", lw=1, color="0.55")
        n_epochs = len(curves[names[0]])
        ax.text(n_epochs, 11.5, "chance", ha="right", va="bottom", color="0.4", fontsize=9)
        ax.set_xlabel("epoch on the target task")
        ax.set_ylabel("target test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.xaxis.get_major_locator().set_params(integer=True)
    names = list(curves)
    finals = [100 * curves[n][-1] for n in names]
    labels = [n.replace(", ", ",\n") for n in names]
    drawn = bars.barh(labels[::-1], finals[::-1], color=[colours[n] for n in names[::-1]])
    for bar, v in zip(drawn, finals[::-1], strict=True):
        bars.text(
            bar.get_width() - 1,
            bar.get_y() + bar.get_height() / 2,
            f"{v:.1f}%",
            va="center",
            ha="right",
            color="white",
            fontsize=9.5,
        )
    bars.set_xlim(0, 100)
    bars.set_xlabel("final target test accuracy (%)")
    bars.grid(axis="y", visible=False)
    bars.set_title("After the last epoch")
    fig.suptitle(f"Target: {target}")
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=14, args=args) as run:
        src_train, src_test, tgt_train, tgt_test, target = load_data(args)
        run.record_source("source_data", f"{src_train.source}; {len(src_train):,} train images")
        source_name = "Fashion-MNIST" if src_train.name == "fashion-mnist" else "sklearn digits"
        run.record_source(
            "target_data",
            f"{target}: {tgt_train.source}; "
            f"{len(tgt_train):,} train / {len(tgt_test):,} test images",
        )
        rgb = tgt_train.images.shape[1] == 3
        in_ch = 3 if rgb else 1
        sketch = small_resnet(
            in_channels=in_ch, n_classes=10, widths=(args.width, 2 * args.width, 4 * args.width)
        )
        n_head = sum(p.numel() for p in sketch.head.parameters())
        n_all = sum(p.numel() for p in sketch.parameters())
        run.save_fig(
            mechanism_figure(
                n_all - n_head, n_head, sketch.n_features, source_name, len(tgt_train), args
            ),
            "mechanism",
        )
        src_tr, src_te = prepare(src_train, rgb), prepare(src_test, rgb)
        tgt_tr, tgt_te = prepare(tgt_train, rgb), prepare(tgt_test, rgb)
        epochs = (
            dict(source=1, target=1, probe=2)
            if args.smoke
            else dict(source=args.source_epochs, target=args.target_epochs, probe=args.probe_epochs)
        )
        common = dict(batch_size=args.batch_size, seed=args.seed, device=run.device)

        def ckpt(name):
            path = run.checkpoint_path(f"{name}.pt")
            if not args.resume:
                path.unlink(missing_ok=True)
            return path

        # 1. pretrain on the source task
        torch.manual_seed(args.seed)
        width = 4 if args.smoke else args.width
        widths = (width, 2 * width, 4 * width)
        pretrained = small_resnet(in_channels=in_ch, n_classes=10, widths=widths)
        untrained = copy.deepcopy(pretrained)  # same init, never trained: the random baseline
        h_src = train_classifier(
            pretrained,
            src_tr,
            src_te,
            epochs=epochs["source"],
            lr=args.lr,
            checkpoint_path=ckpt("pretrain"),
            desc="pretrain",
            **common,
        )
        run.log(source_test_acc=h_src["test_acc"][-1])
        run.print(f"pretrained on {source_name}: source test accuracy {h_src['test_acc'][-1]:.3f}")

        curves: dict[str, list[float]] = {}
        # 2a. feature extraction: linear head on frozen features (pretrained and random backbones)
        for name, backbone in (
            ("linear probe, pretrained features", pretrained),
            ("linear probe, random features", untrained),
        ):
            f_tr = extract_features(backbone.to(run.device), tgt_tr[0].to(run.device))
            f_te = extract_features(backbone, tgt_te[0].to(run.device))
            torch.manual_seed(args.seed)
            head = Linear(backbone.n_features, 10)
            h = train_classifier(
                head,
                (f_tr, tgt_tr[1]),
                (f_te, tgt_te[1]),
                epochs=epochs["probe"],
                lr=args.probe_lr,
                desc=name,
                **common,
            )
            curves[name] = h["test_acc"]
        # 2b. fine-tuning: new head, every weight trains, from the pretrained start
        torch.manual_seed(args.seed)
        finetuned = replace_head(copy.deepcopy(pretrained), 10)
        h_ft = train_classifier(
            finetuned,
            tgt_tr,
            tgt_te,
            epochs=epochs["target"],
            lr=args.finetune_lr,
            checkpoint_path=ckpt("finetune"),
            desc="fine-tune",
            **common,
        )
        curves["full fine-tuning"] = h_ft["test_acc"]
        # 2c. the same architecture from scratch, same budget
        torch.manual_seed(args.seed + 1)
        scratch = small_resnet(in_channels=in_ch, n_classes=10, widths=widths)
        h_sc = train_classifier(
            scratch,
            tgt_tr,
            tgt_te,
            epochs=epochs["target"],
            lr=args.lr,
            checkpoint_path=ckpt("scratch"),
            desc="scratch",
            **common,
        )
        curves["from scratch"] = h_sc["test_acc"]

        for name, accs in curves.items():
            run.print(f"  {name:<36} target test accuracy {100 * accs[-1]:.2f}%")
        short_target = target.replace(" (offline substitute for CIFAR-10)", " subset")
        run.save_fig(
            accuracy_figure(curves, f"{short_target}, {len(tgt_tr[1]):,} training images"),
            "transfer_accuracy",
        )
        keys = {
            "linear probe, pretrained features": "linear_probe_pretrained",
            "linear probe, random features": "linear_probe_random",
            "full fine-tuning": "finetune",
            "from scratch": "scratch",
        }
        metrics = {f"target_acc_{keys[n]}": accs[-1] for n, accs in curves.items()}
        metrics.update(
            {
                "source_test_acc": h_src["test_acc"][-1],
                "target_acc_per_epoch": {keys[n]: accs for n, accs in curves.items()},
                "target_is_cifar10": target == "CIFAR-10",
                "n_params": sum(p.numel() for p in pretrained.parameters()),
                "pretrain_seconds": sum(h_src["seconds"]),
                "finetune_seconds": sum(h_ft["seconds"]),
                "scratch_seconds": sum(h_sc["seconds"]),
                "pretrain_images_per_second": len(src_tr[1])
                * epochs["source"]
                / sum(h_src["seconds"]),
            }
        )
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
