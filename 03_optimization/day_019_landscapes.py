"""Day 19 — Loss landscapes: 1-D interpolation and 2-D filter-normalised slices (Li et al. 2018).

Trains the digits MLP twice from the same initialisation, with small batches (32) and with large
batches (512, with 4x the epochs and learning rate so that it also converges), then looks at the
loss around each solution: the straight line from the initialisation to the solution (Goodfellow
et al. 2015), 1-D slices along filter-normalised random directions, and a 2-D surface (contours +
contours) on two such directions. Filter normalisation makes the two networks' pictures comparable
despite different weight scales. A control shows why: the batch-32 network rescaled by the ReLU
symmetry (same function) looks different along raw random directions and identical along
filter-normalised ones. The mechanism diagram works the same symmetry on a one-neuron network.

Data-parallel training (`arena_core.optim.distributed`) is demonstrated separately with torchrun:
    torchrun --standalone --nproc_per_node=2 -m arena_core.optim.distributed --steps 50

Run:  arena run 19 [--smoke] [--publish]   (or python 03_optimization/day_019_landscapes.py)
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from arena_core.optim import Adam
from arena_core.optim.landscape import (
    filter_normalize,
    interpolate_1d,
    random_direction,
    snapshot,
    surface_2d,
)
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
    threads: int = 1  # torch CPU threads (the networks are tiny)
    rescale: float = 10.0  # the rescaling control multiplies layer 1 by this, layer 2 by 1/this


def one_neuron_example(a: float = 0.5) -> dict:
    """f(x) = w2 relu(w1 x) at x = 1 with loss (f - 2)^2, at two weight settings that compute the
    same function; one step of size `a` along the raw direction (1, 0) and along its
    filter-normalised version (computed by `filter_normalize`)."""
    out = {}
    for name, (w1, w2) in {"A": (1.0, 2.0), "B": (10.0, 0.2)}.items():
        params = [
            torch.tensor([[w1]], dtype=torch.float64),
            torch.tensor([[w2]], dtype=torch.float64),
        ]
        raw = [
            torch.tensor([[1.0]], dtype=torch.float64),
            torch.tensor([[0.0]], dtype=torch.float64),
        ]
        normed = filter_normalize(raw, params)

        def loss(direction, params=params):
            v1, v2 = (p + a * d for p, d in zip(params, direction, strict=True))
            return ((v2 * torch.relu(v1 * 1.0) - 2.0) ** 2).item()

        out[name] = {
            "w": [w1, w2],
            "loss_at_w": loss([torch.zeros_like(p) for p in params]),
            "normalised_direction": [normed[0].item(), normed[1].item()],
            "loss_raw_step": loss(raw),
            "loss_normalised_step": loss(normed),
        }
    out["a"] = a
    return out


def draw_mechanism(run: Run, ex: dict) -> None:
    """The (w1, w2) plane on log axes: lines of equal loss, two equivalent weight settings, and the
    same raw step vs the filter-normalised step from each."""
    fig = Figure(figsize=(7.5, 5.4))
    ax = fig.subplots()
    w1 = np.geomspace(0.4, 40, 300)
    w2 = np.geomspace(0.08, 5, 300)
    W1, W2 = np.meshgrid(w1, w2)
    L = (W1 * W2 - 2) ** 2
    ax.contour(W1, W2, L, levels=[0.01, 0.1, 1, 4], colors="0.7", linewidths=0.8)
    ax.plot([], [], color="0.7", lw=0.8, label="equal loss: 0.01, 0.1, 1, 4 (each side)")
    ax.plot(w1, 2 / w1, color="k", lw=1.5, label="w1 · w2 = 2: the same function, loss 0")
    a = ex["a"]
    for name in ("A", "B"):
        e = ex[name]
        x, y = e["w"]
        ax.plot([x], [y], "o", color="k", ms=7, zorder=5)
        ax.annotate(
            f"{name} = ({x:g}, {y:g})",
            (x, y),
            (-8, -18),
            textcoords="offset points",
            ha="right",
            fontsize=10.5,
        )
        raw_end = x + a * 1.0
        norm_end = x + a * e["normalised_direction"][0]
        ax.annotate(
            "", (norm_end, y), (x, y), arrowprops={"arrowstyle": "-|>", "color": "C0", "lw": 2.2}
        )
        ax.annotate(
            "", (raw_end, y), (x, y), arrowprops={"arrowstyle": "-|>", "color": "C1", "lw": 2.2}
        )
        same = abs(raw_end - norm_end) < 1e-6 * x  # |w1| = 1: the two steps coincide
        ax.annotate(
            f"both steps (|w1| = 1): loss {e['loss_raw_step']:.3g}"
            if same
            else f"raw step: loss {e['loss_raw_step']:.3g}\n"
            f"normalised: loss {e['loss_normalised_step']:.3g}",
            (norm_end, y),
            (8, 8),
            textcoords="offset points",
            fontsize=10.5,
        )
    ax.plot([], [], color="C1", lw=2.2, label=f"raw step, w1 + {a:g}")
    ax.plot([], [], color="C0", lw=2.2, label=f"filter-normalised step, w1 + {a:g}·|w1|")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="w1 (first-layer weight, log scale)",
        ylabel="w2 (second-layer weight, log scale)",
        title="f(x) = w2 · relu(w1 · x),  loss (f(1) − 2)²",
    )
    ax.grid(False)
    ticks_x, ticks_y = [0.5, 1, 2, 5, 10, 20], [0.1, 0.2, 0.5, 1, 2, 4]
    ax.set_xticks(ticks_x, [f"{t:g}" for t in ticks_x])
    ax.set_yticks(ticks_y, [f"{t:g}" for t in ticks_y])
    ax.minorticks_off()
    ax.set(xlim=(0.4, 40), ylim=(0.08, 5))
    ax.legend(loc="lower left", fontsize=9.5)
    fig.tight_layout()
    run.save_fig(fig, "mechanism")


def rescaled_copy(model: nn.Module, c: float) -> nn.Module:
    """The same function with other weights: layer 1 (weight and bias) times c, layer 2's weight
    divided by c. ReLU(c z) = c ReLU(z) for c > 0, so the outputs do not change."""
    import copy

    twin = copy.deepcopy(model)
    linears = [m for m in twin if isinstance(m, nn.Linear)]
    with torch.no_grad():
        linears[0].weight.mul_(c)
        linears[0].bias.mul_(c)
        linears[1].weight.div_(c)
    return twin


def raw_direction(params, generator) -> list:
    """A Gaussian direction on the weight matrices (none on biases), scaled to the weights'
    global norm: one fixed vector in parameter space, whatever network it is applied to."""
    raw = [
        torch.randn(p.shape, generator=generator, dtype=p.dtype)
        if p.dim() > 1
        else torch.zeros_like(p)
        for p in params
    ]
    w_norm = torch.sqrt(sum((p**2).sum() for p in params if p.dim() > 1))
    d_norm = torch.sqrt(sum((d**2).sum() for d in raw))
    return [d * w_norm / d_norm for d in raw]


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

        # The mechanism: one neuron, two equivalent weight settings.
        example = one_neuron_example()
        draw_mechanism(run, example)
        metrics["example_one_neuron"] = example

        # Control: the batch-32 net and a rescaled twin that computes the same function.
        base = nets[32][0]
        twin = rescaled_copy(base, args.rescale)
        metrics["rescaled_train_loss_difference"] = abs(train_loss(twin) - train_loss(base))
        n_dirs = 2 if args.smoke else args.n_directions
        ts_ctrl = torch.linspace(-args.span, args.span, n_grid, dtype=torch.float64)
        fig = Figure(figsize=(12, 4.4))
        ax_raw, ax_norm = fig.subplots(1, 2, sharey=True)
        g_ctrl = torch.Generator().manual_seed(args.seed + 1)
        rises = {
            k: [] for k in ("raw_original", "raw_rescaled", "normed_original", "normed_rescaled")
        }
        base_center = snapshot(base)
        for k in range(n_dirs):
            d_raw = raw_direction(base_center, g_ctrl)  # one vector, applied to both networks
            for net, tag, color in ((base, "original", "C0"), (twin, "rescaled", "C3")):
                center = snapshot(net)
                zero = [torch.zeros_like(c) for c in center]
                for kind, direction, ax in (
                    ("raw", d_raw, ax_raw),
                    ("normed", filter_normalize(d_raw, center), ax_norm),
                ):
                    curve = surface_2d(
                        net, train_loss, center, direction, zero, ts_ctrl, ts_ctrl[:1] * 0
                    )[0]
                    ax.plot(
                        ts_ctrl,
                        curve,
                        color=color,
                        alpha=0.7,
                        ls="-" if tag == "original" else "--",
                        label=(f"{tag} network" if k == 0 else None),
                    )
                    mid = curve[n_grid // 2].item()
                    rises[f"{kind}_{tag}"].append(curve[[0, -1]].mean().item() - mid)
        for key, values in rises.items():
            metrics[f"control_mean_loss_rise_{key}"] = float(np.mean(values))
        ax_raw.set(
            yscale="log",
            title="raw random directions",
            xlabel="step along the direction (a)",
            ylabel="training loss (cross-entropy)",
        )
        ax_norm.set(
            title="the same directions, filter-normalised", xlabel="step along the direction (a)"
        )
        ax_raw.legend(loc="upper center")
        fig.tight_layout()
        run.save_fig(fig, "rescaling_control")

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
            xlabel="α  (0 = initialisation, 1 = trained weights)",
            ylabel="training loss (cross-entropy)",
            title="straight line from the initialisation",
        )
        ax_rand.set(
            yscale="log",
            xlabel="step along a filter-normalised random direction (a)",
            ylabel="training loss (cross-entropy)",
            title=f"{args.n_directions} random 1-D slices per network",
        )
        for ax in (ax_line, ax_rand):
            ax.legend(loc="best")
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
        fig = Figure(figsize=(11, 4.8))
        X, Y = np.meshgrid(ts.numpy(), ts.numpy())
        axes = fig.subplots(1, 2, sharey=True)
        for ax, (batch, z) in zip(axes, surfaces.items(), strict=True):
            cs = ax.contourf(X, Y, z.numpy(), levels=levels, cmap="viridis")
            ax.contour(X, Y, z.numpy(), levels=levels, colors="k", linewidths=0.3)
            ax.plot(0, 0, "r*", ms=10)
            ax.set(title=f"batch {batch}", xlabel="a (direction 1)", aspect="equal")
            ax.set_xticks([-1, -0.5, 0, 0.5, 1])
            ax.grid(False)
        axes[0].set(ylabel="b (direction 2)", yticks=[-1, -0.5, 0, 0.5, 1])
        fig.colorbar(cs, ax=list(axes), fraction=0.046, label="log10 training loss", format="%.1f")
        run.save_fig(fig, "landscape_2d")
        for batch, z in surfaces.items():
            metrics[f"batch{batch}_surface_min_log10_loss"] = z.min().item()
            metrics[f"batch{batch}_surface_max_log10_loss"] = z.max().item()
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
