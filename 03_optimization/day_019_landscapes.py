"""Day 19 — Loss landscapes: 1-D interpolation and 2-D filter-normalised slices (Li et al. 2018).

Trains the digits MLP twice from the same initialisation, with small batches (32) and with large
batches (512, with 4x the epochs and learning rate so that it also converges), then looks at the
loss around each solution: the straight line from the initialisation to the solution (Goodfellow
et al. 2015), 1-D slices along filter-normalised random directions, and a 2-D surface (contours +
3-D view) on two such directions. Filter normalisation makes the two networks' pictures comparable
despite different weight scales.

Data-parallel training (`arena_core.optim.distributed`) is demonstrated separately with torchrun:
    torchrun --standalone --nproc_per_node=2 -m arena_core.optim.distributed --steps 50

Run:  arena run 19 [--smoke] [--publish]   (or python 03_optimization/day_019_landscapes.py)
Full run: ~15 s on 2 CPU cores. Smoke: ~3 s.
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from arena_core.optim import Adam
from arena_core.optim.landscape import interpolate_1d, random_direction, snapshot, surface_2d
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    epochs: int = 40  # training epochs for each network
    lr: float = 1e-3  # Adam learning rate
    grid: int = 41  # points per axis of the 2-D surface
    span: float = 1.0  # the surface covers [-span, span]^2 in filter-normalised units
    n_directions: int = 5  # random directions for the 1-D slices
    large_batch: int = 512  # batch size of the second network (the first uses 32)
    large_scale: float = 4.0  # the large-batch net gets this many times the epochs and the lr
    threads: int = 1  # torch CPU threads (tiny networks: one thread beats two)


def main(args: Args) -> dict:
    with Run(day=19, args=args) as run:
        epochs = 2 if args.smoke else args.epochs
        n_grid = 7 if args.smoke else args.grid
        task = load_digits_task(torch.float64)  # float64: smooth surfaces, no rounding noise
        run.record_source("data", task.source)
        train_x, train_y = task.train.x, task.train.y

        def train_loss(model: nn.Module) -> float:
            return nn.functional.cross_entropy(model(train_x), train_y).item()

        metrics, nets = {}, {}
        # Equal epochs would give the large batch 16x fewer steps and an unfinished network; more
        # epochs and a larger lr (sqrt-scaling for 16x the batch) let both reach a low loss.
        for batch, scale in ((32, 1.0), (args.large_batch, args.large_scale)):
            torch.manual_seed(args.seed)
            model = make_mlp(task.n_inputs).double()
            init = snapshot(model)
            hist = train_classifier(
                model,
                Adam(model.parameters(), lr=args.lr * scale),
                task,
                round(epochs * scale),
                batch_size=batch,
                seed=args.seed,
            )
            nets[batch] = (model, init)
            metrics[f"batch{batch}_test_accuracy"] = hist.test_accuracy[-1]
            metrics[f"batch{batch}_train_loss"] = train_loss(model)
            metrics[f"batch{batch}_weight_norm"] = float(
                torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters()))
            )

        # 1-D: from the initialisation (alpha=0) through the solution (alpha=1) and beyond.
        alphas = torch.linspace(-0.25, 1.5, 15 if args.smoke else 71, dtype=torch.float64)
        fig = Figure(figsize=(12, 4))
        ax_line, ax_rand = fig.subplots(1, 2)
        g = torch.Generator().manual_seed(args.seed)
        ts = torch.linspace(-args.span, args.span, n_grid, dtype=torch.float64)
        for (batch, (model, init)), color in zip(nets.items(), ["C0", "C3"], strict=True):
            center = snapshot(model)
            line = interpolate_1d(model, train_loss, init, center, alphas)
            ax_line.plot(alphas, line, color=color, label=f"batch {batch}")
            rises = []
            for k in range(2 if args.smoke else args.n_directions):
                d = random_direction(center, g)
                zero = [torch.zeros_like(c) for c in center]
                slice_ = surface_2d(model, train_loss, center, d, zero, ts, ts[:1] * 0)[0]
                ax_rand.plot(
                    ts, slice_, color=color, alpha=0.6, label=f"batch {batch}" if k == 0 else None
                )
                rises.append(slice_[[0, -1]].mean().item() - slice_[n_grid // 2].item())
            metrics[f"batch{batch}_mean_loss_rise_at_span"] = float(np.mean(rises))
        ax_line.set(
            yscale="log",
            xlabel="α  (θ = (1 − α) θ_init + α θ_trained)",
            ylabel="train loss",
            title="linear interpolation from the initialisation",
        )
        ax_rand.set(
            yscale="log",
            xlabel="step along a filter-normalised random direction",
            ylabel="train loss",
            title=f"{args.n_directions} random 1-D slices per net",
        )
        for ax in (ax_line, ax_rand):
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        run.save_fig(fig, "landscape_1d")

        # 2-D: contours and a 3-D surface of log10 loss on two random directions per network.
        surfaces = {}
        for batch, (model, _) in nets.items():
            center = snapshot(model)
            d1, d2 = random_direction(center, g), random_direction(center, g)
            surfaces[batch] = surface_2d(model, train_loss, center, d1, d2, ts, ts).log10()
        vmin = min(s.min().item() for s in surfaces.values())
        vmax = max(s.max().item() for s in surfaces.values())
        levels = np.linspace(vmin, vmax, 25)
        fig = Figure(figsize=(12, 10))
        X, Y = np.meshgrid(ts.numpy(), ts.numpy())
        for col, (batch, z) in enumerate(surfaces.items()):
            ax = fig.add_subplot(2, 2, col + 1)
            cs = ax.contourf(X, Y, z.numpy(), levels=levels, cmap="viridis")
            ax.contour(X, Y, z.numpy(), levels=levels, colors="k", linewidths=0.3)
            ax.plot(0, 0, "r*", ms=10)
            ax.set(title=f"batch {batch}: log10 train loss", xlabel="δ", ylabel="η", aspect="equal")
            fig.colorbar(cs, ax=ax, fraction=0.046)
            ax3 = fig.add_subplot(2, 2, col + 3, projection="3d")
            ax3.plot_surface(X, Y, z.numpy(), cmap="viridis", vmin=vmin, vmax=vmax, linewidth=0)
            ax3.set(
                title=f"batch {batch}",
                xlabel="δ",
                ylabel="η",
                zlabel="log10 loss",
                zlim=(vmin, vmax),
            )
        fig.tight_layout()
        run.save_fig(fig, "landscape_2d")
        for batch, z in surfaces.items():
            metrics[f"batch{batch}_surface_min_log10_loss"] = z.min().item()
            metrics[f"batch{batch}_surface_max_log10_loss"] = z.max().item()
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
