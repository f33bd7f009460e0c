"""Day 15 — SGD from scratch: why momentum helps in a ravine.

Draws the mechanism (the momentum buffer fed a zig-zag gradient, computed by our SGD), runs our
`arena_core.optim.SGD` on the Rosenbrock valley and on an ill-conditioned quadratic "ravine"
(contours + paths, loss curves), then trains a small MLP on the sklearn digits with our SGD
(momentum, weight decay, StepLR) next to torch.optim.SGD from the same initialisation and records
how far the two loss curves drift apart (a parity check; numbers only, no figure).

Run:  arena run 15 [--smoke] [--publish]   (or python 03_optimization/day_015_sgd.py)
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.optim import SGD, StepLR
from arena_core.optim.functions import plot_paths, ravine, rosenbrock, trajectory
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix


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


def buffer_example(mu: float = 0.9, steps: int = 4) -> tuple[list, list]:
    """Feed our SGD a zig-zag gradient (along +1, across ±1) and read its momentum buffer."""
    theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = SGD([theta], lr=1.0, momentum=mu)
    grads, buffers = [], []
    for t in range(steps):
        g = torch.tensor([1.0, (-1.0) ** t], dtype=torch.float64)
        theta.grad = g.clone()
        opt.step()
        grads.append(g.tolist())
        buffers.append(opt.state[theta]["momentum_buffer"].tolist())
    return grads, buffers


def draw_mechanism(run: Run, grads: list, buffers: list, mu: float) -> None:
    """The buffer b_t = mu b_(t-1) + g_t: the along-valley part grows, the across part cancels."""
    fig, ax = canvas(width=14, height=6, scale=0.6)
    gap = 3.2
    for t, (g, b) in enumerate(zip(grads, buffers, strict=True)):
        x = 1.5 + t * gap
        labels = ["along", "across"] if t == 0 else None
        matrix(
            ax,
            [[v] for v in g],
            xy=(x, 3.6),
            title=f"g{t + 1}",
            fmt="{:+g}",
            cmap=None,
            row_labels=labels,
            fontsize=11,
            highlight=[(1, 0)],
        )
        matrix(
            ax,
            [[v] for v in b],
            xy=(x, 0.0),
            title=f"b{t + 1}",
            fmt="{:+.3g}",
            cmap=None,
            row_labels=labels,
            fontsize=11,
            highlight=[(0, 0)],
        )
        arrow(
            ax,
            (x + 0.5, 3.55),
            (x + 0.5, 2.75),
            "+" if t else "copy",
            fontsize=11,
            text_offset=(0.25 if t else 0.5, -0.3),
        )
        if t:
            arrow(ax, (x - gap + 1.05, 1.0), (x - 0.05, 1.0), f"×{mu:g}", fontsize=11)
    right = 1.5 + (len(grads) - 1) * gap + 1.0
    x_text = right + 0.5
    notes = [
        (4.6, "gradients: the same push\nalong, a flipping sign across", "italic"),
        (2.55, f"buffer in the long run (μ = {mu:g}):", "italic"),
        (1.5, f"along → 1/(1−μ) = {1 / (1 - mu):.3g}", "normal"),
        (0.5, f"across → ±1/(1+μ) = ±{1 / (1 + mu):.2g}", "normal"),
    ]
    for y, text, style in notes:
        label(ax, (x_text, y), text, fontsize=11, ha="left", style=style)
    finish(ax)
    run.save_fig(fig, "mechanism")


def surface_figure(fn, paths, xlim, ylim, minimum, title) -> Figure:
    """Paths over the contours (left) and the loss along each path on a log axis (right).

    The loss is plotted as computed, without a floor: float64 reaches far below 1e-16 here.
    """
    fig = Figure(figsize=(11, 5.0))
    ax_path, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    plot_paths(ax_path, fn, paths, xlim, ylim, minimum)
    ax_path.set(title=title, xlabel="x", ylabel="y")
    ax_path.grid(False)  # the contours are the grid
    for name, path in paths.items():
        ax_loss.semilogy(fn(path).numpy(), label=name)
    ax_loss.set(title="loss along the path", xlabel="step", ylabel="loss f(x, y)")
    handles, names = ax_path.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def main(args: Args) -> dict:
    with Run(day=15, args=args) as run:
        rosen_steps = 200 if args.smoke else args.rosenbrock_steps
        ravine_steps = 30 if args.smoke else args.ravine_steps
        epochs = 1 if args.smoke else args.epochs
        metrics: dict = {}

        # 0. The mechanism: what the momentum buffer does to a zig-zag gradient.
        mu_demo = 0.9
        grads, buffers = buffer_example(mu_demo)
        draw_mechanism(run, grads, buffers, mu_demo)
        metrics["example_buffers"] = buffers

        # 1. Rosenbrock: lr 1e-3 is about the largest plain GD survives from this start.
        rosen = {
            "plain GD, η = 0.001": lambda p: SGD(p, lr=1e-3),
            "momentum μ = 0.9": lambda p: SGD(p, lr=1e-3, momentum=0.9),
            "Nesterov μ = 0.9": lambda p: SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
        }
        paths = {
            k: trajectory(rosenbrock, make, (-1.5, 2.0), rosen_steps) for k, make in rosen.items()
        }
        run.save_fig(
            surface_figure(rosenbrock, paths, (-2, 2), (-1, 3), (1, 1), "Rosenbrock (a=1, b=100)"),
            "rosenbrock_paths",
        )
        for key, path in zip(["sgd", "momentum", "nesterov"], paths.values(), strict=True):
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
            f"plain GD, η = 1.8/κ = {1.8 / kappa:.3f}": lambda p: SGD(p, lr=1.8 / kappa),
            f"plain GD, η = 1/κ = {1 / kappa:.3f}": lambda p: SGD(p, lr=1 / kappa),
            f"heavy ball, μ = {mu:.2f}, η = {lr_hb:.3f}": lambda p: SGD(p, lr=lr_hb, momentum=mu),
            f"Nesterov, μ = {mu_nag:.2f}, η = {1 / kappa:.3f}": lambda p: SGD(
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
        metrics.update(
            digits_test_accuracy_ours=ours.test_accuracy[-1],
            digits_test_accuracy_torch=ref.test_accuracy[-1],
            digits_max_loss_gap_ours_vs_torch=gap,
            digits_steps=len(ours.step_loss),
        )
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
