"""Day 59 — A balanced-bracket classifier, trained here (ARENA 1.5.1, first half).

Trains a small bidirectional transformer (GPT-2 style, 3 layers, d_model 56, 2 heads, d_mlp 56,
`arena_core.models.bracket_classifier`) to say whether a string of up to 40 brackets is balanced,
reading its answer at the [start] position. The data (`arena_core.data.brackets`) mixes balanced
strings with the hard negatives: equal counts but a prefix that goes below zero, and unequal
counts; the 5,000 held-out strings never appear in training.

Shows:
1. training curves (loss, held-out accuracy), training stops at 100% held-out or at the budget;
2. held-out accuracy overall (goal 5000/5000), per kind of string and by length, plus hand cases;
3. the attention of the [start] token in every layer and head for a few strings;
4. the mechanism: the elevation profile of "(()))(" (computed here, logged in metrics) and how a
   bidirectional model lets [start] read the whole string in every layer.

Run:  arena run 59 [--smoke] [--publish] [--resume]
      (or python 07_mech_interp/day_059_brackets.py)
`--resume` continues an interrupted training run from out_dir/checkpoints/brackets.pt.
`--save-checkpoint` also writes the weights to arena_core/models/checkpoints/ (what day 60 loads).
Full run (default recipe, 6,000 steps, 1 thread): 409 s measured (about 7 min, CPU).
Smoke: 30 steps on 300 held-out strings, a few seconds.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.brackets import KINDS, MAX_LEN, attention_mask, elevation, tokenize
from arena_core.models.bracket_classifier import (
    CHECKPOINT,
    NAME,
    BracketRecipe,
    class_logits,
    evaluate,
    save_bracket_classifier,
    train_classifier,
)
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

HAND_CASES = (
    "()()",
    "(())",
    "(()",
    "())(",
    ")(",
    "((()))",
    "(()))(",
    "()" * 20,
    "(" * 20 + ")" * 20,
)
WORKED = "(()))("
PATTERN_STRINGS = ("(())()", "())(()", "((()")
KIND_NAMES = {
    "balanced": "balanced",
    "negative_prefix": "equal count,\nnegative prefix",
    "unequal_count": "unequal count",
    "random": "random",
}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = NAME  # the classifier trained by this script (no other model applies)
    max_steps: int = BracketRecipe.max_steps  # training budget in steps
    batch_size: int = BracketRecipe.batch_size  # strings per training step
    lr: float = BracketRecipe.lr  # Adam learning rate
    eval_every: int = BracketRecipe.eval_every  # steps between held-out evaluations/checkpoints
    n_test: int = BracketRecipe.n_test  # held-out strings
    resume: bool = False  # continue from out_dir/checkpoints/brackets.pt
    save_checkpoint: bool = False  # also write the weights to arena_core/models/checkpoints/


def worked_example(s: str = WORKED) -> dict:
    h = elevation(s)
    return {
        "string": s,
        "elevation": h,
        "final_elevation": h[-1],
        "min_elevation": min(h),
        "first_negative_position": next((i for i, v in enumerate(h) if v < 0), -1),
        "balanced": h[-1] == 0 and min(h) >= 0,
    }


def mechanism_figure(ex: dict) -> Figure:
    """The elevation profile of the worked example, and [start] reading every token both ways."""
    s, h = ex["string"], ex["elevation"]
    n = len(s)
    fig, ax = canvas(width=13, height=8.2, scale=0.72)
    label(ax, (0, 7.8), f"1. Elevation of {s!r}: +1 for '(', −1 for ')'", fontsize=11, ha="left")
    x0, y0 = 2.0, 5.0  # baseline of the profile (elevation 0)
    ax.plot([x0 - 0.6, x0 + n + 0.4], [y0, y0], color="0.5", lw=0.8)
    label(ax, (x0 - 0.9, y0), "0", fontsize=9)
    xs = [x0] + [x0 + i + 1 for i in range(n)]
    ys = [y0] + [y0 + 0.8 * v for v in h]
    ax.plot(xs, ys, "-o", color="tab:blue", ms=4)
    for i, (c, v) in enumerate(zip(s, h, strict=True)):
        color = "tab:red" if v < 0 else "black"
        label(ax, (x0 + i + 0.5, 3.5), c, fontsize=13)
        label(ax, (xs[i + 1] + 0.2, ys[i + 1] + 0.35), f"{v:+d}", fontsize=9, color=color)
    label(ax, (x0 + n + 2.9, 6.2),
          f"final elevation {ex['final_elevation']:+d}: counts equal\n"
          f"minimum {ex['min_elevation']:+d} at position {ex['first_negative_position'] + 1}:\n"
          "a prefix closes more than it opens\n→ unbalanced", fontsize=9.5)  # fmt: skip
    label(ax, (0, 2.6), "2. The model: bidirectional attention, answer read at [start]",
          fontsize=11, ha="left")  # fmt: skip
    toks = ["[start]", *s, "[end]"]
    for i, t in enumerate(toks):
        box(ax, (0.2 + 1.25 * i, 0.2), t, width=1.1, height=0.7, role="input", fontsize=8.5)
    for i in range(1, len(toks)):
        arrow(ax, (0.2 + 1.25 * i + 0.55, 0.9), (0.75, 0.95), curve=0.35, color="tab:blue")
    box(ax, (10.6, 0.1), "3 layers × 2 heads\n(no causal mask)", width=2.6, height=0.9,
        role="op", fontsize=8.5)  # fmt: skip
    box(ax, (10.6, 1.3), "logits at [start]:\nunbalanced | balanced", width=2.6, height=0.9,
        role="output", fontsize=8.5)  # fmt: skip
    arrow(ax, (11.9, 1.0), (11.9, 1.3))
    label(ax, (5.0, 1.85), "every layer: [start] may read every real token (pads masked)",
          fontsize=8.5, color="tab:blue")  # fmt: skip
    finish(ax)
    return fig


def curves_figure(history) -> Figure:
    fig = Figure(figsize=(11, 4))
    ax = fig.add_subplot(1, 2, 1)
    loss = torch.tensor(history.train_loss)
    w = max(1, len(loss) // 100)
    smooth = loss.unfold(0, w, w).mean(1) if len(loss) >= w else loss
    ax.plot(history.step[w - 1 :: w][: len(smooth)], smooth, label=f"train (mean of {w} steps)")
    ax.plot(history.eval_step, history.test_loss, "o-", ms=3, label="held-out")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy at [start]")
    ax.legend()
    ax = fig.add_subplot(1, 2, 2)
    err = [max(1 - a, 0.5 / 5000) for a in history.test_accuracy]
    ax.plot(history.eval_step, err, "o-", ms=3, color="tab:red")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("held-out error rate (1 − accuracy)")
    ax.set_title("points at the floor = 0 errors")
    fig.suptitle("Training the bracket classifier")
    fig.tight_layout()
    return fig


def accuracy_figure(by_kind: dict, by_len: dict, counts: dict) -> Figure:
    fig = Figure(figsize=(12, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    names = list(by_kind)
    vals = [by_kind[k] for k in names]
    bars = ax.bar([KIND_NAMES[k] for k in names], vals, color="tab:blue")
    for b, k in zip(bars, names, strict=True):
        text = f"{by_kind[k]:.4f}\n(n={counts[k]})"
        x = b.get_x() + b.get_width() / 2
        ax.text(x, b.get_height() + 0.002, text, ha="center", va="bottom", fontsize=8.5)
    ax.set_ylim(min(vals) - 0.05 if min(vals) < 0.95 else 0.9, 1.03)
    ax.set_ylabel("held-out accuracy")
    ax.set_title("by kind of string")
    ax = fig.add_subplot(1, 2, 2)
    ls = sorted(by_len)
    ax.plot(ls, [by_len[n] for n in ls], "o-", ms=3)
    ax.set_xlabel("string length (brackets)")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("by length")
    ax.set_ylim(min(0.9, min(by_len.values()) - 0.02), 1.01)
    fig.tight_layout()
    return fig


def pattern_figure(model, strings) -> Figure:
    tokens = tokenize(list(strings))
    with torch.no_grad():
        _, cache = model.run_with_cache(
            tokens, attention_mask=attention_mask(tokens), names_filter=lambda n: "pattern" in n
        )
    L, H = model.cfg.n_layers, model.cfg.n_heads
    fig = Figure(figsize=(12, 2.0 + 1.3 * len(strings)))
    for r, s in enumerate(strings):
        ax = fig.add_subplot(len(strings), 1, r + 1)
        n = len(s) + 2
        rows = torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][r, h, 0, :n]
                            for layer in range(L) for h in range(H)])  # fmt: skip
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(n), ["[s]", *s, "[e]"])
        ax.set_yticks(range(L * H), [f"L{layer}H{h}" for layer in range(L) for h in range(H)],
                      fontsize=8)  # fmt: skip
        for i in range(L * H):
            for j in range(n):
                v = rows[i, j].item()
                if v >= 0.1:
                    ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if v > 0.6 else "black")  # fmt: skip
        ax.set_title(f"{s!r}: where [start] looks (rows: layer/head)", fontsize=10)
        ax.grid(False)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(59, args) as run:
        if args.smoke:
            recipe = BracketRecipe(max_steps=30, eval_every=15, n_test=300, batch_size=64,
                                   lr=args.lr, seed=args.seed)  # fmt: skip
        else:
            recipe = BracketRecipe(max_steps=args.max_steps, batch_size=args.batch_size,
                                   lr=args.lr, eval_every=args.eval_every, n_test=args.n_test,
                                   seed=args.seed)  # fmt: skip
        run.record_source("model", f"{NAME}: trained by this script (recipe {recipe})")
        run.record_source("data", "generated bracket strings (arena_core.data.brackets)")
        ex = worked_example()
        run.log(worked_example=ex)
        run.print(f"worked example {WORKED!r}: elevation {ex['elevation']}")
        run.save_fig(mechanism_figure(ex), "mechanism")

        ckpt = run.checkpoint_path("brackets.pt")
        model, history, data = train_classifier(
            recipe, checkpoint_path=ckpt, resume=args.resume,
            on_eval=lambda step, acc: run.print(f"  step {step}: held-out accuracy {acc:.4f}"),
        )  # fmt: skip
        test = data.test
        _, pred = evaluate(model, test.tokens, test.labels)
        right = pred == test.labels
        n_right = int(right.sum())
        by_kind = {k: round(right[test.kinds == i].float().mean().item(), 4)
                   for i, k in enumerate(KINDS) if (test.kinds == i).any()}  # fmt: skip
        counts = {k: int((test.kinds == i).sum()) for i, k in enumerate(KINDS)}
        lengths = test.lengths
        by_len = {int(n): right[lengths == n].float().mean().item()
                  for n in range(1, MAX_LEN + 1) if (lengths == n).any()}  # fmt: skip
        errors = [s for s, ok in zip(test.strings, right.tolist(), strict=True) if not ok]
        hand_tokens = tokenize(list(HAND_CASES))
        with torch.no_grad():
            p_bal = class_logits(model, hand_tokens).softmax(-1)[:, 1]
        hand = {s: round(p.item(), 4) for s, p in zip(HAND_CASES, p_bal, strict=True)}
        metrics = {
            "held_out_correct": n_right,
            "held_out_total": len(test),
            "held_out_accuracy": round(n_right / len(test), 4),
            "accuracy_by_kind": by_kind,
            "held_out_count_by_kind": counts,
            "held_out_balanced_share": round(test.labels.float().mean().item(), 4),
            "accuracy_min_over_lengths": round(min(by_len.values()), 4),
            "held_out_errors": errors[:20],
            "hand_cases_p_balanced": hand,
            "training_steps": history.step[-1] if history.step else 0,
            "training_strings_seen": (history.step[-1] if history.step else 0) * recipe.batch_size,
            "training_seconds": round(history.seconds, 1),
            "final_held_out_loss": round(history.test_loss[-1], 6),
            "eval_steps": history.eval_step,
            "eval_accuracy": [round(a, 4) for a in history.test_accuracy],
            "n_params": model.n_params(),
        }
        run.print(f"  held-out: {n_right}/{len(test)}; by kind {by_kind}")
        run.print(f"  hand cases P(balanced): {hand}")
        run.save_fig(curves_figure(history), "training_curves")
        run.save_fig(accuracy_figure(by_kind, by_len, counts), "accuracy")
        run.save_fig(pattern_figure(model, PATTERN_STRINGS), "start_attention")
        weights = save_bracket_classifier(
            model, history, recipe, run.out_dir / f"{NAME}.safetensors"
        )
        metrics["checkpoint_bytes"] = weights.stat().st_size
        if args.save_checkpoint and not args.smoke:
            save_bracket_classifier(model, history, recipe, CHECKPOINT)
            run.print(f"  wrote {CHECKPOINT}")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
