"""Day 28 — Module 0 capstone: rerun days 1-27 and review what each one published.

For every runnable day of Module 0 (days 1-27 whose script exists), this script
1. reruns it through its own `main(Args(...))` in smoke mode (`--full` reruns the full
   configurations instead: hours), recording pass/fail and wall time, and
2. reads the metrics.json of the day's latest published full run (`blog_posts/figures/day_NNN/`)
   for its wall time and a key metric (`arena_core.capstone.key_metric`).
It writes a markdown summary table (`module0_summary.md`, published with the figures) and a figure
with the smoke and full-run wall times per day. `--smoke` (what the tests run) reruns only the
days in `smoke_days` and still tabulates every published run.

Run:  arena run 28 [--smoke] [--publish] [--full]   (or python 05_vaes_gans/day_028_capstone.py)
Full run (smoke reruns of all 27 days): ~25 s on a 2-core machine.
Smoke: ~6 s (reruns day 2 only).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.capstone import key_metric, published_metrics, rerun_day
from arena_core.curriculum import DAYS
from arena_core.optim.sgd import SGD
from arena_core.tensors.stable import cross_entropy, softmax
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label


@dataclass
class Args(DayArgs):
    first_day: int = 1  # first day to review
    last_day: int = 27  # last day to review
    full: bool = False  # rerun each day's full configuration instead of its smoke run (hours)
    smoke_days: str = "2"  # comma-separated days rerun when --smoke (the rest are only read)


def fmt(value: float) -> str:
    return f"{value:.4g}"


def one_training_step() -> dict:
    """The smallest training step, with Module 0's own pieces: one input x = 1, two classes,
    weights (0.5, -0.5), target class 0, one SGD step at learning rate 1 (float64)."""
    x = torch.tensor([[1.0]], dtype=torch.float64)
    weight = torch.tensor([[0.5], [-0.5]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0])
    optimizer = SGD([weight], lr=1.0)
    logits = x @ weight.T  # forward
    loss = cross_entropy(logits, target)  # stable log-softmax + negative log-likelihood
    loss.backward()  # dL/dlogits = softmax - one_hot, then dL/dW = (that)^T x
    grad = weight.grad.detach().clone()
    optimizer.step()  # W <- W - lr * dL/dW
    with torch.no_grad():
        new_logits = x @ weight.T
        new_loss = cross_entropy(new_logits, target)
    return {
        "logits": logits.detach().flatten().tolist(),
        "probabilities": softmax(logits.detach()).flatten().tolist(),
        "loss": loss.item(),
        "grad_weight": grad.flatten().tolist(),
        "new_weight": weight.detach().flatten().tolist(),
        "new_probabilities": softmax(new_logits).flatten().tolist(),
        "new_loss": new_loss.item(),
    }


def training_step_diagram() -> Figure:
    """One training step as a loop of five pieces, each labelled with the days that built it."""
    fig, ax = canvas(width=15, height=7)
    steps = [  # (x, y, text, role)
        (0.0, 3.0, "batch of images\nMNIST, Fashion-MNIST,\nCIFAR-10 (days 12, 14)", "input"),
        (4.2, 3.0, "forward pass\nLinear, Conv2d, ResNet\n(days 1-4, 11, 13)", "op"),
        (8.4, 3.0, "loss\nstable log-softmax +\ncross-entropy (day 3)", "output"),
        (8.4, 0.0, "backward pass\nchain rule, autograd\n(days 20-24)", "op"),
        (4.2, 0.0, "update\nSGD, momentum, Adam\n(days 15, 16)", "param"),
    ]
    w, h = 3.4, 1.6
    for x, y, text, role in steps:
        box(ax, (x, y), text, width=w, height=h, role=role, fontsize=9.5)
    arrow(ax, (0 + w, 3.8), (4.2, 3.8))
    arrow(ax, (4.2 + w, 3.8), (8.4, 3.8))
    arrow(ax, (8.4 + w / 2, 3.0), (8.4 + w / 2, 0 + h), "∂L/∂θ", text_offset=(0.55, -0.1))
    arrow(ax, (8.4, 0.8), (4.2 + w, 0.8))
    arrow(ax, (4.2 + w / 2, h), (4.2 + w / 2, 3.0), "new θ", text_offset=(-0.55, -0.1))
    box(ax, (12.6, 3.0), "measure it\nlogging, sweeps,\nlandscapes (17-19)", width=w, height=h,
        role="neutral", fontsize=9.5)  # fmt: skip
    box(ax, (12.6, 0.0), "reuse it\nVAE and GAN from the\nsame pieces (25-27)", width=w,
        height=h, role="neutral", fontsize=9.5)  # fmt: skip
    arrow(ax, (8.4 + w, 3.8), (12.6, 3.8), color="0.55")
    arrow(ax, (12.6, 0.8), (8.4 + w, 0.8), color="0.55")
    label(ax, (8.0, 5.3), "One training step, and the days of Module 0 that built each piece",
          fontsize=11.5, fontweight="bold")  # fmt: skip
    label(ax, (8.0, -0.9), "everything vectorised: einsum, broadcasting, batching (days 2, 5-10)",
          fontsize=9.5, color="0.35")  # fmt: skip
    finish(ax)
    return fig


def main(args: Args) -> dict:
    with Run(day=28, args=args) as run:
        days = [
            d for d in DAYS
            if args.first_day <= d.number <= args.last_day and d.is_runnable and d.script.exists()
        ]  # fmt: skip
        rerun_set = {int(x) for x in args.smoke_days.split(",") if x} if args.smoke else None
        run.record_source("days", f"day scripts {args.first_day}-{args.last_day} of this repo "
                          "(rerun by path) + blog_posts/figures/day_NNN/metrics.json")  # fmt: skip
        rows, reruns = [], {}
        for day in days:
            if rerun_set is None or day.number in rerun_set:
                run.print(f"--- rerunning day {day.number} ({'full' if args.full else 'smoke'})")
                reruns[day.number] = rerun_day(day, run.out_dir / "reruns" / day.tag, args.full)
            pub = published_metrics(day)
            rr = reruns.get(day.number)
            km = key_metric(pub["metrics"]) if pub else None
            rows.append({
                "day": day.number, "topic": day.topic,
                "rerun": "-" if rr is None else rr["status"],
                "rerun_s": None if rr is None else rr["seconds"],
                "full_s": pub["wall_time_s"] if pub else None,
                "key": f"{km[0]} = {fmt(km[1])}" if km else "-",
            })  # fmt: skip
            run.log(**{f"day_{day.number:03d}_rerun_ok": rr["status"] == "ok"} if rr else {})

        lines = [
            "| day | topic | rerun | rerun (s) | published full run (s) | key published metric |",
            "|---:|---|---|---:|---:|---|",
        ]
        for r in rows:
            rs = "-" if r["rerun_s"] is None else f"{r['rerun_s']:.1f}"
            fs = "-" if r["full_s"] is None else f"{r['full_s']:.0f}"
            lines.append(f"| {r['day']} | {r['topic']} | {r['rerun']} | {rs} | {fs} | {r['key']} |")
        table = run.out_dir / "module0_summary.md"
        table.write_text("\n".join(lines) + "\n")
        run.add_file(table)
        run.print("\n".join(lines))

        fig = Figure(figsize=(10, 3.8), dpi=120)
        ax = fig.subplots()
        xs = [r["day"] for r in rows]
        width = 0.4
        smoke = [r["rerun_s"] or 0 for r in rows]
        full = [r["full_s"] or 0 for r in rows]
        ax.bar([x - width / 2 for x in xs], smoke, width, label="smoke run, rerun today")
        ax.bar([x + width / 2 for x in xs], full, width, label="published full run")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xticks(xs)
        ax.set_xlabel("day"), ax.set_ylabel("wall time (seconds; log scale above 1 s)")
        ax.set_title("Module 0: wall time per day (missing bar = not rerun / not published)",
                     fontsize=10)  # fmt: skip
        ax.grid(False), ax.grid(axis="y"), ax.legend(loc="upper left")
        fig.tight_layout()
        run.save_fig(fig, "runtimes")

        run.save_fig(training_step_diagram(), "mechanism")
        step = one_training_step()
        run.log(worked_example_training_step=step)
        run.print(f"one training step by hand: loss {step['loss']:.4f} -> {step['new_loss']:.4f}")

        n_rerun = len(reruns)
        return run.finish({
            "n_days": len(days),
            "n_rerun": n_rerun,
            "n_rerun_ok": sum(r["status"] == "ok" for r in reruns.values()),
            "n_published": sum(r["full_s"] is not None for r in rows),
            "rerun_seconds_total": sum(r["seconds"] for r in reruns.values()),
            "published_full_seconds_total": sum(r["full_s"] or 0 for r in rows),
        })  # fmt: skip


if __name__ == "__main__":
    run_script(main, Args)
