"""Day 15 — SGD from scratch: plain, momentum and Nesterov descent on pathological surfaces.

Runs our `arena_core.optim.SGD` on the Rosenbrock valley and on an ill-conditioned quadratic
"ravine" (contours + paths, loss curves), then trains a small MLP on the sklearn digits with our SGD
(momentum, weight decay, StepLR) next to torch.optim.SGD from the same initialisation, to show the
two trajectories coincide on a real network.

Run:  arena run 15 [--smoke] [--publish]   (or python 03_optimization/day_015_sgd.py)
Full run: ~10 s on 2 CPU cores. Smoke: ~2 s.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.optim import SGD, StepLR
from arena_core.optim.functions import plot_paths, ravine, rosenbrock, trajectory
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    rosenbrock_steps: int = 2000  # optimizer steps on the Rosenbrock function
    ravine_steps: int = 100  # optimizer steps on the ravine
    kappa: float = 50.0  # condition number of the ravine quadratic
    epochs: int = 30  # epochs of the digits MLP comparison
    lr: float = 0.05  # learning rate of the digits MLP


KEYS = ["gd_1.8", "gd_1.0", "heavy_ball", "nesterov"]


def steps_to(losses: torch.Tensor, threshold: float) -> int:
    """First step at which the loss is below `threshold` (-1 if never)."""
    below = (losses < threshold).nonzero()
    return int(below[0]) if len(below) else -1


def surface_figure(fn, paths, xlim, ylim, minimum, title) -> Figure:
    fig = Figure(figsize=(11, 4.2))
    ax_path, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    plot_paths(ax_path, fn, paths, xlim, ylim, minimum)
    ax_path.set(title=title, xlabel="x", ylabel="y")
    ax_path.legend(fontsize=8, loc="best")
    for name, path in paths.items():
        ax_loss.semilogy(fn(path).clamp_min(1e-16).numpy(), label=name)
    ax_loss.set(title="loss along the path", xlabel="step", ylabel="f(x, y)")
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=15, args=args) as run:
        rosen_steps = 200 if args.smoke else args.rosenbrock_steps
        ravine_steps = 30 if args.smoke else args.ravine_steps
        epochs = 1 if args.smoke else args.epochs
        metrics: dict = {}

        # 1. Rosenbrock: lr 1e-3 is about the largest plain GD survives from this start.
        rosen = {
            "SGD lr=1e-3": lambda p: SGD(p, lr=1e-3),
            "momentum 0.9": lambda p: SGD(p, lr=1e-3, momentum=0.9),
            "Nesterov 0.9": lambda p: SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
        }
        paths = {
            k: trajectory(rosenbrock, make, (-1.5, 2.0), rosen_steps) for k, make in rosen.items()
        }
        run.save_fig(
            surface_figure(rosenbrock, paths, (-2, 2), (-1, 3), (1, 1), "Rosenbrock (a=1, b=100)"),
            "rosenbrock_paths",
        )
        for name, path in paths.items():
            key = name.split()[0].lower()
            metrics[f"rosenbrock_final_loss_{key}"] = rosenbrock(path[-1]).item()
            metrics[f"rosenbrock_steps_to_1e-3_{key}"] = steps_to(rosenbrock(path), 1e-3)

        # 2. Ravine: plain GD must keep lr < 2/kappa; heavy-ball momentum at the classic optimum
        # mu = ((sqrt(k) - 1) / (sqrt(k) + 1))^2 with lr = 4 / (sqrt(k) + 1)^2 (Polyak 1964);
        # Nesterov with its textbook choice lr = 1/L, mu = (sqrt(k) - 1) / (sqrt(k) + 1).
        kappa = args.kappa
        fn = lambda xy: ravine(xy, kappa)
        mu = ((kappa**0.5 - 1) / (kappa**0.5 + 1)) ** 2
        lr_hb = 4 / (kappa**0.5 + 1) ** 2
        mu_nag = (kappa**0.5 - 1) / (kappa**0.5 + 1)
        ravine_opts = {
            f"GD lr=1.8/κ={1.8 / kappa:.3f}": lambda p: SGD(p, lr=1.8 / kappa),
            f"GD lr=1/κ={1 / kappa:.3f}": lambda p: SGD(p, lr=1 / kappa),
            f"heavy ball μ={mu:.2f}, lr={lr_hb:.3f}": lambda p: SGD(p, lr=lr_hb, momentum=mu),
            f"Nesterov μ={mu_nag:.2f}, lr={1 / kappa:.3f}": lambda p: SGD(
                p, lr=1 / kappa, momentum=mu_nag, nesterov=True
            ),
        }
        paths = {
            k: trajectory(fn, make, (-4.0, 1.0), ravine_steps) for k, make in ravine_opts.items()
        }
        y_max = 1.1 * max(p[:, 1].abs().max().item() for p in paths.values())
        run.save_fig(
            surface_figure(fn, paths, (-4.5, 1), (-y_max, y_max), (0, 0), f"ravine, κ = {kappa:g}"),
            "ravine_paths",
        )
        for path, key in zip(paths.values(), KEYS, strict=True):
            metrics[f"ravine_final_loss_{key}"] = fn(path[-1]).item()
            metrics[f"ravine_steps_to_1e-6_{key}"] = steps_to(fn(path), 1e-6)

        # 3. A real network: ours and torch's SGD from the same initialisation and batches.
        task = load_digits_task()
        run.record_source("data", task.source)
        histories = {}
        for name, opt_cls, sched_cls in (
            ("ours", SGD, StepLR),
            ("torch", torch.optim.SGD, torch.optim.lr_scheduler.StepLR),
        ):
            torch.manual_seed(args.seed)
            model = make_mlp(task.n_inputs)
            opt = opt_cls(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
            steps_per_epoch = -(-len(task.train.y) // 64)
            sched = sched_cls(opt, step_size=max(1, epochs // 3) * steps_per_epoch, gamma=0.3)
            histories[name] = train_classifier(
                model, opt, task, epochs, scheduler=sched, seed=args.seed
            )
        ours, ref = histories["ours"], histories["torch"]
        gap = max(abs(a - b) for a, b in zip(ours.step_loss, ref.step_loss, strict=True))
        fig = Figure(figsize=(7, 3.6))
        ax = fig.subplots()
        ax.plot(ref.step_loss, lw=3, alpha=0.4, label="torch.optim.SGD + StepLR")
        ax.plot(ours.step_loss, lw=0.8, label="arena_core.optim.SGD + StepLR")
        ax.set_yscale("log")
        ax.set(
            xlabel="step",
            ylabel="mini-batch cross-entropy",
            title=f"digits MLP, momentum 0.9: max |loss gap| = {gap:.1e}",
        )
        ax.legend()
        fig.tight_layout()
        run.save_fig(fig, "digits_ours_vs_torch")
        metrics.update(
            digits_test_accuracy_ours=ours.test_accuracy[-1],
            digits_test_accuracy_torch=ref.test_accuracy[-1],
            digits_max_loss_gap_ours_vs_torch=gap,
            digits_steps=len(ours.step_loss),
        )
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
