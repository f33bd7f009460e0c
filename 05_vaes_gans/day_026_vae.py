"""Day 26 — Variational autoencoders: train with the ELBO, report test ELBO in nats per image.

Trains `arena_core.generative.VAE` (the day-25 conv encoder/decoder; the encoder outputs a mean
and a log-variance, z is drawn with the reparameterisation trick) by minimising
-ELBO = Bernoulli NLL (BCE summed over the 784 [0, 1] pixels) + beta * closed-form KL to N(0, I),
on class-balanced subsets of each offline source. Two latent sizes per source: d = 2 (to draw the
latent space) and a larger d (a better bound). Reports the test ELBO (one z sample per image,
beta = 1, nats/image, Bernoulli likelihood) and its NLL/KL split. Figures: train -ELBO and test
ELBO per epoch, the decoder on a grid of z (2-D model), interpolations between test images
(larger model), and samples from the prior.

Run:  arena run 26 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_026_vae.py)
Full run: ~3 min on 2 CPU cores (178 s in the published run). Smoke: ~8 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.generative import VAE, evaluate_elbo, train_vae
from arena_core.generative.figures import image_grid, load_sources
from arena_core.nn import sigmoid
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    n_train: int = 10_000  # training images per source (class-balanced subset)
    n_test: int = 2_000  # test images per source (the ELBO is reported on these)
    steps: int = 400  # optimiser steps per model (epochs = steps / batches per epoch)
    big_latent: int = 16  # latent size of the second model (the first has 2)
    beta: float = 1.0  # weight of the KL term (1 = the true ELBO)
    batch_size: int = 128  # minibatch size
    lr: float = 2e-3  # Adam learning rate
    threads: int = 1  # torch threads (small convs on a busy machine: 1 is fastest)
    resume: bool = False  # continue from the checkpoints of an interrupted run


@torch.no_grad()
def latent_grid(model: VAE, steps: int) -> torch.Tensor:
    """Decode z on a grid over [-2.5, 2.5]^2 (the prior's bulk), z2 increasing upwards."""
    a = torch.linspace(-2.5, 2.5, steps)
    grid = torch.stack(torch.meshgrid(a.flip(0), a, indexing="ij"), -1).flip(-1).reshape(-1, 2)
    return sigmoid(model.decode_logits(grid))


@torch.no_grad()
def interpolations(model: VAE, images: torch.Tensor, pairs: list[tuple[int, int]], steps: int):
    """Decode (1 - t) mu(a) + t mu(b) for t in [0, 1], one row per pair."""
    mu, _ = model.encode(images)
    t = torch.linspace(0, 1, steps).view(-1, 1)
    rows = [sigmoid(model.decode_logits((1 - t) * mu[a] + t * mu[b])) for a, b in pairs]
    return torch.cat(rows)


def main(args: Args) -> dict:
    with Run(day=26, args=args) as run:
        n_train, n_test = (256, 200) if args.smoke else (args.n_train, args.n_test)
        sources = load_sources(
            ("fashion_mnist", "mnist"), n_train, n_test, record=run.record_source
        )
        metrics: dict = {"likelihood": "Bernoulli (BCE summed over pixels)", "beta": args.beta}
        models, histories = {}, {}
        for name, (train, test) in sources.items():
            run.record_source(f"data_{name}", f"{train.source}; {len(train)} train / "
                              f"{len(test)} test, class-balanced")  # fmt: skip
            for d in (2, args.big_latent):
                tag = f"{name}_d{d}"
                per_epoch = max(1, len(train) // args.batch_size)
                epochs = 1 if args.smoke else math.ceil(args.steps / per_epoch)
                model = VAE(latent_dim=d)
                ckpt = run.checkpoint_path(f"vae_{tag}.pt")
                if not args.resume:
                    ckpt.unlink(missing_ok=True)

                def track(epoch, history, model=model, test=test):
                    history.setdefault("test_elbo", []).append(
                        evaluate_elbo(model, test.images, seed=args.seed)["elbo"]
                    )

                history = train_vae(
                    model, train.images, epochs=epochs, lr=args.lr, beta=args.beta,
                    batch_size=args.batch_size, seed=args.seed, checkpoint_path=ckpt,
                    device=run.device, desc=f"VAE {tag}", on_epoch_end=track,
                )  # fmt: skip
                model.eval().cpu()
                stats = evaluate_elbo(model, test.images, seed=args.seed)
                models[tag], histories[tag] = model, history
                for key, value in stats.items():
                    metrics[f"{tag}_test_{key}"] = value
                metrics[f"{tag}_train_neg_elbo_last_epoch"] = history["neg_elbo"][-1]
                metrics[f"{tag}_train_seconds"] = sum(history["seconds"])
                metrics[f"{tag}_epochs"] = epochs
                run.log(**metrics)
                run.print(f"{tag}: test ELBO {stats['elbo']:.1f} nats/image "
                          f"(NLL {stats['nll']:.1f}, KL {stats['kl']:.1f})")  # fmt: skip

        fig = Figure(figsize=(10, 3.6), dpi=120)
        ax1, ax2 = fig.subplots(1, 2)
        for tag, h in histories.items():
            ax1.plot(h["epoch"], h["neg_elbo"], marker="o", label=tag)
            ax2.plot(h["epoch"], h["test_elbo"], marker="o", label=tag)
        ax1.set_title("training -ELBO (epoch mean, nats/image)", fontsize=9)
        ax2.set_title("test ELBO after each epoch (nats/image)", fontsize=9)
        for ax in (ax1, ax2):
            ax.set_xlabel("epoch"), ax.grid(alpha=0.3), ax.legend(fontsize=7)
        fig.tight_layout()
        run.save_fig(fig, "elbo_curves")

        names = list(sources)
        fig = Figure(figsize=(4.6 * len(names), 4.9), dpi=120)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            image_grid(latent_grid(models[f"{name}_d2"], 15), nrow=15, ax=ax,
                       title=f"{name}, d = 2: decoder on z in [-2.5, 2.5]^2")  # fmt: skip
        fig.tight_layout()
        run.save_fig(fig, "latent_grid")

        fig = Figure(figsize=(8, 2.4 * len(names)), dpi=120)
        for ax, name in zip(fig.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
            test = sources[name][1]
            firsts = [int((test.labels == c).nonzero()[0]) for c in range(4)]
            pairs = [(firsts[0], firsts[1]), (firsts[2], firsts[3]), (firsts[1], firsts[3])]
            rows = interpolations(models[f"{name}_d{args.big_latent}"], test.images, pairs, 10)
            image_grid(rows, nrow=10, ax=ax,
                       title=f"{name}, d = {args.big_latent}: interpolating between the posterior "
                       "means of two test images")  # fmt: skip
        fig.tight_layout()
        run.save_fig(fig, "interpolation")

        fig = Figure(figsize=(4.6 * len(names), 3.0), dpi=120)
        gen = torch.Generator().manual_seed(args.seed)
        for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names, strict=True):
            samples = models[f"{name}_d{args.big_latent}"].sample(40, generator=gen)
            image_grid(samples, nrow=10, ax=ax, title=f"{name}: samples, z ~ N(0, I)")
        fig.tight_layout()
        run.save_fig(fig, "prior_samples")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
