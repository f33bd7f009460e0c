"""Day 27 — DCGAN: train a generator against a discriminator, and measure sample quality.

Trains `arena_core.generative.Generator`/`Discriminator` (DCGAN rules: strided convs and our
ConvTranspose2d, BatchNorm, ReLU/Tanh vs LeakyReLU, N(0, 0.02) init, Adam 2e-4 / beta1 0.5) on
class-balanced subsets of each offline source (Fashion-MNIST, MNIST). CelebA, the paper's faces
dataset, is tried first through `load_celeba` and is reported as unavailable offline.

Sample quality is measured with numbers, each next to the same statistic on real data:
- Fréchet distance between generated and real *test* images in the 128-d penultimate feature
  space of the project's day-12 ConvNet (`load_day12_classifier`; when its checkpoint is absent,
  the same ConvNet is trained here for one epoch and metrics.json says so). The floor is the FD
  between real *train* and real *test* images of the same size;
- class coverage: the fraction of the 10 classes the classifier predicts among N samples, and
  the entropy of the predicted-class histogram (real data: ~log 10 = 2.30 nats).
The FD is also measured after every epoch (same z, same real images), next to the two losses, to
show that the losses of the game do not track sample quality while the FD does. The mechanism
figure draws the measurement pipeline and the worked example: FD between two 2-D Gaussians.

Run:  arena run 27 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_027_gan.py)
Full run: ~7.5 min on a 2-core machine, 1 thread (6,000 updates per source). Smoke: ~10 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from arena_core.data import DataUnavailableError
from arena_core.generative import (
    Discriminator,
    Generator,
    class_coverage,
    classifier_features,
    frechet_distance,
    frechet_distance_features,
    from_gan_range,
    init_dcgan_weights,
    load_celeba,
    train_gan,
)
from arena_core.generative.figures import image_grid, load_sources, source_label
from arena_core.nn import ConvNet, load_day12_classifier, save_classifier, train_classifier
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label


@dataclass
class Args(DayArgs):
    n_train: int = 8_000  # training images per source (class-balanced subset)
    n_eval: int = 1_000  # samples (and real test images) per quality measurement
    steps: int = 6_000  # generator/discriminator updates per source (600 gave FD 3-4x worse)
    latent_dim: int = 64  # size of z
    width: int = 32  # channels of the first discriminator conv (doubling per stage)
    batch_size: int = 32  # minibatch size (small: more updates for the same compute)
    lr: float = 2e-4  # Adam learning rate (DCGAN paper)
    threads: int = 1  # torch threads (small convs on a busy machine: 1 is fastest)
    resume: bool = False  # continue from the checkpoints of an interrupted run


#: The worked example of the post: Gaussians fitted to 2-D "features" of real and generated images.
EXAMPLE = {
    "real": ([0.0, 0.0], [1.0, 1.0]),  # (mean, standard deviations)
    "generated": ([1.0, 0.0], [2.0, 1.0]),
    "collapsed": ([0.0, 0.0], [0.2, 0.2]),  # right mean, far too little variety
}


def example_fd(name: str) -> float:
    """FD between the real Gaussian and EXAMPLE[name], with our frechet_distance."""
    (m1, s1), (m2, s2) = EXAMPLE["real"], EXAMPLE[name]
    cov = [torch.diag(torch.tensor(s, dtype=torch.float64) ** 2) for s in (s1, s2)]
    return frechet_distance(torch.tensor(m1), cov[0], torch.tensor(m2), cov[1])


def mechanism_figure() -> Figure:
    """How a sample-quality number is made: images -> classifier features -> Gaussians -> FD,
    next to the real-vs-real floor; below, the 2-D worked example."""
    fig, ax = canvas(width=13, height=10, scale=0.6)
    rows = [("1,000 generated images", "output", 8.6), ("1,000 real test images", "input", 7.2),
            ("1,000 real training images", "input", 5.8)]  # fmt: skip
    for text, role, y in rows:
        box(ax, (0, y), text, width=3.6, height=0.9, role=role, fontsize=9.5)
        arrow(ax, (3.6, y + 0.45), (4.6, 7.65))
    box(ax, (4.6, 7.0), "day-12 ConvNet:\n128 features\nper image", width=2.4, height=1.3)
    arrow(ax, (7.0, 7.65), (7.9, 7.65))
    box(ax, (7.9, 7.0), "fit a Gaussian\n(mean μ, covariance Σ)\nto each set", width=2.9,
        height=1.3)  # fmt: skip
    arrow(ax, (10.8, 7.9), (11.4, 8.6))
    arrow(ax, (10.8, 7.4), (11.4, 6.7))
    box(ax, (11.4, 8.3), "FD(generated, test)", width=2.8, height=0.8, role="output", fontsize=9.5)
    box(ax, (11.4, 6.2), "floor: FD(train, test)", width=2.8, height=0.8, role="input",
        fontsize=9.5)  # fmt: skip
    label(ax, (12.8, 7.55), "compare", fontsize=9.5, color="0.3")
    # the worked example: Gaussians in a 2-D feature space (1 feature unit = s cells)
    cx, cy, s = 2.0, 3.5, 0.75
    ax.plot([cx - 2.4 * s, cx + 4 * s], [cy, cy], color="0.8", lw=0.8)
    ax.plot([cx, cx], [cy - 2 * s, cy + 2 * s], color="0.8", lw=0.8)
    colours = {"real": "0.35", "generated": "#d62728", "collapsed": "#1f77b4"}
    for name, (mean, std) in EXAMPLE.items():
        centre = (cx + mean[0] * s, cy + mean[1] * s)
        dashes = "--" if name == "real" else "-"
        ax.add_patch(Ellipse(centre, 2 * std[0] * s, 2 * std[1] * s, fill=False,
                             ec=colours[name], lw=1.8, ls=dashes))  # fmt: skip
        ax.plot(*centre, "o", color=colours[name], ms=3)
    label(ax, (cx - 0.5 * s, cy + 1.0 * s + 0.25), "real", fontsize=10, color="0.35")
    label(ax, (cx + 2.6 * s, cy + 1.0 * s + 0.25), "generated", fontsize=10, color="#d62728")
    ax.plot([cx - 0.1, cx - 1.0], [cy - 0.1, cy - 1.35], color="#1f77b4", lw=0.8)
    label(ax, (cx - 1.0, cy - 1.6), "collapsed", fontsize=10, color="#1f77b4")
    label(ax, (cx + 0.8 * s, cy - 2 * s - 0.9),
          "1σ ellipses of three Gaussians\nin a 2-feature space", fontsize=9.5)  # fmt: skip
    text = (
        "For diagonal covariances\n"
        "FD = |μ₁ − μ₂|² + Σᵢ (σ₁ᵢ − σ₂ᵢ)²\n\n"
        f"real vs generated:\n(1 − 0)² + (2 − 1)² + (1 − 1)² = {example_fd('generated'):.2f}\n\n"
        f"real vs collapsed (right mean, no variety):\n"
        f"0 + (1 − 0.2)² + (1 − 0.2)² = {example_fd('collapsed'):.2f}"
    )
    label(ax, (6.0, 3.4), text, fontsize=10.5, ha="left")
    finish(ax)
    return fig


def get_classifier(name: str, train, test, run: Run, smoke: bool) -> tuple[ConvNet, str]:
    """The day-12 ConvNet for `name`; trained here (one epoch) when no checkpoint exists."""
    try:
        model, meta = load_day12_classifier(name)
        return model, f"day-12 ConvNet checkpoint ({meta.get('source', '?')}, test acc " \
                      f"{meta.get('test_acc', float('nan')):.4f})"  # fmt: skip
    except FileNotFoundError:
        pass
    model = ConvNet()
    history = train_classifier(model, train, test, epochs=1, batch_size=64, lr=1e-3,
                               seed=0, desc=f"classifier {name}")  # fmt: skip
    acc = history["test_acc"][-1]
    save_classifier(model.cpu(), run.out_dir / f"day_012_{name}_cnn.pt",
                    {"source": train.source, "test_acc": acc, "trained_by": "day 27"})  # fmt: skip
    how = "smoke-sized" if smoke else f"{len(train)} images"
    return model.eval(), (f"no day-12 checkpoint found: trained the day-12 ConvNet here "
                          f"(1 epoch on {how}; test acc {acc:.4f})")  # fmt: skip


def counts(logits: torch.Tensor) -> list[int]:
    return torch.bincount(logits.argmax(-1), minlength=logits.shape[-1]).tolist()


def quality(classifier, fake, real_a, real_b, n_classes) -> dict[str, float]:
    """FD(fake, real_b), the floor FD(real_a, real_b), and class coverage of fake and real_b."""
    f_fake, logits_fake = classifier_features(classifier, fake)
    f_a, _ = classifier_features(classifier, real_a)
    f_b, logits_b = classifier_features(classifier, real_b)
    cov_fake = class_coverage(logits_fake.argmax(-1), n_classes)
    cov_real = class_coverage(logits_b.argmax(-1), n_classes)
    return {
        "fd_gan_vs_test": frechet_distance_features(f_fake, f_b),
        "fd_train_vs_test_floor": frechet_distance_features(f_a, f_b),
        "coverage_gan": cov_fake["coverage"],
        "coverage_real": cov_real["coverage"],
        "entropy_gan_nats": cov_fake["entropy"],
        "entropy_real_nats": cov_real["entropy"],
    }


def main(args: Args) -> dict:
    with Run(day=27, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        try:
            load_celeba("train", limit=10)
            run.record_source("celeba", "available (not used by this MNIST-sized run)")
        except DataUnavailableError as err:
            run.print(f"CelebA unavailable, using MNIST-style sources: {str(err)[:160]}")
            run.record_source("celeba", "unavailable offline (DataUnavailableError)")
        n_train, n_eval = (192, 64) if args.smoke else (args.n_train, args.n_eval)
        steps = 3 if args.smoke else args.steps
        sources = load_sources(
            ("mnist", "fashion_mnist"), n_train, n_eval, record=run.record_source
        )
        metrics: dict = {}
        results = {}
        for name, (train, test) in sources.items():
            run.record_source(f"data_{name}", f"{train.source}; {len(train)} train / "
                              f"{len(test)} test, class-balanced")  # fmt: skip
            classifier, how = get_classifier(name, train, test, run, args.smoke)
            run.record_source(f"classifier_{name}", how)
            torch.manual_seed(args.seed)
            gen = init_dcgan_weights(Generator(args.latent_dim, width=args.width))
            disc = init_dcgan_weights(Discriminator(width=args.width))
            ckpt = run.checkpoint_path(f"gan_{name}.pt")
            if not args.resume:
                ckpt.unlink(missing_ok=True)
            epochs = math.ceil(steps / max(1, len(train) // args.batch_size))
            z = torch.randn(len(test), args.latent_dim,
                            generator=torch.Generator().manual_seed(args.seed + 1))  # fmt: skip
            test_features, _ = classifier_features(classifier, test.images)

            def track(epoch, history, gen=gen, z=z, classifier=classifier, real=test_features):
                """FD of this epoch's samples (fixed z) to the test set; no global RNG used."""
                gen.eval()
                with torch.no_grad():
                    fake = from_gan_range(gen(z.to(run.device))).cpu()
                gen.train()
                feats, _ = classifier_features(classifier, fake)
                history.setdefault("fd", []).append(frechet_distance_features(feats, real))

            history = train_gan(
                gen, disc, train.images, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                seed=args.seed, checkpoint_path=ckpt, device=run.device, desc=f"GAN {name}",
                on_epoch_end=track,
            )  # fmt: skip
            gen.eval().cpu()
            with torch.no_grad():
                fake = from_gan_range(gen(z))
            real_a = train.take(len(test)).images  # same size as the test set: a fair floor
            q = quality(classifier, fake, real_a, test.images, len(test.classes))
            for key, value in q.items():
                metrics[f"{name}_{key}"] = value
            metrics[f"{name}_epochs"] = epochs
            metrics[f"{name}_steps"] = epochs * max(1, len(train) // args.batch_size)
            metrics[f"{name}_train_seconds"] = sum(history["seconds"])
            metrics[f"{name}_final_d_real"] = history["d_real"][-1]
            metrics[f"{name}_final_d_fake"] = history["d_fake"][-1]
            metrics[f"{name}_fd_by_epoch"] = history["fd"]
            metrics[f"{name}_loss_g_by_epoch"] = history["loss_g"]
            metrics[f"{name}_loss_d_by_epoch"] = history["loss_d"]
            results[name] = (fake, history, test, classifier)
            run.log(**metrics)
            run.print(f"{name}: FD {q['fd_gan_vs_test']:.2f} (real-vs-real floor "
                      f"{q['fd_train_vs_test_floor']:.2f}); coverage {q['coverage_gan']:.1f}, "
                      f"entropy {q['entropy_gan_nats']:.2f} nats "
                      f"(real {q['entropy_real_nats']:.2f})")  # fmt: skip
        metrics["n_eval"] = n_eval

        names = list(results)
        fig = Figure(figsize=(3.6 * len(names), 3.4), dpi=100)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            image_grid(results[name][0][:48], nrow=8, ax=ax,
                       title=f"{source_label(name)}: 48 DCGAN samples")  # fmt: skip
        fig.tight_layout()
        run.save_fig(fig, "samples")

        fig = Figure(figsize=(10.5, 3.9), dpi=120)
        ax1, ax2 = fig.subplots(1, 2)
        colours = {"mnist": "#d62728", "fashion_mnist": "#1f77b4"}
        for name in names:
            h, c = results[name][1], colours.get(name, "0.3")
            ax1.plot(h["epoch"], h["loss_g"], color=c, label=f"{source_label(name)}: generator")
            ax1.plot(h["epoch"], h["loss_d"], color=c, ls="--",
                     label=f"{source_label(name)}: discriminator")  # fmt: skip
            ax2.plot(h["epoch"], h["fd"], color=c, marker="o", ms=3, label=source_label(name))
            ax2.axhline(metrics[f"{name}_fd_train_vs_test_floor"], color=c, ls=":", lw=1.5,
                        label=f"{source_label(name)}: real-vs-real floor")  # fmt: skip
        ax1.set_title("the two losses of the game")
        ax1.set_ylabel("loss, epoch mean (nats)")
        ax2.set_title("sample quality: FD to the test set")
        ax2.set_ylabel("Fréchet distance (log scale)")
        ax2.set_yscale("log")
        for ax in (ax1, ax2):
            ax.set_xlabel("epoch")
            ax.legend(loc="best", fontsize=8.5)
        fig.tight_layout()
        run.save_fig(fig, "training_curves")

        fig = Figure(figsize=(5.0 * len(names), 3.9), dpi=120)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            fake, _, test, classifier = results[name]
            k = len(test.classes)
            _, lf = classifier_features(classifier, fake)
            _, lr = classifier_features(classifier, test.images)
            width = 0.4
            xs = torch.arange(k)
            ax.bar((xs - width / 2).numpy(), counts(lr), width, label="real test images")
            ax.bar((xs + width / 2).numpy(), counts(lf), width, label="GAN samples")
            ax.set_xticks(xs.tolist(), [str(c) for c in test.classes], rotation=40, ha="right")
            ax.set_title(f"{source_label(name)}: classes the day-12 ConvNet predicts")
            ax.set_ylabel(f"images (of {len(test):,})")
            ax.legend(loc="upper left", fontsize=8.5)
        fig.tight_layout()
        run.save_fig(fig, "class_histogram")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
