"""Day 45 — Sparse autoencoders: the trade between reconstruction and sparsity, three ways.

Shows:
1. a worked example: one input in a 2-D space that holds three feature directions, encoded by a
   ReLU, a TopK and a JumpReLU SAE whose weights are those features (the L1 shrinkage is visible);
2. synthetic data with planted features (64 sparse features superposed in 32 dimensions): SAEs
   of the three architectures at equal width (128 latents), each trained at several sparsity
   settings (L1 coefficient / k / L0 coefficient); the L0 vs explained-variance frontier, and how
   well each recovers the planted directions (mean max cosine);
3. the feature-density histogram of one SAE per architecture (near the data's true L0).

No language model is used: training SAEs on SmolLM2-135M-Instruct activations (with CE loss
recovered) is day 46's experiment.

Run:  arena run 45 [--smoke] [--publish]   (or python 07_mech_interp/day_045_sae_theory.py)
Full run: about 1 min on 2 cores, 1 thread.
Smoke: 300 steps, two settings per architecture.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.sae import JumpReluSAE, ReluSAE, SAEConfig, TopKSAE
from arena_core.sae.evaluate import log_density, sae_stats
from arena_core.sae.store import ActivationStore
from arena_core.sae.synthetic import mean_max_cosine, planted_features, sparse_data
from arena_core.sae.training import TrainConfig, train_sae
from arena_core.utils import DayArgs, Run, run_script

ARCHS = {"relu": ("ReLU + L1", ReluSAE, "l1_coeff"), "topk": ("TopK", TopKSAE, "k"),
         "jumprelu": ("JumpReLU", JumpReluSAE, "l0_coeff")}  # fmt: skip
COLORS = {"relu": "tab:blue", "topk": "tab:orange", "jumprelu": "tab:green"}

# worked example: three unit features in 2-D, input x = 1.0 · u1
TOY_FEATURES = [[1.0, 0.0], [0.0, 1.0], [-0.6, 0.8]]
TOY_X = [1.0, 0.0]
TOY_BIAS = -0.3  # ReLU / TopK encoder bias
TOY_THETA = 0.5  # JumpReLU threshold (encoder bias 0)
TOY_L1 = 0.5


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "none"  # no language model today: SAEs on SmolLM2 activations are day 46
    n_features: int = 64  # planted features (synthetic)
    d: int = 32  # synthetic activation width
    p: float = 0.03  # probability that a planted feature is active
    d_sae: int = 128  # SAE width (synthetic), equal for the three architectures
    steps: int = 2000  # training steps per synthetic SAE (batch 256)
    relu_l1: str = "0.1,0.3,1,3,10"  # ReLU L1 coefficients swept
    topk_k: str = "1,2,3,4,8"  # TopK k swept
    jumprelu_l0: str = "0.03,0.1,0.3,1,3"  # JumpReLU L0 coefficients swept


def toy_example() -> dict:
    """The worked example, computed with the project's three SAE classes."""
    u = torch.tensor(TOY_FEATURES)
    x = torch.tensor([TOY_X])
    out = {}
    for name, cls, kw, bias in (
        ("relu", ReluSAE, {"l1_coeff": TOY_L1}, TOY_BIAS),
        ("topk", TopKSAE, {"k": 1}, TOY_BIAS),
        ("jumprelu", JumpReluSAE, {"threshold": TOY_THETA, "l0_coeff": TOY_L1}, 0.0),
    ):
        sae = cls(SAEConfig(d_in=2, d_sae=3, **kw))
        with torch.no_grad():
            sae.W_dec.copy_(u)
            sae.W_enc.copy_(u.T)
            sae.b_enc.fill_(bias)
            sae.b_dec.zero_()
        o = sae.run(x)
        out[name] = {
            "pre": [round(v, 4) for v in o.pre[0].tolist()],
            "f": [round(v, 4) for v in o.feats[0].tolist()],
            "recon": [round(v, 4) for v in o.recon[0].tolist()],
            "mse": round(o.mse.item(), 4),
            "sparsity_loss": round(o.sparsity.item(), 4),
        }
    return out


def _vec(v: list[float]) -> str:
    return "(" + ", ".join(f"{x:g}" for x in v) + ")"


def mechanism_figure(toy: dict) -> Figure:
    """The pipeline with the worked example's numbers, and the three activation functions."""
    fig = Figure(figsize=(14, 7))
    z = torch.linspace(-1, 1.5, 200)
    titles = {"relu": "ReLU: max(0, z)", "topk": "TopK: ReLU on the k largest, 0 elsewhere",
              "jumprelu": f"JumpReLU: z · [z > θ], θ = {TOY_THETA:g}"}  # fmt: skip
    for i, (name, title) in enumerate(titles.items()):
        ins = fig.add_axes((0.06 + 0.33 * i, 0.6, 0.26, 0.3))
        y = z * (z > TOY_THETA) if name == "jumprelu" else z.relu()
        ins.plot(z, y, color=COLORS[name], lw=2)
        ins.set_title(title, fontsize=10)
        ins.set_xlabel("pre-activation z")
        ins.set_ylabel("latent activation σ(z)")
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.42))
    ax.set_xlim(0, 14)
    ax.set_ylim(0, 3)
    ax.axis("off")
    r = toy["relu"]
    boxes = [
        (1.1, "input x = (1, 0)\nwidth d = 2", "#dbe9f6"),
        (4.4, "pre = (x − b_dec) W_enc + b_enc\n= " + _vec(r["pre"]), "#fff2c0"),
        (8.1, "code f = σ(pre) = " + _vec(r["f"]) + "\nm = 3 latents, 1 active", "#d9f0d3"),
        (11.9, "x̂ = f W_dec + b_dec\n= " + _vec(r["recon"]), "#fff2c0"),
    ]
    for x, text, colour in boxes:
        ax.text(x, 2.0, text, ha="center", va="center", fontsize=11,
                bbox={"boxstyle": "round,pad=0.5", "fc": colour, "ec": "0.3"})  # fmt: skip
    for x0, x1, word in ((2.2, 2.55, ""), (6.25, 6.65, "encode"), (9.6, 10.3, "decode")):
        ax.annotate("", xy=(x1, 2.0), xytext=(x0, 2.0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.6})  # fmt: skip
        ax.text((x0 + x1) / 2, 2.45, word, ha="center", fontsize=10)
    ax.text(7.0, 0.75, f"ReLU SAE, λ = {TOY_L1:g}, b_enc = {TOY_BIAS:g}; rows of W_dec (= columns "
            "of W_enc): u₁ = (1, 0), u₂ = (0, 1), u₃ = (−0.6, 0.8)\n"
            f"loss = ‖x̂ − x‖² + λ Σᵢ fᵢ ‖W_dec[i]‖ = {r['mse']:g} + {r['sparsity_loss']:g}"
            "   (the bias that keeps f₂, f₃ at 0 also shrinks f₁ from 1 to 0.7)",
            ha="center", va="center", fontsize=11)  # fmt: skip
    fig.suptitle("A sparse autoencoder: encode into more latents than dimensions, keep few, decode",
                 fontsize=13)  # fmt: skip
    return fig


def floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",")]


def sweep(x_train, x_test, settings: dict, d_sae: int, steps: int, seed: int, extra=None) -> dict:
    """Train one SAE per (architecture, setting); return their stats (and the SAEs)."""
    rows: dict = {}
    for arch, values in settings.items():
        _, cls, key = ARCHS[arch]
        rows[arch] = []
        for v in values:
            kw = {key: int(v) if key == "k" else v}
            if arch == "jumprelu":
                kw["threshold"] = 0.1
            sae = cls(SAEConfig(d_in=x_train.shape[1], d_sae=d_sae, **kw), seed=seed)
            cfg = TrainConfig(n_steps=steps, lr=3e-3, dead_window=20 * 256,
                              resample_every=steps // 8, log_every=50)  # fmt: skip
            train_sae(sae, iter(ActivationStore(x_train, 256, 8192, seed=seed)), cfg,
                      desc=f"{arch} {key}={v:g}")  # fmt: skip
            s = sae_stats(sae, x_test)
            row = {"setting": v, "l0": round(s.l0, 3), "fve": round(s.fve, 4),
                   "dead_fraction": round(s.dead_fraction, 4),
                   "dense_fraction": round(s.dense_fraction, 4)}  # fmt: skip
            if extra is not None:
                row |= extra(sae)
            rows[arch].append((row, sae, s))
    return rows


def frontier_figure(rows: dict, title: str, true_l0: float | None = None) -> Figure:
    fig = Figure(figsize=(7.5, 5))
    ax = fig.add_subplot(1, 1, 1)
    for arch, rs in rows.items():
        pts = sorted((r["l0"], r["fve"]) for r, _, _ in rs)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS[arch],
                label=ARCHS[arch][0])  # fmt: skip
    if true_l0 is not None:
        ax.axvline(true_l0, color="0.5", ls=":", label=f"true L0 of the data ({true_l0:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("L0: active latents per input (log scale)")
    ax.set_ylabel("fraction of variance explained (held out)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def recovery_figure(rows: dict, true_l0: float) -> Figure:
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    for arch, rs in rows.items():
        pts = sorted((r["l0"], r["mmcs"]) for r, _, _ in rs)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS[arch],
                label=ARCHS[arch][0])  # fmt: skip
    ax.axvline(true_l0, color="0.5", ls=":", label=f"true L0 ({true_l0:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("L0: active latents per input (log scale)")
    ax.set_ylabel("mean max cosine with planted features")
    ax.set_title("Do the decoder rows find the planted directions?")
    ax.legend(loc="center right")
    fig.tight_layout()
    return fig


def density_figure(picked: dict, title: str) -> Figure:
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    for arch, (row, stats) in picked.items():
        ld = log_density(stats.density).numpy()
        ax.hist(ld, bins=30, range=(-5, 0), histtype="step", lw=2, color=COLORS[arch],
                label=f"{ARCHS[arch][0]} (L0 {row['l0']:.1f}, "
                f"dead {100 * row['dead_fraction']:.0f}%)")  # fmt: skip
    ax.set_xlabel("log10 of a latent's firing frequency on held-out inputs")
    ax.set_ylabel("number of latents")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=45, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        # 2. synthetic data with planted features
        feats = planted_features(args.n_features, args.d, seed=args.seed)
        n_train = 8000 if args.smoke else 40_000
        x_train, a_train = sparse_data(feats, n_train, args.p, seed=args.seed)
        x_test, a_test = sparse_data(feats, 5000, args.p, seed=args.seed + 1)
        true_l0 = (a_test > 0).float().sum(1).mean().item()
        settings = {"relu": floats(args.relu_l1), "topk": floats(args.topk_k),
                    "jumprelu": floats(args.jumprelu_l0)}  # fmt: skip
        if args.smoke:
            settings = {k: v[1:3] for k, v in settings.items()}
        steps = 300 if args.smoke else args.steps

        def mmcs(sae) -> dict:
            return {"mmcs": round(mean_max_cosine(sae.W_dec.data, feats), 4)}

        syn = sweep(x_train, x_test, settings, args.d_sae, steps, args.seed, extra=mmcs)
        metrics["synthetic"] = {a: [r for r, _, _ in rs] for a, rs in syn.items()}
        metrics["synthetic_true_l0"] = round(true_l0, 3)
        # the floor of the recovery score: random unit rows of the SAE's size
        rand = planted_features(args.d_sae, args.d, seed=args.seed + 100)
        metrics["synthetic_random_decoder_mmcs"] = round(mean_max_cosine(rand, feats), 4)
        for arch, rs in syn.items():
            best = max(rs, key=lambda t: t[0]["mmcs"])[0]
            metrics[f"synthetic_{arch}_best_mmcs"] = best["mmcs"]
            metrics[f"synthetic_{arch}_best_mmcs_setting"] = best["setting"]
            metrics[f"synthetic_{arch}_best_mmcs_l0"] = best["l0"]
            metrics[f"synthetic_{arch}_best_mmcs_fve"] = best["fve"]
        run.record_source("data", f"synthetic: {args.n_features} planted unit features in "
                          f"{args.d} dims, p = {args.p} (arena_core.sae.synthetic)")  # fmt: skip
        run.save_fig(frontier_figure(syn, f"Synthetic data: {args.n_features} features in "
                                     f"{args.d} dimensions, SAEs with {args.d_sae} latents",
                                     true_l0), "frontier_synthetic")  # fmt: skip
        run.save_fig(recovery_figure(syn, true_l0), "recovery_synthetic")
        run.record_source("model", "none: synthetic data only (SmolLM2 SAEs are day 46)")
        picked = {}
        for arch, rs in syn.items():
            row, _, stats = min(rs, key=lambda t: abs(t[0]["l0"] - true_l0))
            picked[arch] = (row, stats)
            metrics[f"synthetic_{arch}_near_true_l0"] = row
        title = "How often each latent fires (the SAE nearest the true L0)"
        run.save_fig(density_figure(picked, title), "density_synthetic")
        run.print(f"  synthetic: true L0 {true_l0:.2f}; best MMCS " + ", ".join(
            f"{a} {metrics[f'synthetic_{a}_best_mmcs']}" for a in syn))  # fmt: skip

        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
