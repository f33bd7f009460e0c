"""Day 46 — Training an SAE on a real model's residual stream, and the same run in SAELens.

Shows:
1. the attention-sink trap: the residual stream at position 0 is far larger than at any other
   position, so position 0 is dropped from the training set (measured and logged), and so is
   any other row whose norm is above 10x the median (counted in the metrics);
2. a ReLU SAE (width `expansion` x d_model, L1 penalty) trained on SmolLM2-135M-Instruct's
   residual stream at a middle layer, on Shakespeare text, three ways from the same initial
   weights on the same batches with the same Adam / LR schedule / L1 warm-up:
   - ours: unit-norm decoder rows (the constraint enforced after every step), no clipping;
   - ours with SAELens's recipe: free decoder rows, the L1 weighted by their norms, gradient
     norm clipped at 1;
   - SAELens's own `SAETrainer`;
   training curves (L0, MSE, explained variance vs tokens) for all three;
3. held-out L0, explained variance, dead and dense fractions, CE loss recovered (spliced into the
   model, against zero- and mean-ablation), and training throughput, side by side; how far the
   SAELens-recipe run of our loop ends from SAELens's own weights;
4. the latent-density histograms;
5. the L0 vs explained-variance frontier of our recipe (an L1 sweep), so the recipes are compared
   at the same L0 rather than at the same L1 coefficient.

Activations are computed once and cached on disk (resumable) under the run's folder.

Run:  arena run 46 [--smoke] [--publish]   (or python 07_mech_interp/day_046_sae_train.py)
Full run: about 7 min on 1 thread with the activation cache in place (6.8 min of CPU time
measured; five SAEs trained); collecting the activations adds ~3.5 min the first time.
Smoke: 4k tokens, 40 steps (too few to converge: it checks the plumbing).
"""

import math
import time
from dataclasses import dataclass, replace

import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import shakespeare_text
from arena_core.errors import ArgumentError
from arena_core.models import load_model_for_run
from arena_core.probes.activations import model_fingerprint
from arena_core.sae import ReluSAE, SAEConfig
from arena_core.sae.evaluate import ce_loss_recovered, log_density, sae_stats
from arena_core.sae.saelens_train import train_saelens
from arena_core.sae.store import ActivationFile, ActivationStore, token_activations
from arena_core.sae.training import TrainConfig, train_sae
from arena_core.utils import DayArgs, Run, run_script

OURS, TWIN, LENS = "ours", "ours, SAELens recipe", "SAELens"
COLORS = {OURS: "tab:blue", TWIN: "tab:green", LENS: "tab:orange"}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # SmolLM2-135M-Instruct (576 wide, 30 layers); or "gpt2" (hub or
    # ARENA_MODELS) / "qwen2.5-coder-0.5b-instruct" (optional install), else falls back to SmolLM2
    layer: int = -1  # residual stream after this block (-1: the middle one, 15 of SmolLM2's 30)
    seq_len: int = 128  # tokens per row (position 0 is dropped)
    n_tokens: int = 100_000  # training activations (after dropping position 0)
    eval_rows: int = 16  # held-out rows: SAE metrics and CE loss recovered
    expansion: int = 4  # SAE width = expansion x d_model
    l1: float = 1.0  # L1 coefficient (activations scaled to mean norm sqrt(d_model))
    batch: int = 256  # training batch (tokens)
    epochs: int = 3  # passes over the training activations
    lr: float = 2e-3  # Adam learning rate (5% warm-up, 20% linear decay)
    l1_sweep: str = "1.5,2.5"  # extra L1 coefficients for our recipe: FVE at SAELens's L0


def token_rows(tokenizer, n_rows: int, seq_len: int) -> list[list[int]]:
    text, _ = shakespeare_text()
    ids = tokenizer(text[: n_rows * seq_len * 6])["input_ids"]
    rows = [ids[i : i + seq_len] for i in range(0, len(ids) - seq_len + 1, seq_len)]
    return rows[:n_rows]


def cached_activations(run: Run, model, rows, hook: str, d: int) -> torch.Tensor:
    """Residual-stream rows (position 0 dropped), written to disk chunk by chunk; resumable."""
    per_row = len(rows[0]) - 1
    fp = f"{model_fingerprint(model)}|{hook}|{len(rows)}x{len(rows[0])}|{hash(tuple(rows[0]))}"
    store = ActivationFile(run.out_dir / "acts", len(rows) * per_row, d, fp)
    chunk = 32
    for r0 in range(store.done // per_row, len(rows), chunk):
        store.append(token_activations(model, rows[r0 : r0 + chunk], hook, batch_size=16))
    return torch.from_numpy(store.read()[:].copy())  # a writable in-memory copy


def sink_stats(model, rows, hook: str) -> dict:
    """Norms of the residual stream by position on a few rows: position 0 vs the rest."""
    acts = token_activations(model, rows, hook, skip_first=0)
    norms = acts.norm(dim=1).reshape(len(rows), -1)
    med = norms[:, 1:].median().item()
    return {"pos0_norm": round(norms[:, 0].mean().item(), 1), "median_norm": round(med, 2),
            "pos0_over_median": round(norms[:, 0].mean().item() / med, 1),
            "max_other_over_median": round(norms[:, 1:].max().item() / med, 1)}  # fmt: skip


def mechanism_figure(sink: dict, d: int, m: int, layer: int) -> Figure:
    fig = Figure(figsize=(15, 4.6))
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.86))
    ax.set_xlim(0, 15.5)
    ax.set_ylim(0, 4)
    ax.axis("off")
    boxes = [
        (1.2, "Shakespeare text\n128-token rows", "#dbe9f6"),
        (4.1, f"SmolLM2-135M\nblocks 0..{layer}\n(forward stops here)", "#eeeeee"),
        (7.3, f"residual stream x ∈ R^{d}\ndrop position 0\nscale to mean norm √{d}", "#fff2c0"),
        (
            10.9,
            f"SAE: {m} latents\nf = ReLU((x − b_dec)W_enc + b_enc)\nx̂ = f W_dec + b_dec",
            "#d9f0d3",
        ),
        (14.3, "splice x̂ back\ninto the model:\nCE loss recovered", "#f6dbe0"),
    ]
    for x, text, colour in boxes:
        ax.text(x, 2.7, text, ha="center", va="center", fontsize=10.5,
                bbox={"boxstyle": "round,pad=0.5", "fc": colour, "ec": "0.3"})  # fmt: skip
    for x0, x1 in ((2.2, 3.0), (5.2, 5.9), (8.75, 9.05), (12.75, 13.2)):
        ax.annotate("", xy=(x1, 2.7), xytext=(x0, 2.7),
                    arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.6})  # fmt: skip
    ax.text(7.75, 0.9, f"why drop position 0: its residual norm is {sink['pos0_norm']:g}, "
            f"{sink['pos0_over_median']:g}× the median {sink['median_norm']:g} of the other "
            f"positions (largest other: {sink['max_other_over_median']:g}× the median).\n"
            f"One such row carries the squared error of ~{sink['pos0_over_median'] ** 2:,.0f} "
            "ordinary rows and would dominate the MSE.", ha="center", va="center",
            fontsize=11)  # fmt: skip
    fig.suptitle("Training an SAE on a language model's residual stream", fontsize=13)
    return fig


def curves_figure(hists: dict, batch: int) -> Figure:
    fig = Figure(figsize=(13, 4))
    for i, (key, label) in enumerate((("l0", "L0 (active latents per token)"),
                                      ("mse", "MSE (scaled units, per token)"),
                                      ("fve", "explained variance"))):  # fmt: skip
        ax = fig.add_subplot(1, 3, i + 1)
        for name, h in hists.items():
            ax.plot([(s + 1) * batch for s in h.step], getattr(h, key), color=COLORS[name],
                    label=name, lw=1.6)  # fmt: skip
        ax.set_xlabel("training tokens")
        ax.set_title(label, fontsize=10)
        if key == "mse":
            ax.set_yscale("log")
        if key == "fve":  # the first logged steps are far below 0; show the part that matters
            lowest = min(min(h.fve) for h in hists.values())
            ax.set_ylim(-0.2, 1.0)
            if lowest < -0.2:
                ax.text(0.97, 0.05, f"first logged value {lowest:.1f}, below the axis",
                        transform=ax.transAxes, ha="right", fontsize=8.5, color="0.35")  # fmt: skip
        ax.legend(loc="center right" if key == "fve" else "upper right")
    fig.suptitle("Training curves on the training batches (same data, same start)", fontsize=12)
    fig.tight_layout()
    return fig


def table_figure(rows: dict) -> Figure:
    keys = [("l0", "L0"), ("fve", "explained variance"), ("dead_fraction", "dead fraction"),
            ("dense_fraction", "dense fraction (>10%)"),
            ("recovered_vs_mean", "CE recovered vs mean-abl."),
            ("recovered_vs_zero", "CE recovered vs zero-abl."), ("ce_spliced", "CE spliced"),
            ("tokens_per_s", "training tokens/s")]  # fmt: skip
    fig = Figure(figsize=(9.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    cells = [[label] + [f"{rows[n][k]:.4g}" for n in rows] for k, label in keys]
    t = ax.table(cellText=cells, colLabels=["held-out metric", *rows], loc="center",
                 cellLoc="center")  # fmt: skip
    t.scale(1, 1.5)
    ax.set_title("Final metrics (held-out Shakespeare tokens)")
    fig.tight_layout()
    return fig


def density_figure(stats: dict) -> Figure:
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    for name, s in stats.items():
        ax.hist(log_density(s.density).numpy(), bins=40, range=(-5, 0), histtype="step", lw=2,
                color=COLORS[name],
                label=f"{name} (dead {100 * s.dead_fraction:.1f}%)")  # fmt: skip
    ax.set_xlabel("log10 of a latent's firing frequency on held-out tokens")
    ax.set_ylabel("number of latents")
    ax.set_title("How often each latent fires")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def fve_at_l0(sweep: dict, l0: float) -> float | None:
    """Our recipe's explained variance at a given L0, interpolated linearly in log L0 between
    the two sweep points around it (None when `l0` is outside the sweep)."""
    pts = sorted((v["l0"], v["fve"]) for v in sweep.values())
    for (l0_a, f_a), (l0_b, f_b) in zip(pts, pts[1:], strict=False):
        if l0_a <= l0 <= l0_b and l0_b > l0_a:
            w = (math.log(l0) - math.log(l0_a)) / (math.log(l0_b) - math.log(l0_a))
            return f_a + w * (f_b - f_a)
    return None


def frontier_figure(sweep: dict, table: dict, l1: float) -> Figure:
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    pts = sorted((v["l0"], v["fve"], k) for k, v in sweep.items())
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=COLORS[OURS],
            label="ours (unit-norm decoder), L1 sweep")  # fmt: skip
    for l0, fve, k in pts:
        ax.annotate(f"L1 {k}", (l0, fve), textcoords="offset points", xytext=(6, -12),
                    fontsize=9, color=COLORS[OURS])  # fmt: skip
    for name, marker in ((TWIN, "s"), (LENS, "D")):
        ax.plot(table[name]["l0"], table[name]["fve"], marker, ms=9 if name == LENS else 13,
                mfc="none" if name == TWIN else COLORS[name], mec=COLORS[name], mew=2,
                ls="none", label=f"{name}, L1 {l1:g}")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("L0 (active latents per held-out token, log scale)")
    ax.set_ylabel("explained variance (held out)")
    ax.set_title("Sparsity vs reconstruction: compare recipes at the same L0")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=46, args=args) as run:
        lm = load_model_for_run(args.model, run)  # falls back to SmolLM2 with a note
        model, tok = lm.model.eval(), lm.tokenizer
        n_layers = model.cfg.n_layers
        layer = n_layers // 2 if args.layer == -1 else args.layer
        if not 0 <= layer < n_layers:
            raise ArgumentError(f"--layer must be in 0..{n_layers - 1} (or -1), got {args.layer}")
        hook = f"blocks.{layer}.hook_resid_post"
        d = model.cfg.d_model
        n_tokens = 4000 if args.smoke else args.n_tokens
        n_train_rows = -(-n_tokens // (args.seq_len - 1))
        eval_rows = 4 if args.smoke else args.eval_rows
        rows = token_rows(tok, n_train_rows + eval_rows, args.seq_len)
        train_rows, held = rows[:n_train_rows], rows[n_train_rows:]
        run.record_source("data", f"Shakespeare (arena_core.data.shakespeare), "
                          f"{len(rows)} rows of {args.seq_len} {lm.name} tokens")  # fmt: skip
        metrics: dict = {"hook": hook, "d_model": d}
        sink = sink_stats(model, held[:4], hook)
        metrics["sink"] = sink
        run.save_fig(mechanism_figure(sink, d, args.expansion * d, layer), "mechanism")

        t0 = time.perf_counter()
        x = cached_activations(run, model, train_rows, hook, d)
        metrics["collect_seconds"] = round(time.perf_counter() - t0, 1)
        x_eval = token_activations(model, held, hook)
        # other massive-norm tokens (beyond position 0) would dominate the MSE too: leave them out
        max_norm = 10 * sink["median_norm"]
        norms = x.norm(dim=1)
        metrics["dropped_massive_rows"] = int((norms > max_norm).sum())
        metrics["max_train_norm_over_median"] = round(norms.max().item() / sink["median_norm"], 1)
        x = x[norms <= max_norm]
        x_eval = x_eval[x_eval.norm(dim=1) <= max_norm]
        scale = d**0.5 / x.norm(dim=1).mean().item()  # train on c·x with mean norm √d
        xs, xs_eval = x * scale, x_eval * scale
        metrics |= {"train_tokens": len(x), "eval_tokens": len(x_eval), "scale": round(scale, 4)}

        steps = 40 if args.smoke else args.epochs * len(x) // args.batch
        cfg = TrainConfig(n_steps=steps, lr=args.lr, dead_window=10 * args.batch,
                          log_every=max(1, steps // 40))  # fmt: skip
        # SAELens's recipe in our loop: free decoder rows (L1 weighted by their norms) and the
        # gradient clipped at norm 1, exactly what SAELens's SAETrainer.step does
        twin_cfg = replace(cfg, unit_norm_decoder=False, grad_clip=1.0)
        init = ReluSAE(SAEConfig(d_in=d, d_sae=args.expansion * d, l1_coeff=args.l1), seed=0)
        saes, hists, secs = {}, {}, {}

        def batches():
            return iter(ActivationStore(xs, args.batch, 16384, seed=0))

        for name, c in ((OURS, cfg), (TWIN, twin_cfg)):
            sae = ReluSAE(init.cfg, seed=0)
            t0 = time.perf_counter()
            hists[name] = train_sae(sae, batches(), c, desc=name)
            secs[name], saes[name] = time.perf_counter() - t0, sae
        t0 = time.perf_counter()
        saes[LENS], hists[LENS] = train_saelens(init, batches(), cfg, args.batch)
        secs[LENS] = time.perf_counter() - t0
        metrics["train_steps"] = steps
        metrics["twin_vs_saelens_max_weight_diff"] = {
            k: float(f"{(getattr(saes[TWIN], k) - getattr(saes[LENS], k)).abs().max():.3g}")
            for k in ("W_enc", "b_enc", "W_dec", "b_dec")
        }
        sweep = {args.l1: sae_stats(saes[OURS], xs_eval)}
        for l1 in [] if args.smoke else [float(v) for v in args.l1_sweep.split(",") if v]:
            sae = ReluSAE(replace(init.cfg, l1_coeff=l1), seed=0)
            train_sae(sae, batches(), cfg, desc=f"ours, L1 {l1:g}")
            sweep[l1] = sae_stats(sae, xs_eval)
        metrics["l1_sweep"] = {f"{k:g}": {"l0": round(v.l0, 2), "fve": round(v.fve, 4)}
                               for k, v in sorted(sweep.items())}  # fmt: skip

        tokens, mask = torch.tensor(held), torch.ones(len(held), args.seq_len, dtype=torch.long)
        mean_act = x.mean(0)
        table, stats = {}, {}
        for name, sae in saes.items():
            s = sae_stats(sae, xs_eval)
            stats[name] = s
            sae.fold_input_scale(scale)  # now acts on raw activations
            ce = ce_loss_recovered(model, sae, tokens, mask, hook, mean_act, max_norm=max_norm)
            table[name] = {"l0": round(s.l0, 2), "fve": round(s.fve, 4),
                           "mse_scaled": round(s.mse, 3),
                           "dead_fraction": round(s.dead_fraction, 4),
                           "dense_fraction": round(s.dense_fraction, 4),
                           **{k: round(v, 4) for k, v in ce.items()},
                           "tokens_per_s": round(steps * args.batch / secs[name], 0)}  # fmt: skip
            run.print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in table[name].items()))
        metrics["results"] = table
        a, t, b = table[OURS], table[TWIN], table[LENS]
        keys = ("l0", "fve", "recovered_vs_mean", "tokens_per_s")
        metrics["ours_over_saelens"] = {k: round(a[k] / b[k], 3) for k in keys if b[k]}
        metrics["twin_over_saelens"] = {k: round(t[k] / b[k], 3) for k in keys if b[k]}
        matched = fve_at_l0(metrics["l1_sweep"], b["l0"])  # None: SAELens's L0 outside the sweep
        if matched is not None:
            metrics["ours_fve_at_saelens_l0"] = round(matched, 4)
            metrics["ours_over_saelens_fve_at_matched_l0"] = round(matched / b["fve"], 4)
        metrics["ce_norm_cap"] = round(max_norm, 1)
        run.save_fig(curves_figure(hists, args.batch), "training_curves")
        run.save_fig(table_figure(table), "metrics_table")
        run.save_fig(density_figure(stats), "density")
        run.save_fig(frontier_figure(metrics["l1_sweep"], table, args.l1), "frontier")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
