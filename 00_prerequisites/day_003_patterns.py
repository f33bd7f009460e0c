"""Day 3 — tensor manipulation patterns: gather, integer-array and mask indexing, stable softmax,
logsumexp and cross-entropy, and sampling from a categorical distribution without a loop.

What it shows (each checked against torch at run time):
- naive log(sum(exp(x))) and softmax overflow once logits reach ~89 (float32) / ~710 (float64),
  while the max-shifted versions in `arena_core.tensors.stable` stay finite: figure of the error vs
  the logit scale, float32 and float64. The float32 softmax curve is compared with the error that
  rounding the logits to float32 causes on its own (softmax of the rounded logits in float64);
- the mechanism diagram: logits [100, 99, 98] through the naive softmax (inf, then NaN) and the
  max-shifted one, with the numbers computed by `softmax` and `logsumexp`;
- the two facts from ARENA 0.0: logsumexp([1000]*4) = 1000 + log 4, and the cross-entropy of a
  target the model gives probability 0 is +inf;
- gather / one-hot / top-k / masked-mean patterns vs torch built-ins on a batch of logits;
- inverse-CDF sampling (`searchsorted`) passes a chi-square test against the probabilities
  (metrics only).

Run:  arena run 3 [--smoke] [--publish]   (or python 00_prerequisites/day_003_patterns.py)
Full run: ~3 s on 2 CPU cores. Smoke: ~3 s.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from scipy import stats

from arena_core.tensors.indexing import (
    batched_index_select,
    gather_last,
    index_pairs,
    masked_mean,
    one_hot,
    topk_mask,
)
from arena_core.tensors.sampling import chi_square_statistic, sample_categorical
from arena_core.tensors.stable import cross_entropy, log_softmax, logsumexp, softmax
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix


@dataclass
class Args(DayArgs):
    batch: int = 128  # rows of random logits per scale
    classes: int = 1000  # logits per row
    scales: int = 30  # logit scales between 1 and 1e4 (log-spaced)
    samples: int = 200_000  # categorical draws for the chi-square test
    threads: int = 1  # torch intra-op threads (small tensors: 1 thread avoids sync overhead)


def naive_logsumexp(x: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.exp(x).sum(-1))


def naive_softmax(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(x)
    return e / e.sum(-1, keepdim=True)


def relative_error(ours: torch.Tensor, exact: torch.Tensor) -> float:
    """max |ours - exact| / max(|exact|, 1); inf/NaN count as infinitely wrong."""
    err = (ours.double() - exact) / exact.abs().clamp_min(1.0)
    err = torch.where(torch.isfinite(err), err.abs(), torch.full_like(err, math.inf))
    return err.max().item()


def overflow_experiment(args: Args, gen: torch.Generator) -> tuple[Figure, dict[str, float]]:
    """Error of naive vs stable logsumexp/softmax as the logits scale up, vs a float64 reference
    computed by torch with the max shift (exact to ~1e-16 relative at these magnitudes).

    A third float32 softmax curve isolates the input: the logits rounded to float32, then softmax
    in float64. If it matches the stable float32 curve, the error was in the logits already."""
    scales = torch.logspace(0, 4, args.scales, dtype=torch.float64)
    base = torch.randn(args.batch, args.classes, generator=gen, dtype=torch.float64)
    curves: dict[tuple[str, str, str], list[float]] = {}
    for scale in scales:
        x64 = base * scale
        ref_lse = torch.logsumexp(x64, -1)
        ref_sm = torch.softmax(x64, -1)
        for dtype in (torch.float32, torch.float64):
            x = x64.to(dtype)
            name = str(dtype).replace("torch.", "")
            for kind, fn, ref in (
                ("logsumexp", (naive_logsumexp, logsumexp, torch.logsumexp), ref_lse),
                ("softmax", (naive_softmax, softmax, torch.softmax), ref_sm),
            ):
                for method, f in zip(("naive", "stable", "torch"), fn, strict=True):
                    err = relative_error(f(x) if method != "torch" else f(x, -1), ref)
                    curves.setdefault((kind, name, method), []).append(err)
        rounded = torch.softmax(x64.float().double(), -1)  # float32 logits, exact arithmetic
        curves.setdefault(("softmax", "float32", "input"), []).append(
            relative_error(rounded, ref_sm)
        )
    fig = Figure(figsize=(10, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    cap, floor = 1e2, 1e-18  # "inf / NaN" is drawn above the finite errors, tiny ones at the floor
    colours = {"float32": "#1f77b4", "float64": "#ff7f0e"}
    names = {"naive": "naive", "stable": "max-shifted", "input": "float32 logits, exact softmax"}
    for ax, kind in zip(axes, ("logsumexp", "softmax"), strict=True):
        for (k, dtype, method), errs in curves.items():
            if k != kind or method == "torch":  # torch's curve sits on ours; reported in metrics
                continue
            style = {
                "naive": dict(ls="--", marker=".", lw=1.4),
                "stable": dict(ls="-", marker="", lw=2.0),
                "input": dict(ls=":", marker="", lw=2.2, color="black"),
            }[method]
            style.setdefault("color", colours[dtype])
            label_text = names[method] if method == "input" else f"{names[method]} {dtype}"
            ax.loglog(
                scales.numpy(),
                [min(max(e, floor), cap) for e in errs],
                label=label_text,
                **style,
            )
        ax.axhline(cap, color="red", lw=0.8, alpha=0.5)
        ax.text(1.1, cap * 1.8, "inf or NaN", color="red", fontsize=9)
        ax.set_title(kind)
        ax.set_xlabel("logit scale s  (1,000 logits per row, s × N(0, 1))")
        ax.set_ylim(floor / 3, 1e4)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("worst error vs float64 reference\n(values below 1e-18 drawn at 1e-18)")
    whats = ("relative error of log Σ exp", "absolute error of probabilities")
    for ax, what in zip(axes, whats, strict=True):
        ax.text(0.97, 0.72, what, transform=ax.transAxes, fontsize=9.5, ha="right")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.13))
    first_bad = {}
    for (kind, dtype, method), errs in curves.items():
        if method == "naive":
            bad = [s.item() for s, e in zip(scales, errs, strict=True) if not math.isfinite(e)]
            first_bad[f"naive_{kind}_{dtype}_first_nonfinite_scale"] = min(bad) if bad else -1.0
    worst_stable = {
        f"{method}_{kind}_{dtype}_max_rel_err": max(errs)
        for (kind, dtype, method), errs in curves.items()
        if method in ("stable", "torch")
    }
    stable32 = curves[("softmax", "float32", "stable")]
    rounding = curves[("softmax", "float32", "input")]
    peak = max(range(len(stable32)), key=stable32.__getitem__)
    return fig, {
        **first_bad,
        **worst_stable,
        "softmax_float32_input_rounding_max_abs_err": max(rounding),
        "stable_softmax_float32_peak_scale": scales[peak].item(),
        "stable_softmax_float32_err_at_largest_scale": stable32[-1],
        "float32_input_rounding_share_of_softmax_err_at_peak": rounding[peak] / stable32[peak],
    }


def mechanism_figure() -> tuple[Figure, dict[str, float]]:
    """Logits [100, 99, 98] in float32 through the naive softmax and the max-shifted one."""
    x = torch.tensor([100.0, 99.0, 98.0])
    e = torch.exp(x)
    naive = naive_softmax(x)
    m = x.max()
    shifted = x - m
    e_shifted = torch.exp(shifted)
    total = e_shifted.sum()
    p = softmax(x)
    lse = logsumexp(x)
    fig, ax = canvas(width=20, height=8, scale=0.42)
    fmt, c = "{:.3g}", 1.3  # number format and cell size of the small vectors
    step = 3 * c + 2.4  # from one vector to the next
    # naive row
    y1 = 4.0
    label(ax, (-0.3, y1 + 2.3), "naive", fontsize=11.5, ha="left", fontweight="bold")
    matrix(ax, x.numpy(), xy=(0, y1), title="logits x (float32)", cell=c, cmap=None)
    arrow(ax, (3 * c + 0.2, y1 + c / 2), (step - 0.2, y1 + c / 2), "exp")
    matrix(ax, e.numpy(), xy=(step, y1), title="exp(x)", cell=c, cmap=None)
    arrow(ax, (step + 3 * c + 0.2, y1 + c / 2), (2 * step - 0.2, y1 + c / 2), "÷ sum")
    matrix(ax, naive.numpy(), xy=(2 * step, y1), title="softmax", cell=c, cmap=None)
    label(
        ax,
        (2 * step + 3 * c + 0.5, y1 + c / 2),
        "exp(100) is larger than the\nlargest float32 (3.4e38):\ninf / inf = NaN",
        fontsize=10,
        color="#d62728",
        ha="left",
    )
    # stable row
    y2 = 0.0
    label(ax, (-0.3, y2 + 2.3), "max-shifted", fontsize=11.5, ha="left", fontweight="bold")
    matrix(ax, x.numpy(), xy=(0, y2), title="logits x (float32)", cell=c, cmap=None)
    arrow(ax, (3 * c + 0.2, y2 + c / 2), (step - 0.2, y2 + c / 2), f"− max ({m.item():g})")
    matrix(ax, shifted.numpy(), xy=(step, y2), title="x − max", cell=c, cmap="Blues")
    arrow(ax, (step + 3 * c + 0.2, y2 + c / 2), (2 * step - 0.2, y2 + c / 2), "exp")
    matrix(
        ax,
        e_shifted.numpy(),
        xy=(2 * step, y2),
        title="exp(x − max)",
        fmt=fmt,
        cell=c,
        cmap="Blues",
    )
    arrow(
        ax,
        (2 * step + 3 * c + 0.2, y2 + c / 2),
        (3 * step - 0.2, y2 + c / 2),
        f"÷ sum ({total.item():.4g})",
    )
    matrix(ax, p.numpy(), xy=(3 * step, y2), title="softmax", fmt=fmt, cell=c, cmap="Greens")
    label(
        ax,
        (1.5 * step + 1.5 * c, y2 - 1.3),
        "every exponent is ≤ 0 and the largest term is exactly 1, so nothing overflows;\n"
        f"log Σ exp(x) = {m.item():g} + log {total.item():.4g} = {lse.item():.4f}",
        fontsize=10.5,
        linespacing=1.5,
    )
    finish(ax)
    return fig, {
        "example_naive_softmax_is_nan": bool(torch.isnan(naive).all()),
        "example_exp_shifted_sum": total.item(),
        "example_softmax": p.tolist(),
        "example_logsumexp": lse.item(),
    }


def facts_and_patterns(gen: torch.Generator) -> dict[str, float | bool]:
    four = torch.full((4,), 1000.0, dtype=torch.float64)
    lse_err = abs(logsumexp(four).item() - (1000 + math.log(4)))
    zero_prob = cross_entropy(torch.tensor([[0.0, -math.inf, 3.0]]), torch.tensor([1]))

    logits = torch.randn(64, 50, generator=gen, dtype=torch.float64) * 30
    targets = torch.randint(0, 50, (64,), generator=gen)
    targets[::7] = -100  # some positions ignored (padding)
    ce_err = abs(cross_entropy(logits, targets).item() - F.cross_entropy(logits, targets).item())
    probs = torch.softmax(torch.randn(64, 50, generator=gen, dtype=torch.float64), -1)
    ce_soft_err = abs(cross_entropy(logits, probs).item() - F.cross_entropy(logits, probs).item())
    kept = targets != -100
    picked = gather_last(log_softmax(logits), torch.where(kept, targets, 0))
    gather_err = (
        (picked[kept] + F.cross_entropy(logits[kept], targets[kept], reduction="none")).abs().max()
    )
    # integer-array indexing: (row, col) pairs, and k rows picked per batch element
    rows, cols = torch.arange(64), torch.where(kept, targets, 0)
    pairs_ok = torch.equal(index_pairs(logits, rows, cols), logits[rows, cols])
    seq = logits.reshape(8, 8, 50)  # 8 sequences of 8 positions
    pick = cols.reshape(8, 8)[:, :3] % 8  # 3 positions per sequence
    select_ok = torch.equal(batched_index_select(seq, pick), seq[torch.arange(8)[:, None], pick])
    mask = topk_mask(logits, 5)
    topk_ok = torch.equal(
        mask, torch.zeros_like(mask).scatter(-1, logits.topk(5, -1).indices, True)
    )
    one_hot_ok = torch.equal(one_hot(targets[kept], 50), F.one_hot(targets[kept], 50).float())
    mean_err = (masked_mean(logits, mask) - logits.topk(5, -1).values.mean(-1)).abs().max()
    lse_grad_x = logits.clone().requires_grad_()
    (grad,) = torch.autograd.grad(logsumexp(lse_grad_x).sum(), lse_grad_x)
    grad_err = (grad - torch.softmax(logits, -1)).abs().max()
    return {
        "logsumexp_1000x4_minus_1000_plus_log4": lse_err,
        "ce_zero_probability_target_is_inf": bool(torch.isinf(zero_prob).item()),
        "ce_index_targets_vs_torch_abs_err": ce_err,
        "ce_prob_targets_vs_torch_abs_err": ce_soft_err,
        "gather_target_logprob_vs_torch_max_abs_err": gather_err.item(),
        "logsumexp_grad_vs_torch_softmax_max_abs_err": grad_err.item(),
        "masked_mean_of_topk_vs_torch_max_abs_err": mean_err.item(),
        "topk_mask_matches_torch": topk_ok,
        "one_hot_matches_torch": one_hot_ok,
        "index_pairs_matches_advanced_indexing": pairs_ok,
        "batched_index_select_matches_advanced_indexing": select_ok,
    }


def sampling_experiment(args: Args, gen: torch.Generator) -> dict[str, float]:
    """Inverse-CDF draws from a 10-way softmax with one -inf logit, and Pearson's chi-square."""
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -math.inf, -2.0, 1.5, 0.2])
    probs = torch.softmax(logits.double(), -1)
    draws = sample_categorical(probs, args.samples, generator=gen)
    counts = torch.bincount(draws, minlength=len(probs))
    x2 = chi_square_statistic(counts, probs)
    dof = int((probs > 0).sum()) - 1
    p_value = float(stats.chi2.sf(x2, dof))
    return {
        "chi_square_statistic": x2,
        "chi_square_dof": dof,
        "chi_square_p_value": p_value,
        "draws_of_impossible_category": int(counts[6]),
    }


def main(args: Args) -> dict:
    if args.smoke:
        args.batch, args.classes, args.scales, args.samples = 8, 50, 6, 5000
    with Run(day=3, args=args) as run:
        run.record_source("data", "synthetic: seeded Gaussian logits (torch.Generator)")
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
        fig, overflow = overflow_experiment(args, run.generator)
        run.save_fig(fig, "naive_vs_stable")
        facts = facts_and_patterns(run.generator)
        sampling = sampling_experiment(args, run.generator)
        return run.finish({**example, **facts, **overflow, **sampling})


if __name__ == "__main__":
    run_script(main, Args)
