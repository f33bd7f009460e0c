"""Day 16 — Adam and RMSprop: per-coordinate step sizes, bias correction, decoupled weight decay.

Runs our RMSprop, Adam and AdamW next to SGD with momentum on the Rosenbrock valley, on an
axis-aligned ravine and on the same ravine turned by 45 degrees (where per-coordinate scaling no
longer helps), then trains the digits MLP with each optimizer (and Adam under a warm-up -> cosine
schedule) and compares test accuracy.

Run:  arena run 16 [--smoke] [--publish]   (or python 03_optimization/day_016_adam.py)
Full run: ~80 s on 2 CPU cores. Smoke: ~2 s.
"""

from dataclasses import dataclass
from functools import partial

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


def surface_panel(fig_axes, fn, paths, xlim, ylim, minimum, title) -> None:
    ax_path, ax_loss = fig_axes
    plot_paths(ax_path, fn, paths, xlim, ylim, minimum)
    ax_path.set(title=title, xlabel="x", ylabel="y")
    for name, path in paths.items():
        ax_loss.semilogy(fn(path).clamp_min(1e-16).numpy(), label=name)
    ax_loss.set(title=f"{title}: loss", xlabel="step", ylabel="f")
    ax_loss.grid(alpha=0.3)


def main(args: Args) -> dict:
    with Run(day=16, args=args) as run:
        rosen_steps = 200 if args.smoke else args.rosenbrock_steps
        ravine_steps = 30 if args.smoke else args.ravine_steps
        epochs = 1 if args.smoke else args.epochs
        metrics: dict = {}

        optimizers = {
            "SGD momentum 0.9": lambda p, lr: SGD(p, lr=lr, momentum=0.9),
            "RMSprop": lambda p, lr: RMSprop(p, lr=lr),
            "Adam": lambda p, lr: Adam(p, lr=lr),
            "Adam amsgrad": lambda p, lr: Adam(p, lr=lr, amsgrad=True),
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
                {"SGD momentum 0.9": 1e-3, "RMSprop": 1e-2, "Adam": 5e-2, "Adam amsgrad": 5e-2},
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
                    "Adam amsgrad": 0.1,
                },
            ),
            (
                "rotated ravine",
                lambda xy: rotated_ravine(xy, args.kappa),
                (-3.5, -2.0),
                ravine_steps,
                (-4, 1),
                (-3, 2),
                (0, 0),
                {
                    "SGD momentum 0.9": 1 / args.kappa,
                    "RMSprop": 0.1,
                    "Adam": 0.1,
                    "Adam amsgrad": 0.1,
                },
            ),
        ]
        fig = Figure(figsize=(10.5, 10.5))
        axes = fig.subplots(3, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        for row, (name, fn, start, steps, xlim, ylim, minimum, lrs) in zip(
            axes, surfaces, strict=True
        ):
            paths = {
                f"{k} lr={lrs[k]:g}": trajectory(fn, partial(make, lr=lrs[k]), start, steps)
                for k, make in optimizers.items()
            }
            surface_panel(row, fn, paths, xlim, ylim, minimum, name)
            for (k, _), path in zip(optimizers.items(), paths.values(), strict=True):
                key = f"{name.replace(' ', '_')}_final_loss_{k.split()[0].lower()}"
                key += "_amsgrad" if "amsgrad" in k else ""
                metrics[key] = fn(path[-1]).item()
        for ax in axes[:, 0]:
            ax.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        run.save_fig(fig, "surfaces_paths")

        # A real network: the digits MLP trained by each optimizer from the same initialisation.
        task = load_digits_task()
        run.record_source("data", task.source)
        steps_per_epoch = -(-len(task.train.y) // 64)
        total = epochs * steps_per_epoch
        runs = {
            "SGD momentum lr=0.05": (lambda p: SGD(p, lr=0.05, momentum=0.9), None),
            "RMSprop lr=1e-3": (lambda p: RMSprop(p, lr=1e-3), None),
            "Adam lr=1e-3": (lambda p: Adam(p, lr=1e-3), None),
            "AdamW lr=1e-3 wd=0.05": (lambda p: AdamW(p, lr=1e-3, weight_decay=0.05), None),
            "Adam lr=3e-3 warmup+cosine": (
                lambda p: Adam(p, lr=3e-3),
                lambda o: warmup_cosine(o, warmup_steps=max(1, total // 10), total_steps=total),
            ),
        }
        fig = Figure(figsize=(12, 4))
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
            key = label.split()[0].lower() + ("_schedule" if make_sched else "")
            metrics[f"digits_test_accuracy_{key}"] = hist.test_accuracy[-1]
            metrics[f"digits_final_train_loss_{key}"] = sum(hist.step_loss[-20:]) / len(
                hist.step_loss[-20:]
            )
        ax_loss.set(title="train loss (20-step mean)", xlabel="step")
        ax_acc.set(title="test accuracy", xlabel="epoch", ylim=(0.8, 1.0))
        ax_lr.set(title="learning rate", xlabel="step", yscale="log")
        ax_acc.legend(fontsize=8)
        for ax in (ax_loss, ax_acc, ax_lr):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        run.save_fig(fig, "digits_optimizers")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
