"""Day 2 — einops and einsum on real MNIST digits: rearrange, reduce, repeat, and einsum.

Every einops expression is checked against an independent torch/torchvision reference:
- rearrange: a grid of 64 digits (`arena_core.tensors.reshape.make_grid`) vs
  `torchvision.utils.make_grid` and a hand-written reshape/permute; patches vs `F.unfold`;
- reduce: 2x2 max-pooling vs `F.max_pool2d`, the mean digit of each class vs a boolean-mask loop;
- repeat: nearest-neighbour 2x upsampling vs `F.interpolate`;
- einsum: the Gram matrix of class means and digit-vs-mean scores vs `@`; the scores give a
  nearest-class-mean classifier, whose test accuracy is reported as a by-product.

The mechanism diagram follows four 2x2 "images" holding 0..15 through the grid rearrange (split the
batch axis, move the grid axes next to the pixel axes, merge), with the numbers computed by
`make_grid`.

Run:  arena run 2 [--smoke] [--publish]   (or python 00_prerequisites/day_002_einops.py)
Full run: ~5 s on 2 CPU cores (most of it loading MNIST). Smoke: ~3 s.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, reduce, repeat
from matplotlib.figure import Figure
from torchvision.utils import make_grid as tv_make_grid

from arena_core.data import load_mnist
from arena_core.tensors.reshape import make_grid, patchify, unpatchify
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix

BLOCK_COLOURS = ["Blues", "Oranges", "Greens", "Purples"]  # one colour per source image


@dataclass
class Args(DayArgs):
    grid_images: int = 64  # digits in the grid figure
    nrow: int = 8  # digits per row of the grid
    per_class: int = 400  # digits per class (train split) averaged into the class means


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def class_means(images: torch.Tensor, labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Sort `per_class` digits of each class into one block, then reduce over the block axis."""
    picked = torch.cat([images[labels == c][:per_class] for c in range(10)])
    return reduce(picked, "(cls n) c h w -> cls c h w", "mean", cls=10)


def mechanism_figure() -> tuple[Figure, dict]:
    """Four 2x2 images holding 0..15 become one 4x4 grid: split b, reorder axes, merge."""
    images = torch.arange(16.0).reshape(4, 1, 2, 2)  # (b c h w)
    grid = make_grid(images, nrow=2)  # (c, gh*h, gw*w) = (1, 4, 4)
    by_hand = images.reshape(2, 2, 1, 2, 2).permute(2, 0, 3, 1, 4).reshape(1, 4, 4)
    fig, ax = canvas(width=16, height=12, scale=0.5)
    for i in range(4):  # the batch: four separate images
        matrix(
            ax, images[i, 0].numpy(), xy=(i * 3.0, 8.0), title=f"image {i}", cmap=BLOCK_COLOURS[i]
        )
    label(ax, (5.0, 7.3), "x: (b, c, h, w) = (4, 1, 2, 2)", fontsize=10.5)
    arrow(ax, (3.2, 6.9), (3.2, 5.6))
    label(ax, (3.5, 6.5), "split b = (gh gw) with gw = 2,", fontsize=10, ha="left")
    label(ax, (3.5, 6.0), "put gh before h and gw before w", fontsize=10, ha="left")
    for i in range(4):  # the same images, placed by (gh, gw)
        gh, gw = divmod(i, 2)
        matrix(ax, images[i, 0].numpy(), xy=(1.0 + gw * 2.6, 2.6 - gh * 2.6), cmap=BLOCK_COLOURS[i])
    label(ax, (0.6, 3.6), "gh = 0", fontsize=10, ha="right")
    label(ax, (0.6, 1.0), "gh = 1", fontsize=10, ha="right")
    label(ax, (2.0, -0.35), "gw = 0", fontsize=10)
    label(ax, (4.6, -0.35), "gw = 1", fontsize=10)
    label(ax, (3.3, -1.05), "(c, gh, h, gw, w) = (1, 2, 2, 2, 2)", fontsize=10.5)
    arrow(ax, (6.1, 2.3), (8.7, 2.3))
    label(ax, (7.4, 3.05), "merge (gh h)", fontsize=10)
    label(ax, (7.4, 2.65), "and (gw w)", fontsize=10)
    for i in range(4):  # the result: the blocks of the 4x4 grid, cut out of make_grid's output
        gh, gw = divmod(i, 2)
        block = grid[0, gh * 2 : gh * 2 + 2, gw * 2 : gw * 2 + 2]
        matrix(ax, block.numpy(), xy=(9.0 + gw * 2, 0.3 + (1 - gh) * 2), cmap=BLOCK_COLOURS[i])
    label(ax, (11.0, 5.1), "grid: (c, gh h, gw w) = (1, 4, 4)", fontsize=10.5)
    label(
        ax,
        (7.0, -2.5),
        'rearrange(x, "(gh gw) c h w -> c (gh h) (gw w)", gw=2)\n'
        "= x.reshape(2, 2, 1, 2, 2).permute(2, 0, 3, 1, 4).reshape(1, 4, 4)",
        fontsize=10.5,
        family="monospace",
        linespacing=1.5,
    )
    finish(ax)
    return fig, {
        "toy_grid_rows": grid[0].tolist(),
        "toy_grid_equals_reshape_permute": bool(torch.equal(grid, by_hand)),
    }


def operations_figure(img: torch.Tensor, means: torch.Tensor) -> Figure:
    """One digit through several einops operations, and the ten class means in a row."""
    pooled = reduce(img, "c (h 2) (w 2) -> c h w", "max")
    up = repeat(img, "c h w -> c (h 2) (w 2)")
    flipped = rearrange(img, "c h w -> c w h")
    patches = patchify(img[None], 7)[0]  # [16 patches, 49]
    shuffled = unpatchify(patches[torch.randperm(16)][None], 7, 28, 1)[0]
    panels = [
        (img, "original"),
        (pooled, "max-pool 2×2: reduce\nc (h 2) (w 2) -> c h w"),
        (up, "upsample 2×: repeat\nc h w -> c (h 2) (w 2)"),
        (flipped, "transpose: rearrange\nc h w -> c w h"),
        (shuffled, "7×7 patches shuffled\n(patchify, unpatchify)"),
    ]
    fig = Figure(figsize=(10, 3.3))
    grid = fig.add_gridspec(2, len(panels), height_ratios=[1.0, 0.55], hspace=0.5, wspace=0.25)
    axes = [fig.add_subplot(grid[0, i]) for i in range(len(panels))]
    for ax, (image, title) in zip(axes, panels, strict=True):
        ax.imshow(image[0].numpy(), cmap="gray")
        h, w = image.shape[1:]
        ax.set_title(f"{title}\n{h} × {w} pixels", fontsize=9, fontweight="normal")
        ax.axis("off")
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(make_grid(means, nrow=10, padding=1, pad_value=1.0)[0].numpy(), cmap="magma")
    ax.set_title(
        'the ten class means: reduce "(cls n) c h w -> cls c h w", "mean"',
        fontsize=9.5,
        fontweight="normal",
    )
    ax.axis("off")
    return fig


def main(args: Args) -> dict:
    if args.smoke:
        args.grid_images, args.per_class = 16, 5
    with Run(day=2, args=args) as run:
        fig, toy = mechanism_figure()
        run.save_fig(fig, "mechanism")
        data, train = load_mnist("test"), load_mnist("train")
        run.record_source("data", data.source)
        run.record_source("data_train", train.source)
        images, labels = train.images, train.labels  # class means come from the train split
        batch = data.images[: args.grid_images]

        # rearrange: grid of digits (torchvision turns 1 channel into 3; compare channel 0)
        grid = make_grid(batch, nrow=args.nrow, padding=2, pad_value=1.0)
        tv = tv_make_grid(batch, nrow=args.nrow, padding=2, pad_value=1.0)[:1]
        b = batch.shape[0]
        rows = b // args.nrow
        manual = (
            batch[: rows * args.nrow]
            .reshape(rows, args.nrow, 1, 28, 28)
            .permute(2, 0, 3, 1, 4)
            .reshape(1, rows * 28, args.nrow * 28)
        )
        unpadded = make_grid(batch[: rows * args.nrow], nrow=args.nrow)
        fig = Figure(figsize=(6, 6))
        ax = fig.subplots()
        ax.imshow(grid[0].numpy(), cmap="gray_r")
        ax.set_title(
            f'{b} MNIST test digits, tiled by one rearrange:\n"(gh gw) c h w -> c (gh h) (gw w)"',
            fontsize=10.5,
            fontweight="normal",
        )
        ax.axis("off")
        run.save_fig(fig, "digit_grid")

        # patches: rearrange vs F.unfold, and the round trip
        patches = patchify(batch, 7)
        unfold = F.unfold(batch, kernel_size=7, stride=7).transpose(1, 2)

        # reduce: max-pool and class means
        pooled = reduce(batch, "b c (h 2) (w 2) -> b c h w", "max")
        means = class_means(images, labels, args.per_class)
        loop_means = torch.stack([images[labels == c][: args.per_class].mean(0) for c in range(10)])

        # repeat: nearest-neighbour upsampling
        up = repeat(batch, "b c h w -> b c (h 2) (w 2)")

        # einsum: Gram matrix of the class means, and each digit vs each class mean
        flat_means = rearrange(means, "cls c h w -> cls (c h w)")
        gram = torch.einsum("id,jd->ij", flat_means, flat_means)
        scores = torch.einsum("bchw,kchw->bk", data.images, means)
        # nearest class mean: argmin ||x - m||^2 = argmax (x . m - ||m||^2 / 2)
        predicted = (scores - 0.5 * gram.diag()).argmax(1)
        nearest_mean_acc = (predicted == data.labels).float().mean()

        run.save_fig(operations_figure(batch[0], means), "einops_operations")
        errors = {
            "grid_vs_torchvision_max_abs_err": max_err(grid, tv),
            "grid_vs_manual_permute_max_abs_err": max_err(unpadded, manual),
            "patchify_vs_unfold_max_abs_err": max_err(patches, unfold),
            "unpatchify_round_trip_max_abs_err": max_err(unpatchify(patches, 7, 28, 1), batch),
            "maxpool_vs_F_max_pool2d_max_abs_err": max_err(pooled, F.max_pool2d(batch, 2)),
            "class_means_vs_loop_max_abs_err": max_err(means, loop_means),
            "repeat_vs_F_interpolate_max_abs_err": max_err(
                up, F.interpolate(batch, scale_factor=2, mode="nearest")
            ),
            "einsum_gram_vs_matmul_max_abs_err": max_err(gram, flat_means @ flat_means.T),
            "einsum_scores_vs_matmul_max_abs_err": max_err(
                scores, data.images.flatten(1) @ means.flatten(1).T
            ),
        }
        return run.finish(
            {
                **toy,
                "images_in_grid": b,
                "grid_shape": list(grid.shape),
                "max_abs_err_over_all_checks": max(errors.values()),
                **errors,
                "test_images": len(data),
                "nearest_class_mean_test_accuracy": nearest_mean_acc.item(),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
