"""Day 16 — Adam and RMSprop: per-coordinate step sizes, bias correction, decoupled weight decay.

Runs our RMSprop, Adam and AdamW next to SGD with momentum on the Rosenbrock valley, on an
axis-aligned ravine and on the same ravine turned by 45 degrees (where per-coordinate scaling no
longer helps), then trains the digits MLP with each optimizer (and Adam under a warm-up -> cosine
schedule) and compares test accuracy. The mechanism diagram shows Adam's first step, computed by our
Adam, at the same point of the ravine before and after the rotation.

Run:  arena run 16 [--smoke] [--publish]   (or python 03_optimization/day_016_adam.py)
"""

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from matplotlib.figure import Figure

from arena_core.optim import SGD, Adam, AdamW, RMSprop, warmup_cosine
from arena_core.optim.functions import (
    plot_paths,
    ravine,
    rosenbrock,
    rotated_ravine,
    trajectory,
)
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    rosenbrock_steps: int = 2000  # optimizer steps on the Rosenbrock function
    ravine_steps: int = 150  # optimizer steps on the ravines
    kappa: float = 50.0  # condition number of the ravine quadratic
    epochs: int = 30  # epochs of the digits MLP comparison


def first_adam_step(fn, point: tuple[float, float], lr: float) -> dict:
    """One step of our Adam from `point`: the gradient, sqrt(v-hat) and the displacement."""
    xy = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    opt = Adam([xy], lr=lr)
    fn(xy).backward()
    grad = xy.grad.clone()
    opt.step()
    v_hat = opt.state[xy]["exp_avg_sq"] / (1 - 0.999)
    return {
        "point": list(point),
        "grad": grad.tolist(),
        "sqrt_v_hat": v_hat.sqrt().tolist(),
        "step": (xy.detach() - torch.tensor(point, dtype=torch.float64)).tolist(),
    }


def worked_example(kappa: float, lr: float = 0.1) -> dict:
    """Adam's first step at valley coordinates (along, across) = (-4, 1), with and without the
    45-degree rotation; the step is also expressed along and across the valley."""
    c = s = math.cos(math.pi / 4)
    out = {}
    for name, fn, point in (
        ("aligned", lambda xy: ravine(xy, kappa), (-4.0, 1.0)),
        ("rotated", lambda xy: rotated_ravine(xy, kappa), (c * -4.0 - s * 1.0, s * -4.0 + c * 1.0)),
    ):
        ex = first_adam_step(fn, point, lr)
        dx, dy = ex["step"]
        ex["along_across"] = [dx, dy] if name == "aligned" else [c * dx + s * dy, -s * dx + c * dy]
        out[name] = ex
    return out


def draw_mechanism(run: Run, example: dict, kappa: float) -> None:
    """Contours of both ravines, the valley floor, the gradient direction and Adam's first step."""
    fig = Figure(figsize=(10, 4.9))
    axes = fig.subplots(1, 2)
    c = math.cos(math.pi / 4)
    panels = (
        (
            "aligned",
            "ravine along the axes",
            lambda xy: ravine(xy, kappa),
            (-5, 1),
            (-2.25, 2.25),
            (1.0, 0.0),
        ),
        (
            "rotated",
            "the same ravine turned by 45°",
            lambda xy: rotated_ravine(xy, kappa),
            (-5, 1),
            (-3.25, 1.25),
            (c, c),
        ),
    )
    scale = 5  # the step is 0.1 long: drawn 5 times longer
    for ax, (key, title, fn, xlim, ylim, floor) in zip(axes, panels, strict=True):
        ex = example[key]
        xs = torch.linspace(*xlim, 200, dtype=torch.float64)
        ys = torch.linspace(*ylim, 200, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
        ax.contour(
            xs.numpy(),
            ys.numpy(),
            fn(grid).numpy(),
            levels=np.geomspace(0.5, 200, 9),
            colors="0.7",
            linewidths=0.7,
        )
        t = np.linspace(-6, 6, 2)
        ax.plot(t * floor[0], t * floor[1], "--", color="0.45", lw=1, label="valley floor")
        px, py = ex["point"]
        g = np.array(ex["grad"])
        g_dir = -g / np.linalg.norm(g) * 1.1  # longer than the step, so both show
        ax.annotate(
            "",
            (px + g_dir[0], py + g_dir[1]),
            (px, py),
            arrowprops={"arrowstyle": "-|>", "color": "C0", "lw": 2},
        )
        dx, dy = ex["step"]
        ax.annotate(
            "",
            (px + scale * dx, py + scale * dy),
            (px, py),
            arrowprops={"arrowstyle": "-|>", "color": "C1", "lw": 2.5},
        )
        ax.plot([px], [py], "o", color="k", ms=5)
        ax.plot([0], [0], "*", color="k", ms=11)
        gx, gy = ex["grad"]
        vx, vy = ex["sqrt_v_hat"]
        along, across = ex["along_across"]
        ax.set_title(title)
        ax.text(
            0.5,
            -0.16,
            (
                f"g = ({gx:.1f}, {gy:.1f}),  √v̂ = ({vx:.1f}, {vy:.1f})\n"
                f"step = −η g/√v̂ = ({dx:+.2f}, {dy:+.2f})\n"
                f"along the valley {along:+.2f},  across {across:+.2f}"
            ),
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=10.5,
        )
        ax.set(xlim=xlim, ylim=ylim, aspect="equal", xlabel="x", ylabel="y")
        ax.grid(False)
    handles = [
        axes[0].lines[0],
        axes[0].plot([], [], color="C0", lw=2, label="minus the gradient (direction)")[0],
        axes[0].plot([], [], color="C1", lw=2.5, label=f"Adam's first step (×{scale})")[0],
    ]
    fig.legend(
        handles=handles, loc="upper center", ncol=3, frameon=False, bbox_to_anchor=(0.5, 1.0)
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    run.save_fig(fig, "mechanism")


def surface_panel(fig_axes, fn, paths, xlim, ylim, minimum, title) -> None:
    """Paths over the contours, and the loss along each path on a log axis with no floor."""
    ax_path, ax_loss = fig_axes
    plot_paths(ax_path, fn, paths, xlim, ylim, minimum)
    ax_path.set(title=title, xlabel="x", ylabel="y")
    ax_path.grid(False)  # the contours are the grid
    for name, path in paths.items():
        ax_loss.semilogy(fn(path).numpy(), label=name)
    ax_loss.set(title="loss along the path", xlabel="step", ylabel="loss f(x, y)")


def main(args: Args) -> dict:
    with Run(day=16, args=args) as run:
        rosen_steps = 200 if args.smoke else args.rosenbrock_steps
        ravine_steps = 30 if args.smoke else args.ravine_steps
        epochs = 1 if args.smoke else args.epochs
        metrics: dict = {}

        example = worked_example(args.kappa)
        draw_mechanism(run, example, args.kappa)
        metrics["example_first_adam_step"] = example

        optimizers = {
            "SGD momentum 0.9": lambda p, lr: SGD(p, lr=lr, momentum=0.9),
            "RMSprop": lambda p, lr: RMSprop(p, lr=lr),
            "Adam": lambda p, lr: Adam(p, lr=lr),
            "AMSGrad": lambda p, lr: Adam(p, lr=lr, amsgrad=True),
        }
        # Learning rates picked per surface so that each method is stable and reasonably fast.
        surfaces = [
            (
                "rosenbrock",
                rosenbrock,
                (-1.5, 2.0),
                rosen_steps,
                (-2, 2),
                (-1, 3),
                (1, 1),
                {"SGD momentum 0.9": 1e-3, "RMSprop": 1e-2, "Adam": 5e-2, "AMSGrad": 5e-2},
            ),
            (
                "ravine",
                lambda xy: ravine(xy, args.kappa),
                (-4.0, 1.0),
                ravine_steps,
                (-4.5, 1),
                (-1.5, 1.5),
                (0, 0),
                {
                    "SGD momentum 0.9": 1 / args.kappa,
                    "RMSprop": 0.1,
                    "Adam": 0.1,
                    "AMSGrad": 0.1,
                },
            ),
            (
                "rotated ravine",
                lambda xy: rotated_ravine(xy, args.kappa),
                (-3.5, -2.0),
                ravine_steps,
                (-4, 1),
                (-3.5, 1.5),
                (0, 0),
                {
                    "SGD momentum 0.9": 1 / args.kappa,
                    "RMSprop": 0.1,
                    "Adam": 0.1,
                    "AMSGrad": 0.1,
                },
            ),
        ]
        titles = {
            "rosenbrock": "Rosenbrock\nη = 0.001 (SGD), 0.01 (RMSprop), 0.05 (Adam)",
            "ravine": f"ravine, κ = {args.kappa:g}\nη = {1 / args.kappa:g} (SGD), 0.1 (others)",
            "rotated ravine": f"ravine turned by 45°\nη = {1 / args.kappa:g} (SGD), 0.1 (others)",
        }
        fig = Figure(figsize=(10.5, 11.5))
        axes = fig.subplots(3, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        for row, (name, fn, start, steps, xlim, ylim, minimum, lrs) in zip(
            axes, surfaces, strict=True
        ):
            paths = {
                k: trajectory(fn, partial(make, lr=lrs[k]), start, steps)
                for k, make in optimizers.items()
            }
            surface_panel(row, fn, paths, xlim, ylim, minimum, titles[name])
            for k, path in paths.items():
                short = {"AMSGrad": "adam_amsgrad"}.get(k, k.split()[0].lower())
                metrics[f"{name.replace(' ', '_')}_final_loss_{short}"] = fn(path[-1]).item()
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=5, frameon=False)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        run.save_fig(fig, "surfaces_paths")

        # A real network: the digits MLP trained by each optimizer from the same initialisation.
        task = load_digits_task()
        run.record_source("data", task.source)
        steps_per_epoch = -(-len(task.train.y) // 64)
        total = epochs * steps_per_epoch
        runs = {
            "SGD momentum 0.9, η = 0.05": (lambda p: SGD(p, lr=0.05, momentum=0.9), None),
            "RMSprop, η = 0.001": (lambda p: RMSprop(p, lr=1e-3), None),
            "Adam, η = 0.001": (lambda p: Adam(p, lr=1e-3), None),
            "AdamW, η = 0.001, λ = 0.05": (lambda p: AdamW(p, lr=1e-3, weight_decay=0.05), None),
            "Adam, η = 0.003, warm-up + cosine": (
                lambda p: Adam(p, lr=3e-3),
                lambda o: warmup_cosine(o, warmup_steps=max(1, total // 10), total_steps=total),
            ),
        }
        fig = Figure(figsize=(12, 4.6))
        ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
        for label, (make_opt, make_sched) in runs.items():
            torch.manual_seed(args.seed)
            model = make_mlp(task.n_inputs)
            opt = make_opt(model.parameters())
            sched = make_sched(opt) if make_sched else None
            hist = train_classifier(model, opt, task, epochs, scheduler=sched, seed=args.seed)
            smooth = torch.tensor(hist.step_loss).unfold(0, min(20, len(hist.step_loss)), 1)
            ax_loss.semilogy(smooth.mean(-1).numpy(), label=label)
            ax_acc.plot(range(1, epochs + 1), hist.test_accuracy, marker=".", label=label)
            ax_lr.plot(hist.lr, label=label)
            key = label.split()[0].strip(",").lower() + ("_schedule" if make_sched else "")
            metrics[f"digits_test_accuracy_{key}"] = hist.test_accuracy[-1]
            metrics[f"digits_final_train_loss_{key}"] = sum(hist.step_loss[-20:]) / len(
                hist.step_loss[-20:]
            )
        ax_loss.set(
            title="training loss (20-step mean)",
            xlabel="optimizer step",
            ylabel="cross-entropy loss",
        )
        ax_acc.set(
            title="test accuracy (360 images)",
            xlabel="epoch",
            ylabel="test accuracy",
            ylim=(0.8, 1.0),
        )
        ax_lr.set(
            title="learning rate", xlabel="optimizer step", ylabel="learning rate η", yscale="log"
        )
        handles, names = ax_loss.get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncol=3, frameon=False)
        fig.tight_layout(rect=(0, 0.12, 1, 1))
        run.save_fig(fig, "digits_optimizers")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
