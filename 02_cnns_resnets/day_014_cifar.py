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
from arena_core.utils import DayArgs, Run, run_script


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


def accuracy_figure(curves: dict[str, list[float]], target: str) -> Figure:
    fig = Figure(figsize=(8.5, 3.4), dpi=120)
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    for name, accs in curves.items():
        if len(accs) > 1:
            a.plot(range(1, len(accs) + 1), [100 * x for x in accs], marker="o", label=name)
    a.set_xlabel("epoch on the target task"), a.set_ylabel("target test accuracy (%)")
    a.set_title(f"target: {target}", fontsize=9)
    a.grid(alpha=0.3), a.legend(fontsize=8)
    names = list(curves)
    finals = [100 * curves[n][-1] for n in names]
    bars = b.barh(names[::-1], finals[::-1], color="tab:green")
    for bar, v in zip(bars, finals[::-1], strict=True):
        b.text(
            bar.get_width() - 1,
            bar.get_y() + bar.get_height() / 2,
            f"{v:.1f}%",
            va="center",
            ha="right",
            color="white",
            fontsize=8,
        )
    b.set_xlim(0, 100), b.set_xlabel("final target test accuracy (%)")
    b.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def loss_figure(history: dict, title: str) -> Figure:
    fig = Figure(figsize=(5, 3), dpi=120)
    ax = fig.subplots()
    losses = torch.tensor(history["step_loss"])
    window = min(25, len(losses))
    smooth = losses.unfold(0, window, 1).mean(-1)
    ax.plot(losses, alpha=0.3, lw=0.8, label="per step")
    ax.plot(range(window - 1, len(losses)), smooth, label=f"{window}-step mean")
    ax.set_xlabel("optimiser step"), ax.set_ylabel("cross-entropy")
    ax.set_title(title, fontsize=9), ax.legend(fontsize=8), ax.grid(alpha=0.3)
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
        run.save_fig(accuracy_figure(curves, target), "transfer_accuracy")
        run.save_fig(
            loss_figure(h_src, f"pretraining on {source_name} (small ResNet)"), "pretrain_loss"
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
