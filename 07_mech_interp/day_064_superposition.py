"""Day 64 — Superposition: the toy model of Elhage et al. (2022), replicated on a CPU.

The model is x' = ReLU(Wᵀ W x + b): n sparse features squeezed into d < n dimensions and read back
through a ReLU (`arena_core/toy/superposition.py`). Every experiment is one vectorised training of
many independent instances (one per setting, a few replicas each; the lowest-loss replica of every
setting is kept).

Shows:
1. five features in two dimensions, importance 0.9^i, feature probability 1 → 0.02: the columns of
   W per probability; dense keeps the two most important features on orthogonal axes, sparse
   keeps all five on a pentagon (number represented, ‖W_i‖ > 0.5; angles between neighbours);
2. the phase diagram of two features in one dimension (Elhage §3): relative importance of
   feature 2 against feature density, coloured by what happens to feature 2 (dropped / a
   dimension of its own / superposed as an antipodal pair);
3. dimensionality per feature, D_i = ‖W_i‖² / Σ_j (Ŵ_i·W_j)², for 100 features in 20 dimensions
   over sparsity, with the fractions it sticks to (1, 1/2, 2/5, 1/3 ...);
4. four features in two dimensions as two correlated pairs and as two anti-correlated pairs;
5. the mechanism diagram: the worked example W = [1, −1] (two features in one dimension) with the
   interference term and what the ReLU does to it.

Run:  arena run 64 [--smoke] [--publish]   (or python 07_mech_interp/day_064_superposition.py)
Full run: about 2.6 min on 1 thread (154–159 s measured; no language model, toy models only).
Smoke: a few hundred steps and tiny grids, a few seconds.
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from arena_core.toy import (
    ToyModel,
    best_replicas,
    dimensionality,
    evaluate_loss,
    train_toy_model,
    two_feature_regime,
)
from arena_core.toy.superposition import REGIMES
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils import diagrams as dg

PENTAGON_PROBS = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
STICKY = {"1": 1.0, "3/4": 0.75, "2/3": 2 / 3, "1/2": 0.5, "2/5": 0.4, "1/3": 1 / 3, "1/4": 0.25,
          "1/5": 0.2}  # fmt: skip
STICKY_TOL = 0.02  # |D_i − fraction| that counts as "on" a fraction (1/4 and 1/5 are 0.05 apart)
WORKED_W = [[1.0, -1.0]]  # two features in one dimension, an antipodal pair
WORKED_INPUTS = {"x=(1,0)": [1.0, 0.0], "x=(1,1)": [1.0, 1.0]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads (the instances are small: one thread is fastest)
    steps: int = 4000  # Adam steps for the pentagon and correlation experiments
    phase_steps: int = 3000  # Adam steps for the phase diagram and the dimensionality sweep
    batch_size: int = 1024  # samples per step (the phase diagram and the 100-feature sweep: half)
    lr: float = 5e-3  # Adam learning rate (decays linearly to a tenth over the second half)
    replicas: int = 4  # instances trained per setting; the lowest-loss one is kept
    dim_replicas: int = 1  # replicas in the dimensionality sweep (its 100 features cost the most)
    phase_grid: int = 12  # phase diagram resolution (grid × grid settings)
    n_features: int = 100  # features of the dimensionality sweep
    d_hidden: int = 20  # hidden dimensions of the dimensionality sweep
    n_sparsities: int = 16  # feature probabilities of the dimensionality sweep, 1 → 10^-2.5


def worked_example() -> dict:
    """Two features in one dimension with W = [1, −1], b = 0: the output before and after ReLU."""
    model = ToyModel.from_weights(torch.tensor([WORKED_W]), torch.zeros(1, 2))
    out = {"W": WORKED_W, "b": [0.0, 0.0]}
    with torch.no_grad():
        W = model.W[0]
        out["WtW"] = (W.T @ W).tolist()
        for name, vec in WORKED_INPUTS.items():
            x = torch.tensor([[vec]])
            h = model.hidden(x)[0, 0]
            pre = (h @ W + model.b[0]).tolist()
            out[name] = {"h": h.tolist(), "before_relu": pre, "after_relu": model(x)[0, 0].tolist()}
    return out


def mechanism_figure(ex: dict) -> Figure:
    fig, ax = dg.canvas(width=17, height=6.5, scale=0.62)
    x, r = WORKED_INPUTS["x=(1,0)"], ex["x=(1,0)"]
    dg.matrix(ax, [[v] for v in x], xy=(0, 1.5), title="x", row_labels=["x₁", "x₂"], cmap=None)
    dg.arrow(ax, (1.2, 2.5), (3.0, 2.5), "W = [1, −1]")
    dg.matrix(ax, [r["h"]], xy=(3.2, 2.0), title="h = Wx", cmap=None)
    dg.arrow(ax, (4.4, 2.5), (6.0, 2.5), "Wᵀh")
    dg.matrix(ax, ex["WtW"], xy=(6.8, 1.5), title="WᵀW", highlight=[(1, 0)], cmap="RdBu",
              col_labels=["from x₁", "from x₂"], row_labels=["to x′₁", "to x′₂"])  # fmt: skip
    dg.arrow(ax, (9.0, 2.5), (10.6, 2.5), "+ b, b = 0")
    dg.matrix(ax, [[v] for v in r["before_relu"]], xy=(10.8, 1.5), title="WᵀWx + b",
              highlight=[(1, 0)], cmap=None)  # fmt: skip
    dg.arrow(ax, (12.0, 2.5), (13.8, 2.5), "ReLU")
    dg.matrix(ax, [[v] for v in r["after_relu"]], xy=(14.0, 1.5), title="x′", cmap=None)
    dg.label(ax, (8.0, 0.55), "red: the interference W₂·W₁ = −1 that feature 1 sends to output 2",
             fontsize=9.5, color="#d62728")  # fmt: skip
    dg.label(ax, (8.0, -0.15), "the ReLU cuts the negative interference away: x′ = x when only one "
             "feature is on", fontsize=9.5)  # fmt: skip
    both = ex["x=(1,1)"]
    dg.label(ax, (8.0, -0.85), f"but x = (1, 1) gives h = {both['h'][0]:g} and x′ = "
             f"({both['after_relu'][0]:g}, {both['after_relu'][1]:g}): both features lost",
             fontsize=9.5)  # fmt: skip
    dg.label(ax, (8.0, 5.1), "Two features in one dimension: x′ = ReLU(WᵀW x + b)",
             fontsize=12, fontweight="bold")  # fmt: skip
    dg.finish(ax)
    return fig


def train_best(
    n_settings: int,
    n: int,
    d: int,
    probs,
    importance,
    args: Args,
    gen,
    steps: int,
    batch: int,
    desc: str,
    reps: int | None = None,
    **pairs,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train `reps` (default `args.replicas`) instances per setting; keep the lowest-loss one.

    Returns W [settings d n], b [settings n] and the kept instances' evaluation loss.
    """
    reps = 1 if args.smoke else (reps or args.replicas)
    p = torch.as_tensor(probs, dtype=torch.float32)
    imp = torch.as_tensor(importance, dtype=torch.float32)
    p = p.repeat_interleave(reps, 0) if p.ndim and p.shape[0] == n_settings else p
    imp = imp.repeat_interleave(reps, 0) if imp.ndim == 2 else imp
    model = ToyModel(n_settings * reps, n, d, generator=gen)
    train_toy_model(model, p, imp, steps=steps, batch_size=batch, lr=args.lr, generator=gen,
                    desc=desc, **pairs)  # fmt: skip
    loss = evaluate_loss(model, p, imp, n_samples=4000 if args.smoke else 20_000, generator=gen,
                         **pairs)  # fmt: skip
    best = best_replicas(loss, reps)
    return model.W.detach()[best], model.b.detach()[best], loss[best]


def neighbour_angles(W: torch.Tensor) -> list[float]:
    """Angles in degrees between angularly adjacent columns of a 2-D W [2 n]."""
    theta = torch.atan2(W[1], W[0]).sort().values
    gaps = torch.diff(torch.cat([theta, theta[:1] + 2 * math.pi]))
    return torch.rad2deg(gaps).tolist()


def draw_columns(ax, W: torch.Tensor, colours, labels=None) -> None:
    for i in range(W.shape[1]):
        ax.annotate("", xy=(W[0, i].item(), W[1, i].item()), xytext=(0, 0),
                    arrowprops={"arrowstyle": "-|>", "color": colours[i], "lw": 2})  # fmt: skip
        ax.scatter([W[0, i].item()], [W[1, i].item()], color=colours[i], s=14,
                   label=labels[i] if labels else None)  # fmt: skip
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)


def pentagon_figure(Ws, probs, kept) -> Figure:
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    n = Ws.shape[-1]
    colours = [cmap(i / max(1, n - 1) * 0.85) for i in range(n)]
    cols = 4
    rows = math.ceil((len(probs) + 1) / cols)
    fig = Figure(figsize=(2.9 * cols, 3.1 * rows))
    labels = [f"feature {i + 1} (importance {0.9**i:.2f})" for i in range(n)]
    for k, p in enumerate(probs):
        ax = fig.add_subplot(rows, cols, k + 1)
        draw_columns(ax, Ws[k], colours, labels if k == 0 else None)
        ax.set_title(f"p = {p:g}: {kept[k]} features kept", fontsize=10)
        ax.set_xlabel("hidden dim 1")
        ax.set_ylabel("hidden dim 2")
    handles, names = fig.axes[0].get_legend_handles_labels()
    ax = fig.add_subplot(rows, cols, len(probs) + 1)
    ax.axis("off")
    ax.legend(handles, names, loc="center", fontsize=8.5, title="columns W_i of W")
    fig.suptitle("Five features in two dimensions, feature probability p from dense to sparse")
    fig.tight_layout()
    return fig


def phase_figure(regime: torch.Tensor, rel: torch.Tensor, dens: torch.Tensor) -> Figure:
    fig = Figure(figsize=(8.2, 5.8))
    ax = fig.add_subplot(1, 1, 1)
    colours = ["#bdbdbd", "#3182bd", "#d62728"]
    ax.pcolormesh(rel.numpy(), dens.numpy(), regime.numpy(), cmap=ListedColormap(colours),
                  vmin=-0.5, vmax=2.5, shading="nearest", edgecolors="white", lw=0.5)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("relative importance of feature 2 (feature 1 has importance 1)")
    ax.set_ylabel("feature density p (probability a feature is non-zero)")
    for code, name in REGIMES.items():
        ax.scatter([], [], marker="s", s=80, color=colours[code], label=f"feature 2: {name}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8.5)
    ax.set_title("Two features in one dimension: what happens to feature 2")
    fig.tight_layout()
    return fig


def dimensionality_figure(D, kept, probs, dims_per_feature, n: int, d: int) -> Figure:
    fig = Figure(figsize=(9, 5.8))
    ax = fig.add_subplot(1, 1, 1)
    inv = 1 / probs
    for k in range(len(probs)):
        vals = D[k][kept[k]]
        jitter = inv[k] * torch.exp(0.04 * torch.randn(len(vals), generator=torch.Generator()))
        ax.scatter(jitter, vals, s=9, alpha=0.5, color="tab:blue",
                   label="one feature's dimensionality D_i" if k == 0 else None)  # fmt: skip
    ax.plot(inv, dims_per_feature, color="black", lw=1.5, label="dimensions per feature d / ‖W‖²_F")
    for name, v in STICKY.items():
        ax.axhline(v, color="0.7", lw=0.7, ls="--")
        ax.text(1.01, v, name, va="center", fontsize=9, transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_xlabel("1 / feature probability (sparser →)")
    ax.set_ylabel("dimensionality D_i (features with ‖W_i‖ > 0.5)")
    ax.set_ylim(0, 1.1)
    ax.legend(loc="upper right", fontsize=8.5)
    ax.set_title(f"How much of a dimension each feature gets, {n} features in {d} dimensions")
    fig.tight_layout()
    return fig


def correlation_figure(sets: dict) -> Figure:
    fig = Figure(figsize=(10.5, 5.2))
    pair_colours = ["tab:blue", "tab:cyan", "tab:red", "tab:orange"]
    labels = ["pair A, feature 1", "pair A, feature 2", "pair B, feature 1", "pair B, feature 2"]
    for k, (name, (W, loss)) in enumerate(sets.items()):
        ax = fig.add_subplot(1, len(sets), k + 1)
        draw_columns(ax, W, pair_colours, labels if k == 0 else None)
        ax.set_title(f"{name}\n(loss {loss:.4f})", fontsize=10)
        ax.set_xlabel("hidden dim 1")
        ax.set_ylabel("hidden dim 2")
    fig.legend(loc="lower center", ncol=4, fontsize=8.5)
    fig.suptitle("Four features in two dimensions, as two pairs")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def pair_cosines(W: torch.Tensor) -> dict:
    unit = W / W.norm(dim=0, keepdim=True).clamp_min(1e-9)
    c = unit.T @ unit
    return {"within_pair_A": round(c[0, 1].item(), 3), "within_pair_B": round(c[2, 3].item(), 3),
            "across_pairs": [round(c[i, j].item(), 3) for i in (0, 1) for j in (2, 3)]}  # fmt: skip


def main(args: Args) -> dict:
    with Run(day=64, args=args) as run:
        run.record_source("model", "toy ReLU output models ReLU(WᵀWx + b), trained in this run")
        run.record_source("data", "synthetic sparse features, uniform in [0, 1) when present")
        gen = torch.Generator().manual_seed(args.seed)
        smoke = args.smoke
        steps = 200 if smoke else args.steps
        phase_steps = 200 if smoke else args.phase_steps
        metrics: dict = {"worked_example": worked_example()}
        run.save_fig(mechanism_figure(metrics["worked_example"]), "mechanism")

        # 1. five features in two dimensions
        probs = PENTAGON_PROBS[::3] if smoke else PENTAGON_PROBS
        importance = 0.9 ** torch.arange(5.0)
        W, _, loss = train_best(len(probs), 5, 2, probs, importance, args, gen, steps,
                                args.batch_size, "5 features in 2 dims")  # fmt: skip
        norms = W.norm(dim=1)
        kept = (norms > 0.5).sum(1).tolist()
        sparsest = W[-1][:, norms[-1] > 0.5]
        angles = neighbour_angles(sparsest)
        metrics["pentagon"] = {
            "feature_probability": list(probs),
            "n_represented": kept,
            "norms": [[round(v, 3) for v in row] for row in norms.tolist()],
            "dimensionality": [[round(v, 3) for v in r] for r in dimensionality(W).tolist()],
            "loss": [round(v, 5) for v in loss.tolist()],
            "sparsest_neighbour_angles_deg": [round(a, 1) for a in angles],
            "sparsest_max_angle_error_deg": round(
                max(abs(a - 360 / len(angles)) for a in angles), 1
            ),  # fmt: skip
        }
        run.print(
            f"  pentagon: features kept per p {dict(zip(probs, kept, strict=True))}; "
            f"angles at p={probs[-1]}: {metrics['pentagon']['sparsest_neighbour_angles_deg']}"
        )
        run.save_fig(pentagon_figure(W, probs, kept), "pentagon")

        # 2. phase diagram: two features in one dimension
        k = 3 if smoke else args.phase_grid
        rel, dens = torch.logspace(-1, 1, k), torch.logspace(-2, 0, k)
        R, P = torch.meshgrid(rel, dens, indexing="xy")  # rows: density, columns: importance
        imp = torch.stack([torch.ones(k * k), R.flatten()], 1)
        p = P.flatten()[:, None].expand(-1, 2).contiguous()
        W2, _, _ = train_best(k * k, 2, 1, p, imp, args, gen, phase_steps, args.batch_size // 2,
                              "phase diagram")  # fmt: skip
        regime = two_feature_regime(W2).view(k, k)
        metrics["phase"] = {
            "relative_importance": [round(v, 3) for v in rel.tolist()],
            "density": [round(v, 4) for v in dens.tolist()],
            "regime_grid_rows_density": regime.tolist(),
            "regime_names": {str(c): n for c, n in REGIMES.items()},
            "count": {n: int((regime == c).sum()) for c, n in REGIMES.items()},
            "dense_row_threshold_importance": round(
                rel[(regime[-1] != 0).nonzero()[0, 0]].item() if (regime[-1] != 0).any() else -1.0,
                3,
            ),  # fmt: skip
            "sparsest_row_superposed_fraction": round((regime[0] == 2).float().mean().item(), 3),
        }
        run.print(f"  phase diagram counts {metrics['phase']['count']}")
        run.save_fig(phase_figure(regime, rel, dens), "phase_diagram")

        # 3. dimensionality over sparsity
        nf, dh, ns = (20, 5, 4) if smoke else (args.n_features, args.d_hidden, args.n_sparsities)
        dprobs = torch.logspace(0, -2.5, ns)
        W3, _, _ = train_best(ns, nf, dh, dprobs[:, None].expand(-1, nf).contiguous(), 1.0, args,
                              gen, phase_steps, args.batch_size // 2, "dimensionality",
                              reps=args.dim_replicas)  # fmt: skip
        D = dimensionality(W3)
        kept3 = W3.norm(dim=1) > 0.5
        dims_per_feature = dh / (W3**2).sum((1, 2))
        rows = []
        for i in range(ns):
            d = D[i][kept3[i]]
            near = {n: int(((d - v).abs() < STICKY_TOL).sum()) for n, v in STICKY.items()}
            rows.append({"p": round(dprobs[i].item(), 4), "n_represented": int(kept3[i].sum()),
                         "dims_per_feature": round(dims_per_feature[i].item(), 3),
                         "mean_D_represented": round(d.mean().item(), 3) if len(d) else 0.0,
                         "n_within_0.02_of": near})  # fmt: skip
        metrics["dimensionality"] = {"n_features": nf, "d_hidden": dh, "by_probability": rows}
        within = sum(sum(r["n_within_0.02_of"].values()) for r in rows)
        metrics["dimensionality"]["fraction_of_represented_near_a_sticky_value"] = round(
            within / max(1, int(kept3.sum())), 3)  # fmt: skip
        run.save_fig(
            dimensionality_figure(D, kept3, dprobs, dims_per_feature, nf, dh), "dimensionality"
        )

        # 4. correlated vs anti-correlated pairs, four features in two dimensions
        pc = 0.25
        sets, corr = {}, {}
        for name, pairs in (("correlated", {"n_correlated_pairs": 2}),
                            ("anti-correlated", {"n_anticorrelated_pairs": 2})):  # fmt: skip
            Wc, _, lc = train_best(1, 4, 2, pc, 1.0, args, gen, steps, args.batch_size, name,
                                   **pairs)  # fmt: skip
            sets[f"two {name} pairs, p = {pc}"] = (Wc[0], lc[0].item())
            corr[name] = {**pair_cosines(Wc[0]), "loss": round(lc[0].item(), 5),
                          "norms": [round(v, 3) for v in Wc[0].norm(dim=0).tolist()]}  # fmt: skip
        metrics["correlation"] = {"feature_probability": pc, **corr}
        run.print(f"  correlated {corr['correlated']}; anti-correlated {corr['anti-correlated']}")
        run.save_fig(correlation_figure(sets), "correlation")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
