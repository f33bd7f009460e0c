"""Day 25 — Autoencoders: compress Fashion-MNIST/MNIST to a 2-D code and decode it back.

Trains `arena_core.generative.Autoencoder` (strided convs down, our from-scratch ConvTranspose2d
up, a 2-D bottleneck) with Adam on the Bernoulli reconstruction loss, on class-balanced subsets
of each available offline source (Fashion-MNIST from the Debian package, MNIST full or the bundled
5,000-image subset). Figures: the mechanism of the decoder's transposed convolution on a 2x2
example (every input pixel paints a kernel-sized patch, stride 2 apart, overlaps add, the border
is cropped), the test set's 2-D codes coloured by class, test reconstructions, and what the
decoder draws on a grid of codes (an autoencoder's latent space has holes: grid points between
the clusters decode to faint or hybrid shapes, which is what the VAE of day 26 fixes).
Checkpoints after every epoch; `--resume` continues an interrupted run.

Run:  arena run 25 [--smoke] [--publish] [--resume]   (or python 05_vaes_gans/day_025_ae.py)
Full run: ~2 min on 2 CPU cores (124 s in the published run). Smoke: ~6 s.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.generative import Autoencoder, reconstruction_loss, train_autoencoder
from arena_core.generative.figures import image_grid, latent_scatter, load_sources, source_label
from arena_core.nn import conv_transpose2d, sigmoid
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix


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


#: The worked example of the post: a 2x2 input and a 4x4 kernel of ones, with the decoder's
#: geometry (kernel 4, stride 2, padding 1), which doubles the side: 2 -> 4 here, 7 -> 14 -> 28
#: in the decoder.
EXAMPLE_X = [[1.0, 2.0], [3.0, 4.0]]
PATCH_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]


@torch.no_grad()
def worked_example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, the uncropped canvas, the output) of our conv_transpose2d on the example."""
    x = torch.tensor(EXAMPLE_X).view(1, 1, 2, 2)
    kernel = torch.ones(1, 1, 4, 4)
    canvas_values = conv_transpose2d(x, kernel, stride=2, padding=0)  # nothing cropped: 6x6
    out = conv_transpose2d(x, kernel, stride=2, padding=1)  # the layer's output: 4x4
    return x[0, 0], canvas_values[0, 0], out[0, 0]


def mechanism_figure() -> Figure:
    """How a transposed convolution paints: each input pixel adds value x kernel onto a canvas,
    patches 2 apart, overlaps sum, and `padding` crops the border."""
    x, painted, out = worked_example()
    fig, ax = canvas(width=14, height=9, scale=0.6)
    # top row: the input and the kernel
    matrix(ax, x.tolist(), xy=(0.5, 6.2), title="input x (2×2)", cmap=None, fontsize=12)
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        ax.add_patch(Rectangle((0.5 + j + 0.06, 6.2 + (1 - i) + 0.06), 0.88, 0.88, fill=False,
                               edgecolor=PATCH_COLOURS[k], lw=2.4))  # fmt: skip
    matrix(ax, torch.ones(4, 4).tolist(), xy=(4.2, 5.7), cell=0.6, cmap=None,
           title="kernel K (4×4 of ones)", fontsize=9.5)  # fmt: skip
    label(ax, (7.4, 7.4), "each pixel x[i, j] paints x[i, j] · K\n"
          "onto rows 2i … 2i+3, columns 2j … 2j+3;\nwhere patches overlap, the paint adds up",
          fontsize=11, ha="left")  # fmt: skip
    # bottom row: the canvas with the four patches outlined, then the crop
    cell = 0.8
    x0, y0 = 0.5, 0.0
    matrix(ax, painted.tolist(), xy=(x0, y0), cell=cell, cmap="Blues", fontsize=11,
           title="canvas (6×6): sum of the four patches")  # fmt: skip
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        inset = 0.05 + 0.05 * k
        top = y0 + 6 * cell - 2 * i * cell  # patches start 2 rows apart, first row on top
        ax.add_patch(Rectangle((x0 + 2 * j * cell + inset, top - 4 * cell + inset),
                               4 * cell - 2 * inset, 4 * cell - 2 * inset, fill=False,
                               edgecolor=PATCH_COLOURS[k], lw=2.0))  # fmt: skip
    ax.add_patch(Rectangle((x0 + cell, y0 + cell), 4 * cell, 4 * cell, fill=False,
                           edgecolor="0.1", lw=2.2, linestyle="--"))  # fmt: skip
    arrow(ax, (x0 + 6 * cell + 0.3, y0 + 3 * cell), (9.3, y0 + 3 * cell),
          "crop 1 pixel\n(padding = 1)")  # fmt: skip
    matrix(ax, out.tolist(), xy=(9.6, y0 + cell), cell=cell, cmap="Blues", fontsize=11,
           title="output (4×4)")  # fmt: skip
    label(ax, (7.0, -0.9), "The decoder uses the same geometry (kernel 4, stride 2, padding 1) "
          "with learned kernels:\n32 maps of 7×7 → 16 maps of 14×14 → one 28×28 image.",
          fontsize=10.5)  # fmt: skip
    finish(ax)
    return fig


@torch.no_grad()
def decode_grid(model: Autoencoder, z: torch.Tensor, steps: int):
    """Decode a steps x steps grid spanning the 2-98% range of the test codes: (images, lo, hi)."""
    lo, hi = torch.quantile(z, 0.02, dim=0), torch.quantile(z, 0.98, dim=0)
    a = torch.linspace(0, 1, steps)
    z1 = lo[0] + (hi[0] - lo[0]) * a
    z2 = hi[1] - (hi[1] - lo[1]) * a
    grid = torch.stack(torch.meshgrid(z2, z1, indexing="ij"), -1).flip(-1).reshape(-1, 2)
    return sigmoid(model.decode_logits(grid)), lo, hi


def main(args: Args) -> dict:
    with Run(day=25, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        n_train, n_test = (256, 200) if args.smoke else (args.n_train, args.n_test)
        sources = load_sources(
            ("fashion_mnist", "mnist"), n_train, n_test, record=run.record_source
        )
        metrics: dict = {}
        figs = {}
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
            figs[name] = (model, test, z)
            metrics[f"{name}_test_bce_nats"] = test_loss
            metrics[f"{name}_test_pixel_mse"] = mse
            metrics[f"{name}_train_bce_nats_last_epoch"] = history["loss"][-1]
            metrics[f"{name}_train_seconds"] = sum(history["seconds"])
            metrics[f"{name}_epochs"] = epochs
            lo, hi = torch.quantile(z, 0.02, dim=0), torch.quantile(z, 0.98, dim=0)
            metrics[f"{name}_code_std"] = z.std(dim=0).tolist()  # per dimension
            metrics[f"{name}_code_range_2_98"] = torch.stack([lo, hi], 1).tolist()  # [dim][lo, hi]
            run.log(**metrics)
            run.print(f"{name}: test reconstruction {test_loss:.1f} nats/image, MSE {mse:.4f}")
        metrics["n_params"] = sum(p.numel() for p in Autoencoder(args.latent_dim).parameters())

        fig = Figure(figsize=(5.2 * len(figs), 4.3), dpi=120)
        for ax, (name, (_, test, z)) in zip(fig.subplots(1, len(figs), squeeze=False)[0],
                                            figs.items(), strict=True):  # fmt: skip
            title = f"{source_label(name)}: codes of {len(test):,} test images"
            latent_scatter(z, test.labels, test.classes, title, ax)
        fig.tight_layout()
        run.save_fig(fig, "latent_scatter")

        fig = Figure(figsize=(8, 1.9 * len(figs)), dpi=120)
        axes = fig.subplots(len(figs), 1, squeeze=False)[:, 0]
        for ax, (name, (model, test, _)) in zip(axes, figs.items(), strict=True):
            x = test.images[:: max(1, len(test) // 12)][:12]
            with torch.no_grad():
                pair = torch.cat([x, sigmoid(model(x))])
            title = f"{source_label(name)}: test images (top) and reconstructions"
            image_grid(pair, nrow=12, title=title, ax=ax)
        fig.tight_layout()
        run.save_fig(fig, "reconstructions")

        fig = Figure(figsize=(4.6 * len(figs), 4.8), dpi=120)
        for ax, (name, (model, _, z)) in zip(fig.subplots(1, len(figs), squeeze=False)[0],
                                             figs.items(), strict=True):  # fmt: skip
            images, lo, hi = decode_grid(model, z, 12)
            image_grid(images, nrow=12, ax=ax,
                       title=f"{source_label(name)}: decoder on a 12×12 grid of codes")  # fmt: skip
            ax.set_xlabel(f"$z_1$ from {lo[0]:.1f} (left) to {hi[0]:.1f} (right)")
            ax.set_ylabel(f"$z_2$ from {lo[1]:.1f} (bottom) to {hi[1]:.1f} (top)")
        fig.tight_layout()
        run.save_fig(fig, "latent_grid")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
