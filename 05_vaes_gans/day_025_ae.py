"""Day 25 — Autoencoders: compress Fashion-MNIST/MNIST to a 2-D code and decode it back.

Trains `arena_core.generative.Autoencoder` (strided convs down, our from-scratch ConvTranspose2d
up, a 2-D bottleneck) with Adam on the Bernoulli reconstruction loss, on class-balanced subsets
of each available offline source (Fashion-MNIST from the Debian package, MNIST full or the bundled
5,000-image subset). Figures: the test set's 2-D codes coloured by class, test reconstructions,
and what the decoder draws on a grid of codes (an autoencoder's latent space has holes: grid points
between the clusters decode to blurry hybrids, which is what the VAE of day 26 fixes).
Checkpoints after every epoch; `--resume` continues an interrupted run.

Run:  arena run 25 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_025_ae.py)
Full run: ~2 min on 2 CPU cores (124 s in the published run). Smoke: ~6 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.generative import Autoencoder, reconstruction_loss, train_autoencoder
from arena_core.generative.figures import curves, image_grid, latent_scatter, load_sources
from arena_core.nn import sigmoid
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    n_train: int = 12_000  # training images per source (class-balanced subset)
    n_test: int = 2_000  # test images per source
    steps: int = 500  # optimiser steps per model (epochs = steps / batches per epoch)
    latent_dim: int = 2  # bottleneck size (2 so the codes can be plotted)
    batch_size: int = 128  # minibatch size
    lr: float = 2e-3  # Adam learning rate
    threads: int = 1  # torch threads (small convs on a busy machine: 1 is fastest)
    resume: bool = False  # continue from the checkpoints of an interrupted run


@torch.no_grad()
def decode_grid(model: Autoencoder, z: torch.Tensor, steps: int) -> Figure:
    """Decode a steps x steps grid spanning the 2-98% range of the test codes."""
    lo, hi = torch.quantile(z, 0.02, dim=0), torch.quantile(z, 0.98, dim=0)
    a = torch.linspace(0, 1, steps)
    z1 = lo[0] + (hi[0] - lo[0]) * a
    z2 = hi[1] - (hi[1] - lo[1]) * a
    grid = torch.stack(torch.meshgrid(z2, z1, indexing="ij"), -1).flip(-1).reshape(-1, 2)
    return sigmoid(model.decode_logits(grid))


def main(args: Args) -> dict:
    with Run(day=25, args=args) as run:
        n_train, n_test = (256, 200) if args.smoke else (args.n_train, args.n_test)
        sources = load_sources(
            ("fashion_mnist", "mnist"), n_train, n_test, record=run.record_source
        )
        metrics: dict = {}
        histories, figs = {}, {}
        for name, (train, test) in sources.items():
            run.record_source(f"data_{name}", f"{train.source}; {len(train)} train / "
                              f"{len(test)} test, class-balanced")  # fmt: skip
            per_epoch = max(1, len(train) // args.batch_size)
            epochs = 1 if args.smoke else math.ceil(args.steps / per_epoch)
            model = Autoencoder(latent_dim=args.latent_dim)
            ckpt = run.checkpoint_path(f"ae_{name}.pt")
            if not args.resume:
                ckpt.unlink(missing_ok=True)
            history = train_autoencoder(
                model, train.images, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                seed=args.seed, checkpoint_path=ckpt, device=run.device, desc=f"AE {name}",
            )  # fmt: skip
            model.eval().cpu()
            with torch.no_grad():
                z = torch.cat(
                    [model.encode(test.images[i : i + 500]) for i in range(0, n_test, 500)]
                )
                test_loss = reconstruction_loss(model(test.images), test.images).item()
                mse = (sigmoid(model(test.images)) - test.images).pow(2).mean().item()
            histories[name] = history
            figs[name] = (model, test, z)
            metrics[f"{name}_test_bce_nats"] = test_loss
            metrics[f"{name}_test_pixel_mse"] = mse
            metrics[f"{name}_train_bce_nats_last_epoch"] = history["loss"][-1]
            metrics[f"{name}_train_seconds"] = sum(history["seconds"])
            metrics[f"{name}_epochs"] = epochs
            run.log(**metrics)
            run.print(f"{name}: test reconstruction {test_loss:.1f} nats/image, MSE {mse:.4f}")
        metrics["n_params"] = sum(p.numel() for p in Autoencoder(args.latent_dim).parameters())

        fig = Figure(figsize=(5.2 * len(figs), 4.3), dpi=120)
        for ax, (name, (_, test, z)) in zip(fig.subplots(1, len(figs), squeeze=False)[0],
                                            figs.items(), strict=True):  # fmt: skip
            latent_scatter(z, test.labels, test.classes, f"{name}: test codes (2-D bottleneck)", ax)
        fig.tight_layout()
        run.save_fig(fig, "latent_scatter")

        fig = Figure(figsize=(8, 1.9 * len(figs)), dpi=120)
        axes = fig.subplots(len(figs), 1, squeeze=False)[:, 0]
        for ax, (name, (model, test, _)) in zip(axes, figs.items(), strict=True):
            x = test.images[:: max(1, len(test) // 12)][:12]
            with torch.no_grad():
                pair = torch.cat([x, sigmoid(model(x))])
            image_grid(pair, nrow=12, title=f"{name}: test images (top) and reconstructions", ax=ax)
        fig.tight_layout()
        run.save_fig(fig, "reconstructions")

        fig = Figure(figsize=(4.6 * len(figs), 4.8), dpi=120)
        for ax, (name, (model, _, z)) in zip(fig.subplots(1, len(figs), squeeze=False)[0],
                                             figs.items(), strict=True):  # fmt: skip
            image_grid(decode_grid(model, z, 12), nrow=12, ax=ax,
                       title=f"{name}: decoder on a 12x12 grid of codes")  # fmt: skip
        fig.tight_layout()
        run.save_fig(fig, "latent_grid")
        run.save_fig(curves(histories, ("loss",), "BCE (nats/image)", "AE training loss"), "loss")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
