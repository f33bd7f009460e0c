"""Day 39 — Probing theory: the geometry of truth (Marks & Tegmark 2023) on a small model.

Shows:
1. a layer sweep on `cities` ("The city of X is in Y."): residual stream after every layer at the
   statement's last token; held-out accuracy and AUROC of a logistic probe, a mass-mean probe and
   a covariance-corrected mass-mean probe; the best layer is the mass-mean probe's best AUROC;
2. a generalisation matrix at that layer across five true/false datasets (train on A, test on B);
3. a PCA picture of that layer, cities and their negations coloured by truth;
4. a causal check: add α times the mass-mean truth direction (its length is the distance between
   the class means, so α is in those units) at that layer, from the statement's last token on, to
   "<statement> This statement is" and measure the change in logit(" True") − logit(" False"),
   against random directions of the same length (several seeds).

Run:  arena run 39 [--smoke] [--publish]   (or python 07_mech_interp/day_039_probes_theory.py)
Full run (SmolLM2-135M-Instruct, 160 statements per dataset): about 3 min on 2 cores, 1 thread.
`--model qwen2.5-coder-0.5b-instruct` runs the same on the larger optional model.
Smoke: SmolLM2 with 24 statements per dataset, every fourth layer, one random seed.
The mechanism diagram is a 2-D toy probe computed with the project's `fit_mass_mean`.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.models import load_model
from arena_core.probes.activation_addition import steered_logit_gap
from arena_core.probes.activations import extract_activations, tokenize
from arena_core.probes.directions import fit_mass_mean
from arena_core.probes.pca import fit_pca
from arena_core.probes.sweeps import (
    generalisation_matrix,
    layer_sweep,
    plot_generalisation_matrix,
    train_test_split,
)
from arena_core.utils import DayArgs, Run, run_script

DATASETS = ("cities", "negations", "capitals", "larger_than", "antonyms_tf")
PROBES = {
    "logistic": "logistic",
    "mass_mean": "mass-mean",
    "mass_mean_iid": "mass-mean + covariance",
}
SUFFIX = " This statement is"

# The worked example of the post: three true and three false points in a 2-D "residual stream".
TOY_TRUE = [[2.0, 3.0], [3.0, 2.0], [4.0, 4.0]]
TOY_FALSE = [[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]
TOY_QUERY = [2.0, 1.0]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    n: int = 160  # statements per dataset (half true; capitals has 160)
    alphas: str = "-4,-2,-1,1,2,4"  # steering strengths, in units of the mean gap
    n_random: int = 5  # random directions of the same length (control)
    n_steer: int = 50  # held-out cities statements steered


def toy_probe() -> dict:
    """The mass-mean probe of the toy clouds, fitted by the project's `fit_mass_mean`."""
    x = torch.tensor(TOY_TRUE + TOY_FALSE)
    y = torch.tensor([1, 1, 1, 0, 0, 0])
    probe = fit_mass_mean(x, y)
    score = probe.scores(torch.tensor([TOY_QUERY]))[0].item()
    return {
        "mean_true": x[:3].mean(0).tolist(),
        "mean_false": x[3:].mean(0).tolist(),
        "direction": probe.direction.tolist(),
        "midpoint": probe.midpoint.tolist(),
        "query": TOY_QUERY,
        "query_score": score,
        "query_predicted_true": score > 0,
    }


def mechanism_figure(toy: dict) -> Figure:
    """Two clouds, their means, θ = μ₊ − μ₋, and the boundary through the midpoint, ⟂ θ."""
    fig = Figure(figsize=(7.5, 6))
    ax = fig.add_subplot(1, 1, 1)
    t, f = torch.tensor(TOY_TRUE), torch.tensor(TOY_FALSE)
    ax.scatter(t[:, 0], t[:, 1], s=70, color="tab:blue", label="true statements")
    ax.scatter(f[:, 0], f[:, 1], s=70, color="tab:red", marker="s", label="false statements")
    mt, mf, mid = toy["mean_true"], toy["mean_false"], toy["midpoint"]
    th = toy["direction"]
    ax.scatter(*mt, s=220, color="tab:blue", marker="*", zorder=3)
    ax.scatter(*mf, s=220, color="tab:red", marker="*", zorder=3)
    ax.annotate(f"μ₊ = ({mt[0]:g}, {mt[1]:g})", mt, xytext=(8, 6), textcoords="offset points")
    ax.annotate(f"μ₋ = ({mf[0]:g}, {mf[1]:g})", mf, xytext=(8, -14), textcoords="offset points")
    ax.annotate("", xy=mt, xytext=mf,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.8})  # fmt: skip
    on_arrow = (mid[0] + 0.7, mid[1] + 0.7 * th[1] / th[0])
    ax.annotate(f"θ = μ₊ − μ₋ = ({th[0]:g}, {th[1]:g})", on_arrow,
                xytext=(3.5, 1.25), arrowprops={"arrowstyle": "-", "color": "0.5"})  # fmt: skip
    # boundary: points x with θ·(x − midpoint) = 0, a line perpendicular to θ
    d = torch.tensor([-th[1], th[0]]) / torch.tensor(th).norm()
    ends = [[mid[0] + s * d[0].item(), mid[1] + s * d[1].item()] for s in (-2.3, 2.2)]
    ax.plot([e[0] for e in ends], [e[1] for e in ends], "--", color="0.4",
            label="decision boundary: θ·(x − m) = 0")  # fmt: skip
    ax.scatter(*mid, s=40, color="black", zorder=3)
    ax.annotate(f"m = ({mid[0]:g}, {mid[1]:g})", mid, xytext=(8, -4), textcoords="offset points")
    q = toy["query"]
    ax.scatter(*q, s=90, facecolor="none", edgecolor="black", lw=1.5, zorder=3)
    text = f"new point x = ({q[0]:g}, {q[1]:g}):\nθ·(x − m) = {toy['query_score']:+g} → false"
    ax.annotate(text,
                q, xytext=(3.3, -1.0), arrowprops={"arrowstyle": "-", "color": "0.5"})  # fmt: skip
    ax.set_xlim(-2.5, 7.5)
    ax.set_ylim(-1.5, 5.5)
    ax.set_aspect("equal")
    ax.set_xlabel("activation coordinate 1")
    ax.set_ylabel("activation coordinate 2")
    ax.set_title("A mass-mean probe: the direction between the two class means")
    ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


def sweep_figure(sweeps: dict, labels: list[str], best: int, model_name: str) -> Figure:
    fig = Figure(figsize=(12, 4.4))
    for i, metric in enumerate(("test_accuracy", "test_auroc")):
        ax = fig.add_subplot(1, 2, i + 1)
        for kind, rows in sweeps.items():
            ax.plot(range(len(rows)), [getattr(r, metric) for r in rows], marker="o", ms=3,
                    label=PROBES[kind])  # fmt: skip
        ax.axvline(best, color="0.6", ls=":", lw=1)
        ax.axhline(0.5, color="0.6", lw=0.8)
        step = max(1, len(labels) // 10)
        ax.set_xticks(range(0, len(labels), step), labels[::step])
        ax.set_xlabel("residual stream after layer")
        ax.set_ylabel("held-out " + ("accuracy" if metric == "test_accuracy" else "AUROC"))
        ax.set_ylim(0.3, 1.02)
        ax.legend(loc="lower right", fontsize=8.5)
    fig.suptitle(f"Where is truth linearly readable? cities, last token, {model_name}")
    fig.tight_layout()
    return fig


def genmat_figure(names: list[str], mats: dict, layer: str) -> Figure:
    fig = Figure(figsize=(13, 5.4))
    for i, (kind, m) in enumerate(mats.items()):
        ax = fig.add_subplot(1, len(mats), i + 1)
        plot_generalisation_matrix(names, m, ax=ax, metric="held-out accuracy", vmin=0.0)
        ax.set_title(f"{PROBES[kind]} probe")
        ax.grid(False)
    fig.suptitle(f"Train on one dataset, test on another (residual after layer {layer})")
    fig.tight_layout()
    return fig


def pca_figure(proj: dict, ratio: list[float], layer: str) -> Figure:
    fig = Figure(figsize=(7, 5.5))
    ax = fig.add_subplot(1, 1, 1)
    styles = {"cities": "o", "negations": "^"}
    for name, (xy, y) in proj.items():
        for lab, colour, word in ((1, "tab:blue", "true"), (0, "tab:red", "false")):
            sel = y == lab
            ax.scatter(xy[sel, 0], xy[sel, 1], s=14, alpha=0.6, color=colour,
                       marker=styles[name], label=f"{name}: {word}")  # fmt: skip
    ax.set_xlabel(f"PC 1 ({100 * ratio[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC 2 ({100 * ratio[1]:.1f}% of variance)")
    ax.set_title(f"Top two principal components of cities, residual after layer {layer}")
    ax.legend(loc="best", fontsize=8.5)
    fig.tight_layout()
    return fig


def steer_figure(alphas: list[float], truth: list[float], rand: list[list[float]]) -> Figure:
    fig = Figure(figsize=(7, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(alphas, truth, marker="o", color="black", label="truth direction (mass-mean)")
    for i, r in enumerate(rand):
        ax.plot(alphas, r, marker=".", color="tab:gray", alpha=0.6,
                label="random directions, same length" if i == 0 else None)  # fmt: skip
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("α: added vector = α × (mean of true − mean of false)")
    ax.set_ylabel("change in logit(' True') − logit(' False')")
    ax.set_title("Does pushing along the truth direction change the answer?")
    ax.legend(loc="best", fontsize=8.5)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=39, args=args) as run:
        metrics: dict = {}
        toy = toy_probe()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        n = 24 if args.smoke else args.n
        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source("model", lm.source)
        if lm.provenance:
            metrics["model_provenance"] = lm.provenance
        data = {name: load_dataset(name, seed=args.seed, n=n) for name in DATASETS}
        run.record_source("data", "; ".join(f"{k}: {v.meta.get('source', 'own list')}"
                                            for k, v in data.items()))  # fmt: skip
        n_layers = model.cfg.n_layers
        layers = list(range(0, n_layers, 4)) if args.smoke else list(range(n_layers))
        hooks = [f"blocks.{i}.hook_resid_post" for i in layers]
        labels = [str(i) for i in layers]

        # 1. layer sweep on cities
        acts = extract_activations(model, data["cities"].prompts, hooks, position="last",
                                   batch_size=16, desc="cities")  # fmt: skip
        y = torch.tensor(data["cities"].labels)
        sweeps = {
            kind: layer_sweep(
                {lab: acts[h] for lab, h in zip(labels, hooks, strict=True)},
                y,
                probe=kind,
                seed=args.seed,
            )  # fmt: skip
            for kind in PROBES
        }
        best_i = max(range(len(layers)), key=lambda i: sweeps["mass_mean"][i].test_auroc)
        best, best_hook = labels[best_i], hooks[best_i]
        metrics["best_layer"] = int(best)
        metrics["n_layers"] = n_layers
        metrics["n_per_dataset"] = n
        metrics["sweep"] = {
            kind: {r.layer: {"train_acc": round(r.train_accuracy, 4),
                             "test_acc": round(r.test_accuracy, 4),
                             "test_auroc": round(r.test_auroc, 4)} for r in rows}
            for kind, rows in sweeps.items()
        }  # fmt: skip
        for kind, rows in sweeps.items():
            top = max(rows, key=lambda r: r.test_auroc)
            metrics[f"{kind}_best_auroc"] = round(top.test_auroc, 4)
            metrics[f"{kind}_best_auroc_layer"] = int(top.layer)
            metrics[f"{kind}_at_best_layer"] = {
                "test_acc": round(rows[best_i].test_accuracy, 4),
                "test_auroc": round(rows[best_i].test_auroc, 4),
            }
        run.print(f"  best layer (mass-mean AUROC): {best}; " + ", ".join(
            f"{k} {metrics[f'{k}_at_best_layer']}" for k in PROBES))  # fmt: skip
        run.save_fig(sweep_figure(sweeps, labels, best_i, lm.name), "layer_sweep")

        # 2. generalisation matrix at the best layer
        sets = {"cities": (acts[best_hook], y)}
        for name in DATASETS[1:]:
            a = extract_activations(model, data[name].prompts, best_hook, position="last",
                                    batch_size=16, desc=name)[best_hook]  # fmt: skip
            sets[name] = (a, torch.tensor(data[name].labels))
        mats = {}
        for kind in ("logistic", "mass_mean"):
            names, m = generalisation_matrix(sets, probe=kind, metric="accuracy", seed=args.seed)
            mats[kind] = m
            metrics[f"generalisation_{kind}"] = {
                a: {b: round(m[i, j].item(), 4) for j, b in enumerate(names)}
                for i, a in enumerate(names)
            }
            off = m[~torch.eye(len(names), dtype=torch.bool)]
            metrics[f"generalisation_{kind}_mean_diagonal"] = round(m.diag().mean().item(), 4)
            metrics[f"generalisation_{kind}_mean_off_diagonal"] = round(off.mean().item(), 4)
        run.save_fig(genmat_figure(names, mats, best), "generalisation")

        # 3. PCA of cities at the best layer, negations projected into the same plane
        pca = fit_pca(sets["cities"][0], n_components=2)
        proj = {k: (pca.transform(sets[k][0]), sets[k][1]) for k in ("cities", "negations")}
        ratio = pca.explained_variance_ratio.tolist()
        metrics["pca_explained_variance_ratio"] = [round(r, 4) for r in ratio]
        mm = fit_mass_mean(*sets["cities"])
        cos = torch.nn.functional.cosine_similarity(pca.components, mm.direction[None].double())
        metrics["pca_cosine_with_mass_mean"] = [round(c, 4) for c in cos.tolist()]
        run.save_fig(pca_figure(proj, ratio, best), "pca")

        # 4. causal check: steer along the mass-mean direction fitted on the cities train split
        train, test = train_test_split(len(y), seed=args.seed)
        probe = fit_mass_mean(sets["cities"][0][train], y[train])
        vec = probe.direction.float()
        metrics["mean_gap_norm"] = round(vec.norm().item(), 4)
        t_id, f_id = tok(" True").input_ids[-1], tok(" False").input_ids[-1]
        steer_idx = test[: (8 if args.smoke else args.n_steer)].tolist()
        prompts = [data["cities"].prompts[i] for i in steer_idx]
        base_rows = tokenize(tok, prompts)
        rows = tokenize(tok, [p + SUFFIX for p in prompts])
        assert all(r[: len(b)] == b for r, b in zip(rows, base_rows, strict=True)), "suffix split"
        starts = [len(b) - 1 for b in base_rows]  # the statement's last token, where we probed
        steer_y = y[steer_idx].double()
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        answers = (t_id, f_id)

        def gap(direction=None, alpha=0.0):  # one batched forward over the steered prompts
            return steered_logit_gap(model, rows, starts, answers, pad, best_hook, direction, alpha)

        gap0 = gap()
        metrics["unsteered_gap_true_statements"] = round(gap0[steer_y == 1].mean().item(), 4)
        metrics["unsteered_gap_false_statements"] = round(gap0[steer_y == 0].mean().item(), 4)
        alphas = [float(a) for a in args.alphas.split(",")] if not args.smoke else [-2.0, 2.0]
        gen = torch.Generator().manual_seed(args.seed)
        rand_vecs = []
        for _ in range(1 if args.smoke else args.n_random):
            r = torch.randn(vec.shape, generator=gen)
            rand_vecs.append(r / r.norm() * vec.norm())
        truth_curve, rand_curves = [], [[] for _ in rand_vecs]
        for alpha in alphas:
            d = gap(vec, alpha) - gap0
            truth_curve.append(round(d.mean().item(), 4))
            for k, r in enumerate(rand_vecs):
                dr = gap(r, alpha) - gap0
                rand_curves[k].append(round(dr.mean().item(), 4))
        metrics["steer_alphas"] = alphas
        metrics["steer_truth_delta"] = truth_curve
        metrics["steer_random_delta"] = rand_curves
        rand_abs = torch.tensor(rand_curves).abs()
        metrics["steer_random_max_abs_delta"] = round(rand_abs.max().item(), 4)
        metrics["steer_truth_delta_at_max_alpha"] = truth_curve[-1]
        metrics["steer_n_prompts"] = len(rows)
        metrics["steer_prompt_example"] = prompts[0] + SUFFIX
        run.print(f"  steering Δgap truth {truth_curve}; random max |Δ| "
                  f"{metrics['steer_random_max_abs_delta']}")  # fmt: skip
        run.save_fig(steer_figure(alphas, truth_curve, rand_curves), "steering")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
