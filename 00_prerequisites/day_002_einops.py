"""Day 2 — einops and einsum on real MNIST digits: rearrange, reduce, repeat, and einsum.

Every einops expression is checked against an independent torch/torchvision reference:
- rearrange: a grid of 64 digits (`arena_core.tensors.reshape.make_grid`) vs
  `torchvision.utils.make_grid` and a hand-written reshape/permute; patches vs `F.unfold`;
- reduce: 2x2 max-pooling vs `F.max_pool2d`, the mean digit of each class vs a boolean-mask loop;
- repeat: nearest-neighbour 2x upsampling vs `F.interpolate`;
- einsum: the Gram matrix of class means and digit-vs-mean scores vs `@`; the scores give a
  nearest-class-mean classifier, whose test accuracy is reported as a by-product.

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


def operations_figure(img: torch.Tensor, means: torch.Tensor) -> Figure:
    """One digit through several einops operations, and the ten class means in a row."""
    pooled = reduce(img, "c (h 2) (w 2) -> c h w", "max")
    up = repeat(img, "c h w -> c (h 2) (w 2)")
    flipped = rearrange(img, "c h w -> c w h")
    patches = patchify(img[None], 7)[0]  # [16 patches, 49]
    shuffled = unpatchify(patches[torch.randperm(16)][None], 7, 28, 1)[0]
    panels = [
        (img, "original 28x28"),
        (pooled, 'reduce "(h 2)(w 2)" max'),
        (up, 'repeat "(h 2)(w 2)"'),
        (flipped, 'rearrange "h w -> w h"'),
        (shuffled, "7x7 patches shuffled"),
    ]
    fig = Figure(figsize=(10, 3.5))
    top = fig.subfigures(2, 1, height_ratios=[1.3, 1])
    axes = top[0].subplots(1, len(panels))
    for ax, (image, title) in zip(axes, panels, strict=True):
        ax.imshow(image[0].numpy(), cmap="gray")
        ax.set_title(f"{title}\n{tuple(image.shape[1:])}", fontsize=8)
        ax.axis("off")
    ax = top[1].subplots()
    ax.imshow(make_grid(means, nrow=10, padding=1, pad_value=1.0)[0].numpy(), cmap="magma")
    ax.set_title('class means: reduce "(cls n) c h w -> cls c h w", "mean"', fontsize=9)
    ax.axis("off")
    return fig


def main(args: Args) -> dict:
    if args.smoke:
        args.grid_images, args.per_class = 16, 5
    with Run(day=2, args=args) as run:
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
            f'{b} MNIST test digits: rearrange "(gh gw) c h w -> c (gh h) (gw w)"', fontsize=9
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
