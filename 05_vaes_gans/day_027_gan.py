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

Run:  arena run 27 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_027_gan.py)
Full run: ~7.5 min on a 2-core machine, 1 thread (6,000 updates per source). Smoke: ~10 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data import DataUnavailableError
from arena_core.generative import (
    Discriminator,
    Generator,
    class_coverage,
    classifier_features,
    frechet_distance_features,
    from_gan_range,
    init_dcgan_weights,
    load_celeba,
    train_gan,
)
from arena_core.generative.figures import image_grid, load_sources
from arena_core.nn import ConvNet, load_day12_classifier, save_classifier, train_classifier
from arena_core.utils import DayArgs, Run, run_script


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
            history = train_gan(
                gen, disc, train.images, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                seed=args.seed, checkpoint_path=ckpt, device=run.device, desc=f"GAN {name}",
            )  # fmt: skip
            gen.eval().cpu()
            with torch.no_grad():
                z = torch.randn(len(test), args.latent_dim,
                                generator=torch.Generator().manual_seed(args.seed + 1))  # fmt: skip
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
            results[name] = (fake, history, test, classifier)
            run.log(**metrics)
            run.print(f"{name}: FD {q['fd_gan_vs_test']:.2f} (real-vs-real floor "
                      f"{q['fd_train_vs_test_floor']:.2f}); coverage {q['coverage_gan']:.1f}, "
                      f"entropy {q['entropy_gan_nats']:.2f} nats "
                      f"(real {q['entropy_real_nats']:.2f})")  # fmt: skip
        metrics["n_eval"] = n_eval

        names = list(results)
        fig = Figure(figsize=(3.6 * len(names), 3.3), dpi=100)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            image_grid(results[name][0][:48], nrow=8, ax=ax, title=f"{name}: DCGAN samples")
        fig.tight_layout()
        run.save_fig(fig, "samples")

        fig = Figure(figsize=(10, 3.5), dpi=120)
        ax1, ax2 = fig.subplots(1, 2)
        for name in names:
            h = results[name][1]
            ax1.plot(h["epoch"], h["loss_d"], marker="o", label=f"{name}: D")
            ax1.plot(h["epoch"], h["loss_g"], marker="s", label=f"{name}: G")
            ax2.plot(h["epoch"], h["d_real"], marker="o", label=f"{name}: D(x) real")
            ax2.plot(h["epoch"], h["d_fake"], marker="s", label=f"{name}: D(G(z))")
        ax1.set_title("losses (epoch means)", fontsize=9)
        ax2.set_title("discriminator outputs (epoch means)", fontsize=9)
        for ax in (ax1, ax2):
            ax.set_xlabel("epoch"), ax.grid(alpha=0.3), ax.legend(fontsize=6)
        fig.tight_layout()
        run.save_fig(fig, "training_curves")

        fig = Figure(figsize=(4.2 * len(names), 3.4), dpi=120)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            fake, _, test, classifier = results[name]
            k = len(test.classes)
            _, lf = classifier_features(classifier, fake)
            _, lr = classifier_features(classifier, test.images)
            width = 0.4
            xs = torch.arange(k)
            ax.bar((xs - width / 2).numpy(), counts(lr), width, label="real")
            ax.bar((xs + width / 2).numpy(), counts(lf), width, label="GAN")
            ax.set_xticks(xs.tolist(), [str(c)[:7] for c in test.classes], rotation=60, fontsize=6)
            ax.set_title(f"{name}: predicted classes of {len(test)} images", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        run.save_fig(fig, "class_histogram")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
