"""Day 17 — Weights & Biases: logging a training run offline, ready for `wandb sync`.

Trains the digits MLP with Adam under a warm-up -> cosine schedule and logs every step (learning
rate, gradient norm), every epoch (mean train loss, test loss/accuracy), a per-epoch results table,
a CSV file and the final figure to a wandb run through `arena_core.tracking.Tracker`. The default
mode is `offline`: no account or network needed; the run lands in `<out_dir>/wandb/offline-run-*`
and can be uploaded later with `wandb sync`. `--wandb-mode online` streams to wandb.ai (needs
`wandb login`); `disabled` skips wandb entirely.

Run:  arena run 17 [--smoke] [--publish] [--wandb-mode offline|online|disabled]
Full run: ~15 s on 2 CPU cores. Smoke: ~5 s.
"""

import csv
from dataclasses import dataclass
from typing import Literal

import torch
from matplotlib.figure import Figure

from arena_core.optim import Adam, warmup_cosine
from arena_core.optim.training import load_digits_task, make_mlp, train_classifier
from arena_core.tracking import Tracker
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    wandb_mode: Literal["offline", "online", "disabled"] = "offline"  # wandb mode
    project: str = "arena-day017"  # wandb project name
    epochs: int = 20  # passes over the digits training set
    lr: float = 3e-3  # peak Adam learning rate
    hidden: int = 64  # MLP hidden width


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
            total = epochs * -(-len(task.train.y) // 64)
            sched = warmup_cosine(opt, warmup_steps=max(1, total // 10), total_steps=total)

            # Log inside the optimizer's step: wrap step() so the gradient norm is seen before
            # the update, without touching the training loop.
            step_count = 0
            plain_step = opt.step

            def logged_step(closure=None):
                nonlocal step_count
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                grad_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
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
            fig = Figure(figsize=(12, 3.6))
            ax_loss, ax_grad, ax_acc = fig.subplots(1, 3)
            ax_loss.semilogy(hist.step_loss, lw=0.6)
            ax_loss.set(title="train loss per step", xlabel="step")
            ax_lr = ax_grad.twinx()
            ax_grad.plot(
                [h["step"] for h in logged],
                [h["train/grad_norm"] for h in logged],
                lw=0.6,
                color="C1",
            )
            ax_lr.plot([h["step"] for h in logged], [h["train/lr"] for h in logged], color="C2")
            ax_grad.set(title="gradient norm (orange), lr (green)", xlabel="step")
            ax_acc.plot(
                [h["epoch"] for h in epochs_logged],
                [h["test/accuracy"] for h in epochs_logged],
                marker="o",
            )
            ax_acc.set(title="test accuracy", xlabel="epoch")
            for ax in (ax_loss, ax_grad, ax_acc):
                ax.grid(alpha=0.3)
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
        }
        if run_dir is not None:
            records = list(run_dir.glob("run-*.wandb"))
            run.log(wandb_run_dir=str(run_dir.relative_to(run.out_dir)))
            metrics["wandb_record_bytes"] = sum(r.stat().st_size for r in records)
            run.print(f"wandb run written to {run_dir}; upload with: wandb sync {run_dir}")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
