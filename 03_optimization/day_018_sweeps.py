"""Day 18 — Hyperparameter search: grid vs random search for the digits MLP, resumable.

Tunes SGD (learning rate x momentum) on a grid and AdamW (learning rate, weight decay, width) by
random search, each trial training the digits MLP on 80% of the training split and scoring on the
held-out 20% (validation); the best configuration is then retrained on the full training split and
scored once on the test split. Every trial is appended to a JSON-lines file under
`<out_dir>/checkpoints/`, so re-running resumes an interrupted sweep. Writes a results table
(markdown + CSV), the equivalent W&B sweep config (YAML, for `wandb sweep`), a heatmap and a
learning-rate-vs-accuracy plot. Two controls: a few grid cells near the edge of stability are
re-run with other seeds (how much of the heatmap is noise), and a simulation of the winner's curse
(how high the best of N equally good validation scores reads). The mechanism diagram shows the
validation/test discipline with the simulation's small example.

Run:  arena run 18 [--smoke] [--publish] [--no-resume]
"""

import csv
from dataclasses import dataclass

import numpy as np
import torch
import yaml
from matplotlib.figure import Figure

from arena_core.optim import SGD, AdamW
from arena_core.optim.sweeps import (
    Choice,
    LogUniform,
    grid,
    markdown_table,
    random_configs,
    run_sweep,
    wandb_sweep_config,
)
from arena_core.optim.training import (
    DigitsTask,
    Split,
    evaluate,
    load_digits_task,
    make_mlp,
    train_classifier,
)
from arena_core.utils import DayArgs, Run, progress, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix


@dataclass
class Args(DayArgs):
    epochs: int = 8  # training epochs per trial
    n_random: int = 30  # random-search trials (AdamW)
    resume: bool = True  # skip trials already recorded in out_dir/checkpoints
    threads: int = 1  # torch CPU threads (the networks are tiny)
    n_seeds: int = 5  # seeds per grid cell in the seed-spread control


GRID = {"lr": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0], "momentum": [0.0, 0.5, 0.9, 0.99]}
#: Grid cells (lr, momentum) re-run over seeds: the best cell and its neighbours on the diagonal.
SPREAD_CELLS = [(0.03, 0.9), (0.1, 0.9), (0.3, 0.5), (0.3, 0.9), (0.1, 0.99)]
#: The winner's-curse simulation: N configurations that are all truly this accurate.
TRUE_ACCURACY = 0.95

RANDOM = {
    "lr": LogUniform(1e-4, 1e-1),
    "weight_decay": LogUniform(1e-5, 1.0),
    "hidden": Choice((32, 64, 128)),
}


def validation_task(task: DigitsTask, seed: int) -> DigitsTask:
    """Hold out 20% of the training split; the test split is left untouched until the end."""
    perm = torch.randperm(len(task.train.y), generator=torch.Generator().manual_seed(seed))
    n_val = len(perm) // 5
    val, tr = perm[:n_val], perm[n_val:]
    return DigitsTask(
        Split(task.train.x[tr], task.train.y[tr]),
        Split(task.train.x[val], task.train.y[val]),
        task.source,
    )


def make_objective(task: DigitsTask, kind: str, epochs: int, seed: int):
    def objective(config: dict) -> dict:
        torch.manual_seed(seed)
        model = make_mlp(task.n_inputs, hidden=config.get("hidden", 64))
        if kind == "sgd":
            opt = SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
        else:
            opt = AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
        hist = train_classifier(model, opt, task, epochs, seed=seed)
        loss = hist.test_loss[-1]
        return {
            "val_accuracy": hist.test_accuracy[-1],
            "val_loss": loss if np.isfinite(loss) else 1e9,
        }

    return objective


def winners_curse(n_val: int, sizes, seed: int, repeats: int = 20_000) -> dict:
    """Validation scores of N configurations (N in `sizes`), all TRUE_ACCURACY accurate, each
    measured on `n_val` images (a binomial count). Returns one small draw (the worked example)
    and, over many repeats, how far the best score lies above the truth on average."""
    rng = np.random.default_rng(seed)
    example = rng.binomial(n_val, TRUE_ACCURACY, size=5)
    gains = {}
    for n in sorted(set(sizes)):
        best = rng.binomial(n_val, TRUE_ACCURACY, size=(repeats, n)).max(axis=1) / n_val
        gains[str(n)] = float(best.mean() - TRUE_ACCURACY)
    return {
        "example_correct": example.tolist(),
        "example_accuracy": (example / n_val).tolist(),
        "n_val": n_val,
        "true_accuracy": TRUE_ACCURACY,
        "mean_gain_of_best": gains,
        "std_of_one_score": float(np.sqrt(TRUE_ACCURACY * (1 - TRUE_ACCURACY) / n_val)),
    }


def draw_mechanism(run: Run, curse: dict, n_fit: int, n_test: int) -> None:
    """Validation picks the winner, the test split is touched once; the best of several equally
    good noisy scores reads high (the worked example's five draws)."""
    fig, ax = canvas(width=15, height=8, scale=0.55)
    fs = 11
    n_val = curse["n_val"]
    box(
        ax,
        (0, 5.6),
        f"training split\n{n_fit + n_val:,} images",
        width=3.2,
        height=1.4,
        role="input",
        fontsize=fs,
    )
    box(ax, (4.4, 6.5), f"fit on {n_fit:,}", width=2.8, height=1.0, role="input", fontsize=fs)
    box(ax, (4.4, 4.8), f"validate on {n_val}", width=2.8, height=1.0, role="input", fontsize=fs)
    arrow(ax, (3.2, 6.5), (4.4, 7.0))
    arrow(ax, (3.2, 6.1), (4.4, 5.3))
    box(
        ax,
        (11.6, 5.6),
        f"test split\n{n_test} images\n(used once)",
        width=3.2,
        height=1.4,
        role="neutral",
        fontsize=fs,
    )
    # The worked example: five configurations, all truly 95% accurate.
    values = [100 * a for a in curse["example_accuracy"]]
    best = int(np.argmax(values))
    matrix(
        ax,
        [values],
        xy=(0.6, 1.6),
        fmt="{:.1f}%",
        cmap=None,
        cell=1.6,
        col_labels=[f"config {i + 1}" for i in range(len(values))],
        highlight=[(0, best)],
        fontsize=10.5,
    )
    label(
        ax,
        (4.6, 1.0),
        f"validation accuracy of 5 configurations, all truly "
        f"{100 * curse['true_accuracy']:.0f}% accurate",
        fontsize=fs,
        style="italic",
    )
    arrow(ax, (5.8, 4.8), (5.8, 3.75), "score each", fontsize=10, text_offset=(0.95, -0.3))
    box(
        ax,
        (10.2, 1.65),
        f"winner reads {values[best]:.1f}%\ntruth: {100 * curse['true_accuracy']:.0f}%",
        width=3.2,
        height=1.5,
        role="highlight",
        fontsize=fs,
    )
    arrow(ax, (8.6, 2.4), (10.2, 2.4), "pick max", fontsize=10, text_offset=(0.0, 0.1))
    arrow(
        ax,
        (13.2, 3.15),
        (13.2, 5.6),
        "retrain on all,\ntest once",
        fontsize=10,
        text_offset=(-1.35, -0.5),
    )
    finish(ax)
    run.save_fig(fig, "mechanism")


def seed_spread(task: DigitsTask, cells, seeds, epochs: int) -> dict:
    """Validation accuracy of SGD grid cells (lr, momentum) over several training seeds."""
    out = {}
    for lr, momentum in cells:
        accs = []
        for seed in seeds:
            objective = make_objective(task, "sgd", epochs, seed)
            accs.append(objective({"lr": lr, "momentum": momentum})["val_accuracy"])
        out[f"lr={lr:g}, momentum={momentum:g}"] = accs
    return out


def write_csv(path, trials) -> None:
    keys, mkeys = list(trials[0].config), list(trials[0].metrics)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*keys, *mkeys, "seconds"])
        for t in trials:
            writer.writerow(
                [*(t.config[k] for k in keys), *(t.metrics[k] for k in mkeys), round(t.seconds, 3)]
            )


def main(args: Args) -> dict:
    with Run(day=18, args=args) as run:
        epochs = 1 if args.smoke else args.epochs
        grid_space = {"lr": [0.01, 0.1], "momentum": [0.0, 0.9]} if args.smoke else GRID
        n_random = 3 if args.smoke else args.n_random
        full = load_digits_task()
        run.record_source("data", full.source + "; 20% of train held out for validation")
        task = validation_task(full, args.seed)
        curse = winners_curse(len(task.test.y), (5, len(grid(GRID)), args.n_random), args.seed)
        draw_mechanism(run, curse, len(task.train.y), len(full.test.y))

        sweeps = {
            "grid_sgd": (grid(grid_space), "sgd"),
            "random_adamw": (random_configs(RANDOM, n_random, seed=args.seed), "adamw"),
        }
        results = {}
        for name, (configs, kind) in sweeps.items():
            path = run.checkpoint_path(f"{name}.jsonl")
            if not args.resume:
                path.unlink(missing_ok=True)
            objective = make_objective(task, kind, epochs, args.seed)
            # One config at a time so the progress bar moves; finished ones come from the log.
            results[name] = [run_sweep([c], objective, path)[0] for c in progress(configs, name)]
            write_csv(run.out_dir / f"{name}.csv", results[name])
            run.add_file(run.out_dir / f"{name}.csv")
            (run.out_dir / f"{name}.md").write_text(markdown_table(results[name], "val_accuracy"))
            run.add_file(run.out_dir / f"{name}.md")

        # For `wandb sweep`: add `program: <your training script>` that reads wandb.config.
        sweep_yaml = run.out_dir / "wandb_sweep.yaml"
        sweep_yaml.write_text(
            yaml.safe_dump(
                wandb_sweep_config(
                    {**RANDOM, "hidden": [32, 64, 128], "epochs": args.epochs},
                    method="random",
                    metric="val_accuracy",
                )
            )
        )
        run.add_file(sweep_yaml)

        # Retrain each sweep's best configuration on the full training split; test once.
        metrics = {"winners_curse": curse}
        for name, trials in results.items():
            best = max(trials, key=lambda t: t.metrics["val_accuracy"])
            kind = sweeps[name][1]
            torch.manual_seed(args.seed)
            model = make_mlp(full.n_inputs, hidden=best.config.get("hidden", 64))
            opt = (
                SGD(model.parameters(), lr=best.config["lr"], momentum=best.config["momentum"])
                if kind == "sgd"
                else AdamW(
                    model.parameters(),
                    lr=best.config["lr"],
                    weight_decay=best.config["weight_decay"],
                )
            )
            train_classifier(model, opt, full, epochs, seed=args.seed)
            metrics[f"{name}_best_val_accuracy"] = best.metrics["val_accuracy"]
            metrics[f"{name}_best_test_accuracy"] = evaluate(model, full.test)[1]
            for key, value in best.config.items():
                metrics[f"{name}_best_{key}"] = value
            metrics[f"{name}_trials"] = len(trials)

        # Control: how much do cells near the edge of stability move with the training seed?
        seeds = list(range(2 if args.smoke else args.n_seeds))
        cells = SPREAD_CELLS[:2] if args.smoke else SPREAD_CELLS
        spread = seed_spread(task, cells, seeds, epochs)
        metrics["seed_spread_val_accuracy"] = spread
        fig = Figure(figsize=(8, 3.8))
        ax = fig.subplots()
        for i, accs in enumerate(spread.values()):
            ax.plot(
                [i] * len(accs),
                accs,
                "o",
                color="C0",
                alpha=0.6,
                ms=7,
                label="one training seed" if i == 0 else None,
            )
            ax.plot(
                [i - 0.25, i + 0.25],
                [np.mean(accs)] * 2,
                color="C1",
                lw=2,
                label="mean over seeds" if i == 0 else None,
            )
        ax.set_xticks(range(len(spread)))
        ax.set_xticklabels(
            [c.replace(", ", "\n").replace("lr", "η").replace("momentum", "μ") for c in spread]
        )
        ax.set(
            ylabel="validation accuracy",
            xlabel="SGD grid cell",
            title=f"the same cell, {len(seeds)} training seeds ({epochs} epochs)",
        )
        ax.legend(loc="best")
        fig.tight_layout()
        run.save_fig(fig, "seed_spread")

        # Figures: grid heatmap; validation accuracy against learning rate for both searches.
        g = results["grid_sgd"]
        lrs, moms = grid_space["lr"], grid_space["momentum"]
        acc = np.array(
            [
                [
                    next(
                        t.metrics["val_accuracy"]
                        for t in g
                        if t.config["lr"] == lr and t.config["momentum"] == m
                    )
                    for lr in lrs
                ]
                for m in moms
            ]
        )
        fig = Figure(figsize=(12, 4.2))
        ax_heat, ax_lr = fig.subplots(1, 2)
        im = ax_heat.imshow(acc, cmap="viridis", vmin=0, vmax=1, origin="lower")
        for (i, j), value in np.ndenumerate(acc):
            ax_heat.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                color="w" if value < 0.6 else "k",
                fontsize=9.5,
            )
        ax_heat.set(
            xticks=range(len(lrs)),
            xticklabels=[f"{v:g}" for v in lrs],
            yticks=range(len(moms)),
            yticklabels=[f"{v:g}" for v in moms],
            xlabel="learning rate",
            ylabel="momentum",
            title=f"grid search, SGD ({epochs} epochs per trial)",
        )
        ax_heat.grid(False)
        fig.colorbar(im, ax=ax_heat, fraction=0.046, label="validation accuracy")
        r = results["random_adamw"]
        sc = ax_lr.scatter(
            [t.config["lr"] for t in r],
            [t.metrics["val_accuracy"] for t in r],
            c=np.log10([t.config["weight_decay"] for t in r]),
            cmap="plasma",
            s=[t.config["hidden"] / 2 for t in r],
        )
        fig.colorbar(sc, ax=ax_lr, fraction=0.046, label="weight decay (log10)")
        ax_lr.set(
            xscale="log",
            xlabel="learning rate",
            ylabel="validation accuracy",
            title="random search, AdamW (marker size = hidden width)",
        )
        fig.tight_layout()
        run.save_fig(fig, "sweep_results")

        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
