"""Day 17 — Weights & Biases: logging a training run offline, ready for `wandb sync`.

Trains the digits MLP with Adam under a warm-up -> cosine schedule and logs every step (learning
rate, gradient norm), every epoch (mean train loss, test loss/accuracy), a per-epoch results table,
a CSV file and the final figure to a wandb run through `arena_core.tracking.Tracker`. The default
mode is `offline`: no account or network needed; the run lands in `<out_dir>/wandb/offline-run-*`
and can be uploaded later with `wandb sync`. `--wandb-mode online` streams to wandb.ai (needs
`wandb login`); `disabled` skips wandb entirely.

Every run also draws the mechanism diagram: where each logged value comes from, and where each
mode sends it, with the numbers of the post's worked example (one logged record at step 23).

Run:  arena run 17 [--smoke] [--publish] [--wandb-mode offline|online|disabled]
"""

import csv
import time
from dataclasses import dataclass
from typing import Literal

import torch
from matplotlib.figure import Figure

from arena_core.optim import Adam, warmup_cosine
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.tracking import Tracker
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label


@dataclass
class Args(DayArgs):
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"  # wandb mode
    project: str = "arena-day017"  # wandb project name
    epochs: int = 20  # passes over the digits training set
    lr: float = 3e-3  # peak Adam learning rate
    hidden: int = 64  # MLP hidden width


def global_grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The one number logged as `train/grad_norm`: the norm of all gradients stacked together."""
    return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))


def scheduled_lrs(lr: float, total: int, steps: list[int]) -> dict[int, float]:
    """The learning rate the day's warm-up -> cosine schedule gives at each step in `steps`."""
    opt = Adam([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = warmup_cosine(opt, warmup_steps=max(1, total // 10), total_steps=total)
    out = {}
    for step in range(max(steps) + 1):
        if step in steps:
            out[step] = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
    return out


def settled_size(paths: list, wait_s: float = 0.5, limit_s: float = 20.0) -> int:
    """Total size of `paths` once it stops changing: wandb's writer process may still be
    flushing the run file for a moment after the run has finished."""
    size, deadline = -1, time.monotonic() + limit_s
    while time.monotonic() < deadline:
        now = sum(p.stat().st_size for p in paths)
        if now == size:
            break
        size = now
        time.sleep(wait_s)
    return size


def grad_norm_summary(logged: list[dict], steps_per_epoch: int) -> dict:
    """First, largest (and where) and last-epoch mean of the logged gradient norms."""
    norms = [h["train/grad_norm"] for h in logged]
    peak = max(range(len(norms)), key=norms.__getitem__)
    last = norms[-steps_per_epoch:]
    return {
        "grad_norm_first_step": norms[0],
        "grad_norm_first_epoch_mean": sum(norms[:steps_per_epoch]) / steps_per_epoch,
        "grad_norm_max": norms[peak],
        "grad_norm_max_step": logged[peak]["step"],
        "grad_norm_last_epoch_mean": sum(last) / len(last),
    }


def worked_example(lr: float, total: int) -> dict:
    """The post's example by hand: one record of the full run (total optimizer steps `total`)."""
    weight_grad = torch.tensor([[1.0, 2.0], [2.0, 0.0]])  # norm 3
    bias_grad = torch.tensor([0.0, 4.0])  # norm 4
    warm = max(1, total // 10)
    steps = [0, warm // 2, warm, warm + (total - warm) // 2, total - 1]
    return {
        "grad_norm": global_grad_norm([weight_grad, bias_grad]).item(),
        "lrs": scheduled_lrs(lr, total, steps),
        "warmup_steps": warm,
    }


def draw_mechanism(run: Run, example: dict) -> None:
    """Where each logged value comes from, and where each tracking mode sends it."""
    fig, ax = canvas(width=15, height=7, scale=0.55)
    step, lr = sorted(example["lrs"].items())[1]  # the middle of the warm-up
    fs = 11
    # Where the values come from: the loop itself is not edited.
    box(
        ax, (0, 4.6), "training loop\n(unchanged)", width=3.0, height=1.3, role="input", fontsize=fs
    )
    box(ax, (0, 2.3), "optimizer.step\n(wrapped)", width=3.0, height=1.3, fontsize=fs)
    box(ax, (0, 0.0), "end of epoch\n(hook)", width=3.0, height=1.3, fontsize=fs)
    arrow(ax, (1.5, 4.6), (1.5, 3.6), "every batch", fontsize=10, text_offset=(1.2, -0.15))
    arrow(ax, (1.5, 2.3), (1.5, 1.3), "every 23 steps", fontsize=10, text_offset=(1.45, -0.15))
    # One record, with the worked example's numbers.
    record = f"step {step}\ntrain/lr = {lr:.4g}\ntrain/grad_norm = {example['grad_norm']:.3g}"
    box(ax, (4.0, 2.0), record, width=3.9, height=1.9, role="highlight", fontsize=fs)
    label(ax, (5.95, 4.35), "one record (worked example)", fontsize=10, style="italic")
    arrow(ax, (3.0, 2.95), (4.0, 2.95))
    box(ax, (4.0, 0.0), "train/loss, test/loss,\ntest/accuracy", width=3.9, height=1.3, fontsize=fs)
    arrow(ax, (3.0, 0.65), (4.0, 0.65))
    # The tracker, then the three modes.
    box(
        ax,
        (8.8, 1.6),
        "Tracker.log\n(record, step)",
        width=2.6,
        height=1.3,
        role="param",
        fontsize=fs,
    )
    arrow(ax, (7.9, 2.95), (8.8, 2.5))
    arrow(ax, (7.9, 0.65), (8.8, 2.0))
    modes = [
        (4.6, "disabled:\na list in memory", "output"),
        (2.3, "offline:\nrun-<id>.wandb file", "output"),
        (0.0, "online:\nwandb.ai (API key)", "neutral"),
    ]
    for y, text, role in modes:
        box(ax, (12.3, y), text, width=3.4, height=1.3, role=role, fontsize=fs)
        arrow(ax, (11.4, 2.25), (12.3, y + 0.65))
    arrow(
        ax,
        (15.7, 2.6),
        (15.7, 1.0),
        "wandb sync\n(later)",
        curve=-0.6,
        fontsize=10,
        text_offset=(1.6, -0.55),
    )
    label(
        ax,
        (14.0, 6.45),
        "all modes also keep tracker.history,\nwhich draws the figures",
        fontsize=10,
        style="italic",
    )
    finish(ax)
    run.save_fig(fig, "mechanism")


def main(args: Args) -> dict:
    with Run(day=17, args=args) as run:
        epochs = 2 if args.smoke else args.epochs
        task = load_digits_task()
        run.record_source("data", task.source)
        run.record_source("tracking", f"wandb ({args.wandb_mode})")
        config = {
            "epochs": epochs,
            "lr": args.lr,
            "hidden": args.hidden,
            "seed": args.seed,
            "optimizer": "Adam",
            "schedule": "warmup_cosine",
            "batch_size": 64,
        }
        steps_per_epoch = -(-len(task.train.y) // 64)
        example = worked_example(args.lr, epochs * steps_per_epoch)
        draw_mechanism(run, example)
        run.log(
            example_grad_norm=example["grad_norm"],
            example_warmup_steps=example["warmup_steps"],
            example_lr_by_step={str(k): v for k, v in example["lrs"].items()},
        )
        with Tracker(
            args.wandb_mode,
            project=args.project,
            config=config,
            dir=run.out_dir,
            name=f"digits-mlp-seed{args.seed}",
        ) as tracker:
            torch.manual_seed(args.seed)
            model = make_mlp(task.n_inputs, hidden=args.hidden)
            opt = Adam(model.parameters(), lr=args.lr)
            total = epochs * steps_per_epoch
            sched = warmup_cosine(opt, warmup_steps=max(1, total // 10), total_steps=total)

            # Log inside the optimizer's step: wrap step() so the gradient norm is seen before
            # the update, without touching the training loop.
            step_count = 0
            plain_step = opt.step

            def logged_step(closure=None):
                nonlocal step_count
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                grad_norm = global_grad_norm(grads)
                tracker.log(
                    {"train/grad_norm": grad_norm.item(), "train/lr": opt.param_groups[0]["lr"]},
                    step=step_count,
                )
                step_count += 1
                return plain_step(closure)

            opt.step = logged_step

            def on_epoch(epoch, hist):
                n = len(hist.step_loss) // (epoch + 1)  # steps per epoch
                tracker.log(
                    {
                        "train/loss": sum(hist.step_loss[-n:]) / n,
                        "test/loss": hist.test_loss[-1],
                        "test/accuracy": hist.test_accuracy[-1],
                        "epoch": epoch + 1,
                    },
                    step=step_count,
                )

            hist = train_classifier(
                model, opt, task, epochs, scheduler=sched, seed=args.seed, on_epoch=on_epoch
            )

            rows = [[e + 1, hist.test_loss[e], hist.test_accuracy[e]] for e in range(epochs)]
            tracker.log_table("per_epoch", ["epoch", "test_loss", "test_accuracy"], rows)
            csv_path = run.out_dir / "per_epoch.csv"
            with csv_path.open("w", newline="") as fh:
                csv.writer(fh).writerows([["epoch", "test_loss", "test_accuracy"], *rows])
            run.add_file(csv_path)
            tracker.save_file(csv_path)

            # The figure is drawn from what the tracker recorded, i.e. what wandb received.
            logged = [h for h in tracker.history if "train/grad_norm" in h]
            epochs_logged = [h for h in tracker.history if "test/accuracy" in h]
            fig = Figure(figsize=(10, 6.4))
            (ax_loss, ax_lr), (ax_grad, ax_acc) = fig.subplots(2, 2)
            steps = [h["step"] for h in logged]
            ax_loss.semilogy(hist.step_loss, lw=0.6)
            ax_loss.set(
                title="training loss (one batch)",
                xlabel="optimizer step",
                ylabel="cross-entropy loss",
            )
            ax_lr.plot(steps, [h["train/lr"] for h in logged], color="C2")
            ax_lr.set(
                title="learning rate (warm-up, then cosine)",
                xlabel="optimizer step",
                ylabel="learning rate",
            )
            ax_grad.plot(steps, [h["train/grad_norm"] for h in logged], lw=0.6, color="C3")
            ax_grad.set(
                title="gradient norm before each update",
                xlabel="optimizer step",
                ylabel="global gradient norm",
            )
            ax_acc.plot(
                [h["epoch"] for h in epochs_logged],
                [h["test/accuracy"] for h in epochs_logged],
                marker="o",
            )
            ax_acc.set(title="test accuracy (360 images)", xlabel="epoch", ylabel="test accuracy")
            fig.tight_layout()
            fig_path = run.save_fig(fig, "logged_curves")
            tracker.log_image("curves", fig_path)
            tracker.summary(test_accuracy=hist.test_accuracy[-1], test_loss=hist.test_loss[-1])
            run_dir = tracker.run_dir

        metrics = {
            "test_accuracy": hist.test_accuracy[-1],
            "test_loss": hist.test_loss[-1],
            "logged_steps": len(logged),
            "logged_epochs": len(epochs_logged),
            # The shape of the logged gradient norm, read back from what the tracker received.
            **grad_norm_summary(logged, steps_per_epoch),
        }
        if run_dir is not None:
            records = list(run_dir.glob("run-*.wandb"))
            run.log(wandb_run_dir=str(run_dir.relative_to(run.out_dir)))
            metrics["wandb_record_bytes"] = settled_size(records)
            run.print(f"wandb run written to {run_dir}; upload with: wandb sync {run_dir}")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
