"""Day 3 — tensor manipulation patterns: gather, integer-array and mask indexing, stable softmax,
logsumexp and cross-entropy, and sampling from a categorical distribution without a loop.

What it shows (each checked against torch at run time):
- naive log(sum(exp(x))) and softmax overflow once logits reach ~89 (float32) / ~710 (float64),
  while the max-shifted versions in `arena_core.tensors.stable` stay exact: figure of the error vs
  the logit scale, float32 and float64;
- the two facts from ARENA 0.0: logsumexp([1000]*4) = 1000 + log 4, and the cross-entropy of a
  target the model gives probability 0 is +inf;
- gather / one-hot / top-k / masked-mean patterns vs torch built-ins on a batch of logits;
- inverse-CDF sampling (`searchsorted`) passes a chi-square test against the probabilities.

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
    computed by torch with the max shift (exact to ~1e-16 relative at these magnitudes)."""
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
    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2, sharey=True)
    cap = 1e2  # draw "inf / NaN" as a point above the finite errors
    styles = {"float32": "tab:blue", "float64": "tab:orange"}
    for ax, kind in zip(axes, ("logsumexp", "softmax"), strict=True):
        for (k, dtype, method), errs in curves.items():
            if k != kind or method == "torch":  # torch's curve sits on ours; reported in metrics
                continue
            shown = [min(e, cap) for e in errs]
            ax.loglog(
                scales.numpy(),
                [max(e, 1e-18) for e in shown],
                color=styles[dtype],
                ls="-" if method == "stable" else "--",
                marker="" if method == "stable" else ".",
                label=f"{method} {dtype}",
            )
        ax.axhline(cap, color="red", lw=0.8, alpha=0.5)
        ax.text(1.1, cap * 1.6, "inf / NaN", color="red", fontsize=8)
        ax.set_title(f"{kind}: naive vs max-shifted")
        ax.set_xlabel("logit scale s  (logits = s * N(0, 1), 1000 classes)")
        ax.set_ylim(1e-18, 1e4)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("max relative error vs float64 reference\n(exact 0 drawn at 1e-18)")
    axes[0].legend(fontsize=8, loc="center left")
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
    return fig, {**first_bad, **worst_stable}


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


def sampling_experiment(args: Args, gen: torch.Generator) -> tuple[Figure, dict[str, float]]:
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -math.inf, -2.0, 1.5, 0.2])
    probs = torch.softmax(logits.double(), -1)
    draws = sample_categorical(probs, args.samples, generator=gen)
    counts = torch.bincount(draws, minlength=len(probs))
    x2 = chi_square_statistic(counts, probs)
    dof = int((probs > 0).sum()) - 1
    p_value = float(stats.chi2.sf(x2, dof))
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.subplots()
    idx = torch.arange(len(probs)).numpy()
    ax.bar(idx - 0.2, probs.numpy(), width=0.4, label="softmax probability")
    ax.bar(idx + 0.2, (counts / args.samples).numpy(), width=0.4, label="sampled frequency")
    ax.set_xticks(idx.tolist())
    ax.set_xlabel("category (category 6 has logit -inf)")
    ax.set_title(
        f"Inverse-CDF sampling, {args.samples:,} draws: chi2 = {x2:.1f}, p = {p_value:.2f}"
    )
    ax.legend()
    return fig, {
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
        fig, overflow = overflow_experiment(args, run.generator)
        run.save_fig(fig, "naive_vs_stable")
        facts = facts_and_patterns(run.generator)
        fig, sampling = sampling_experiment(args, run.generator)
        run.save_fig(fig, "sampling")
        return run.finish({**facts, **overflow, **sampling})


if __name__ == "__main__":
    run_script(main, Args)
