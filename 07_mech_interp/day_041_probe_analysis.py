"""Day 41 — Probe failure modes: four ways a linear probe scores well for the wrong reason.

Shows, on SmolLM2-135M-Instruct, one number and one figure for each:
1. a spurious feature: train a "truth" probe on cities where every true statement is affirmative
   and every false one negated ("is not in"); test on the anti-confounded statements (false
   affirmatives, true negations). The confound strength ρ runs from 0.5 (none) to 1 (perfect);
   at ρ = 1 we also measure the cosine between the probe and a pure negation direction (negated −
   affirmative, truth balanced), and repeat with a length confound (a neutral clause added to
   every true training statement);
2. control tasks (Hewitt & Liang 2019): first names in four sentence templates; the real task is
   the name's census gender, the control task a random label per name; held-out accuracy of a
   logistic probe on the top-k principal components, for growing k, on a split that shares names
   between train and test and on one that holds out whole names; selectivity = real − control;
3. a randomly initialised twin of the model (same config, seeded init of `arena_core.transformer`):
   the same probes at several depths, on the names (seen and unseen) and on cities truth;
4. distribution shift: a truth probe trained on "The city of X is in Y." and tested on the same
   facts reworded ("X is a city in Y.", "X is located in Y."): accuracy at the trained threshold,
   AUROC, the best threshold on the new data, the shift of the class-mean midpoint, calibration.

Run:  arena run 41 [--smoke] [--publish]   (or python 07_mech_interp/day_041_probe_analysis.py)
Full run (SmolLM2-135M-Instruct, 160 statements per set, 200 names x 4 templates): about 3 min
on 1 thread (171-178 s measured; about 90 s of CPU time). `--model qwen2.5-coder-0.5b-instruct`
runs the same on the larger optional model (SmolLM2 already shows every effect, so the default
stays the small one; if Qwen is not installed the run falls back to SmolLM2 and says so).
Smoke: 40 statements, 24 names, three capacities, two depths for the random model.
The mechanism diagram is a 2-D toy, fitted with the project's `fit_mass_mean`.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.facts import load_dataset
from arena_core.data.facts.templates import in_templates, restate
from arena_core.errors import ArgumentError
from arena_core.models import load_model_for_run
from arena_core.models.random_init import random_twin
from arena_core.probes.activations import extract_activations
from arena_core.probes.confounds import balanced_direction, confound_masks, cosine, mix_confounded
from arena_core.probes.controls import capacity_sweep, control_labels, selectivity, type_split
from arena_core.probes.directions import fit_mass_mean
from arena_core.probes.logistic import fit_logistic
from arena_core.probes.metrics import accuracy, auroc
from arena_core.probes.shift import expected_calibration_error, shift_report
from arena_core.probes.sweeps import train_test_split
from arena_core.utils import DayArgs, Run, run_script

Tensor = torch.Tensor

TEMPLATES = ("I had lunch with {}", "The teacher called on {}", "Yesterday I met {}",
             "This letter is for {}")  # fmt: skip
LONG = "The city of {city}, which has a long history, is in {where}."
PARAPHRASES = {"X is a city in Y.": "{city} is a city in {where}.",
               "X is located in Y.": "{city} is located in {where}."}  # fmt: skip
# The worked example: (truth feature, negation feature) of four training and two test statements.
TOY_TRAIN_TRUE = [[1.0, -2.0], [2.0, -2.0]]  # true and affirmative
TOY_TRAIN_FALSE = [[-1.0, 2.0], [-2.0, 2.0]]  # false and negated
TOY_TEST = {"false, affirmative": [-1.5, -2.0], "true, negated": [1.5, 2.0]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # or "qwen2.5-coder-0.5b-instruct" (optional install)
    n: int = 160  # statements per true/false set (cities, negations), half true
    layer: int = 19  # residual stream after this layer for the truth probes (day 39's best)
    n_names: int = 200  # first names (half male), each in 4 templates
    name_layer: int = 8  # residual layer of the control-task capacity sweep
    ks: str = "1,2,4,8,16,32,64,128,256,576"  # principal components the probe may use
    rhos: str = "0.5,0.6,0.7,0.8,0.9,1.0"  # confound strengths (fraction agreeing with label)
    n_draws: int = 5  # training sets drawn per confound strength (accuracies averaged)
    depths: str = "0,1,3,8,15,22,29"  # residual layers compared with the random model


def unit_rms(x: Tensor, rows: Tensor) -> Tensor:
    """x rescaled so that the training rows' mean squared coordinate is 1 (float64): one scalar, so
    that C = 1 means the same for a trained model (norm ~100) and a random one (norm ~1)."""
    x = x.double()
    return x / x[rows].square().mean().sqrt()


def acc_on(probe, x: Tensor, y: Tensor, rows: Tensor) -> float:
    """Accuracy (4 decimals) of a fitted probe on the given rows."""
    return round(accuracy(probe.scores(x[rows]), y[rows]), 4)


def toy_example() -> dict:
    """The mass-mean probe of the toy, its scores on the two anti-confounded points, and its cosine
    with the negation direction (truth balanced) and with the truth axis."""
    x = torch.tensor(TOY_TRAIN_TRUE + TOY_TRAIN_FALSE)
    y = torch.tensor([1, 1, 0, 0])
    probe = fit_mass_mean(x, y)
    test = torch.tensor(list(TOY_TEST.values()))
    scores = probe.scores(test).tolist()
    neg = torch.tensor([0.0, 1.0])
    return {
        "direction": probe.direction.tolist(),
        "midpoint": probe.midpoint.tolist(),
        "test_points": TOY_TEST,
        "test_scores": dict(zip(TOY_TEST, scores, strict=True)),
        "test_correct": [scores[0] <= 0, scores[1] > 0],
        "cos_with_negation_axis": round(cosine(probe.direction, neg), 4),
        "cos_with_truth_axis": round(cosine(probe.direction, torch.tensor([1.0, 0.0])), 4),
    }


def mechanism_figure(toy: dict) -> Figure:
    fig = Figure(figsize=(8.2, 6))
    ax = fig.add_subplot(1, 1, 1)
    t, f = torch.tensor(TOY_TRAIN_TRUE), torch.tensor(TOY_TRAIN_FALSE)
    ax.axhspan(0, 3.2, color="0.93", zorder=0)
    ax.text(-3.3, 2.85, 'negated statements ("is not in")', fontsize=9, color="0.35")
    ax.text(-3.3, -2.95, 'affirmative statements ("is in")', fontsize=9, color="0.35")
    ax.scatter(t[:, 0], t[:, 1], s=90, color="tab:blue", label="training: true (all affirmative)")
    ax.scatter(f[:, 0], f[:, 1], s=90, color="tab:red", marker="s",
               label="training: false (all negated)")  # fmt: skip
    (name_f, pf), (name_t, pt) = toy["test_points"].items()
    ax.scatter(*pf, s=110, facecolor="none", edgecolor="tab:red", marker="s", lw=2,
               label="test: false but affirmative")  # fmt: skip
    ax.scatter(*pt, s=110, facecolor="none", edgecolor="tab:blue", lw=2,
               label="test: true but negated")  # fmt: skip
    th = toy["direction"]
    ax.annotate("", xy=(th[0] / 2.5, th[1] / 2.5), xytext=(0, 0),
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 2})  # fmt: skip
    ax.text(1.3, -1.25, f"probe direction θ = ({th[0]:g}, {th[1]:g})", fontsize=9.5)
    # the learned boundary θ·x = 0 (midpoint 0) and the boundary we wanted: truth feature = 0
    xs = torch.tensor([-3.2, 3.2])
    ax.plot(xs, xs * th[0] / -th[1], "--", color="0.2", label="learned boundary θ·(x − m) = 0")
    ax.axvline(0, color="tab:green", ls=":", lw=2, label="boundary we wanted: truth = 0")
    s = toy["test_scores"]
    ax.annotate(f"score {s[name_f]:+g} → called true", pf, xytext=(-3.3, -0.5),
                arrowprops={"arrowstyle": "-", "color": "0.5"}, fontsize=9)  # fmt: skip
    ax.annotate(f"score {s[name_t]:+g} → called false", pt, xytext=(0.9, 2.6),
                arrowprops={"arrowstyle": "-", "color": "0.5"}, fontsize=9)  # fmt: skip
    ax.set_xlim(-3.4, 3.4)
    ax.set_ylim(-3.2, 3.2)
    ax.set_aspect("equal")
    ax.set_xlabel("activation along the truth feature (weak)")
    ax.set_ylabel("activation along the negation feature (strong)")
    ax.set_title('Right for the wrong reason: truth and "not" are confounded in training')
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8.5)
    fig.tight_layout()
    return fig


def spurious_figure(rhos, curves, bars) -> Figure:
    fig = Figure(figsize=(12.5, 4.6))
    ax = fig.add_subplot(1, 2, 1)
    names = {"like_training": ("test set drawn like training", "tab:blue"),
             "balanced": ("balanced test set", "0.45"),
             "anti": ("anti-confounded test set", "tab:red")}  # fmt: skip
    for key, (label, colour) in names.items():
        ax.plot(rhos, curves[key], marker="o", label=label, color=colour)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_xlabel("confound strength ρ: fraction of training statements where affirmative = true")
    ax.set_ylabel("held-out accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title('Negation confound: the probe follows "not" as ρ → 1')
    ax.legend(loc="lower left", fontsize=8.5)
    ax = fig.add_subplot(1, 2, 2)
    width = 0.38
    labels = list(bars)
    for j, (key, lab, colour) in enumerate((("like_training", "drawn like training", "tab:blue"),
                                            ("anti", "anti-confounded", "tab:red"))):  # fmt: skip
        vals = [bars[k][f"{key}_accuracy"] for k in labels]
        pos = [i + (j - 0.5) * width for i in range(len(labels))]
        ax.bar(pos, vals, width, label=lab, color=colour)
        for p, v in zip(pos, vals, strict=True):
            ax.text(p, v + 0.02, f"{v:.2f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(labels)), labels)
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Perfect confound (ρ = 1): two surface features")
    ax.legend(loc="upper right", fontsize=8.5)
    fig.tight_layout()
    return fig


def control_figure(ks, sweeps, sel, layer) -> Figure:
    fig = Figure(figsize=(12.5, 4.6))
    for i, (split, title) in enumerate((("seen", "test names also seen in training"),
                                        ("new", "test names never seen in training"))):  # fmt: skip
        ax = fig.add_subplot(1, 2, i + 1)
        ax.plot(ks, [r.test_accuracy for r in sweeps["real", split]], marker="o",
                label="real task: gender of the name")  # fmt: skip
        ax.plot(ks, [r.test_accuracy for r in sweeps["control", split]], marker="s",
                label="control task: random label per name")  # fmt: skip
        if split == "seen":
            ax.plot(ks, sel, marker=".", color="0.4", ls="--", label="selectivity = real − control")
        ax.axhline(0.5, color="0.6", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("probe capacity: principal components k")
        ax.set_ylabel("held-out accuracy" if split == "new" else "held-out accuracy / selectivity")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=8.5)
    fig.suptitle(f"Control task on first names in four templates (residual after layer {layer})")
    fig.tight_layout()
    return fig


def random_figure(labels, table) -> Figure:
    fig = Figure(figsize=(14, 4.4))
    panels = (("names_seen", "name gender, names seen in training"),
              ("names_new", "name gender, unseen names"),
              ("cities", "truth of \"The city of X is in Y.\""))  # fmt: skip
    x = range(len(labels))
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for model, colour in (("trained", "tab:blue"), ("random", "tab:orange")):
            ax.plot(x, table[model][key], marker="o", color=colour, label=f"{model} weights")
            if key == "names_seen":
                ax.plot(x, table[model]["control_seen"], marker="s", ls="--", color=colour,
                        alpha=0.7, label=f"{model}: control task")  # fmt: skip
        ax.axhline(0.5, color="0.6", lw=0.8)
        ax.set_xticks(list(x), labels, rotation=30, ha="right")
        ax.set_xlabel("residual stream after")
        ax.set_ylabel("held-out accuracy")
        ax.set_ylim(0.3, 1.02)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle("The same probes on the trained model and on a randomly initialised twin")
    fig.tight_layout()
    return fig


def shift_figure(hists: dict, reports: dict) -> Figure:
    fig = Figure(figsize=(13.5, 4.2))
    lo = min(float(s.min()) for s, _ in hists.values())
    hi = max(float(s.max()) for s, _ in hists.values())
    bins = torch.linspace(lo, hi, 28).tolist()
    for i, (name, (s, y)) in enumerate(hists.items()):
        ax = fig.add_subplot(1, len(hists), i + 1)
        ax.hist(s[y == 1].tolist(), bins=bins, alpha=0.6, color="tab:blue", label="true")
        ax.hist(s[y == 0].tolist(), bins=bins, alpha=0.6, color="tab:red", label="false")
        ax.axvline(0, color="black", lw=1.5, label="trained threshold")
        r = reports[name]
        ax.set_title(f"{name}\naccuracy {r.accuracy:.2f}, AUROC {r.auroc:.2f}", fontsize=10)
        ax.set_xlabel("mass-mean probe score θ·(x − m)")
        ax.set_ylabel("statements")
        ax.legend(loc="best", fontsize=8)
    fig.suptitle("A truth probe trained on \"The city of X is in Y.\", tested on the same facts "
                 "in three wordings")  # fmt: skip
    fig.tight_layout()
    return fig


def spurious(args, X, y, z, train, test, long_x, long_y, long_z, rhos, metrics, run):
    """Part 1. z = 1 for an affirmative statement, so z == y is the confound. Returns curves."""
    agree_te, _ = confound_masks(y[test], z[test])
    sets = {"like_training": test[agree_te], "anti": test[~agree_te], "balanced": test}
    cells = [int(((y[train] == a) & ((z[train] == y[train]) == b)).sum())
             for a in (0, 1) for b in (False, True)]  # fmt: skip
    n_mix = 2 * min(cells)  # the largest set every ρ can draw
    neg_dir = balanced_direction(X[train], 1 - z[train], y[train])  # negated − affirmative
    curves = {k: [] for k in sets}
    cos_neg = []
    for rho in rhos:
        accs = {k: [] for k in sets}
        coss = []
        for d in range(1 if args.smoke else args.n_draws):
            idx = train[mix_confounded(y[train], z[train], rho, n_mix, seed=args.seed + d)]
            probe = fit_logistic(X[idx], y[idx])
            for k, rows in sets.items():
                accs[k].append(accuracy(probe.scores(X[rows]), y[rows]))
            coss.append(cosine(probe.coef, neg_dir))
        for k in sets:
            curves[k].append(round(sum(accs[k]) / len(accs[k]), 4))
        cos_neg.append(round(sum(coss) / len(coss), 4))
    metrics["spurious_n_train"] = n_mix
    metrics["spurious_rhos"] = rhos
    metrics["spurious_accuracy"] = curves
    metrics["spurious_cos_with_negation_direction"] = cos_neg
    # the perfectly confounded probe, once more, to report its AUROC on the anti-confounded set
    idx = train[mix_confounded(y[train], z[train], 1.0, n_mix, seed=args.seed)]
    probe = fit_logistic(X[idx], y[idx])
    anti = sets["anti"]
    metrics["negation_confound"] = {
        "train_accuracy": acc_on(probe, X, y, idx),
        "like_training_accuracy": acc_on(probe, X, y, sets["like_training"]),
        "anti_accuracy": acc_on(probe, X, y, anti),
        "anti_auroc": round(auroc(probe.scores(X[anti]), y[anti]), 4),
        "cos_with_negation_direction": round(cosine(probe.coef, neg_dir), 4),
    }
    # length: long_z = 1 for the padded wording; the confound is "long = true"
    lt, lte = train_test_split(len(long_y) // 2, seed=args.seed)
    half = len(long_y) // 2
    ltrain, ltest = torch.cat([lt, lt + half]), torch.cat([lte, lte + half])
    agree, _ = confound_masks(long_y[ltrain], long_z[ltrain])
    lprobe = fit_logistic(long_x[ltrain[agree]], long_y[ltrain[agree]])
    a_te, _ = confound_masks(long_y[ltest], long_z[ltest])
    len_dir = balanced_direction(long_x[ltrain], long_z[ltrain], long_y[ltrain])
    metrics["length_confound"] = {
        "n_train": int(agree.sum()),
        "like_training_accuracy": acc_on(lprobe, long_x, long_y, ltest[a_te]),
        "anti_accuracy": acc_on(lprobe, long_x, long_y, ltest[~a_te]),
        "cos_with_length_direction": round(cosine(lprobe.coef, len_dir), 4),
    }
    run.print(f"  negation confound {metrics['negation_confound']}")
    run.print(f"  length confound {metrics['length_confound']}")
    bars = {"negation (\"not\")": metrics["negation_confound"],
            "length (added clause)": metrics["length_confound"]}  # fmt: skip
    return curves, bars


def main(args: Args) -> dict:
    with Run(day=41, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        n = 40 if args.smoke else args.n
        n_names = 24 if args.smoke else args.n_names
        n_layers = model.cfg.n_layers
        layer = args.layer
        if not (0 <= args.layer < n_layers and 0 <= args.name_layer < n_layers):
            raise ArgumentError(f"--layer {args.layer} and --name-layer {args.name_layer} must "
                                f"lie in 0..{n_layers - 1} for {lm.name}")  # fmt: skip
        depths = [0, 3] if args.smoke else [int(d) for d in args.depths.split(",")]
        depths = sorted({min(d, n_layers - 1) for d in depths} | {args.name_layer, layer})
        ks = [1, 4, 16] if args.smoke else [int(k) for k in args.ks.split(",")]
        ks = [k for k in ks if k <= model.cfg.d_model]
        rhos = [0.5, 1.0] if args.smoke else [float(r) for r in args.rhos.split(",")]
        hook = f"blocks.{layer}.hook_resid_post"
        hooks = ["hook_embed"] + [f"blocks.{d}.hook_resid_post" for d in depths]
        metrics.update(layer=layer, n_layers=n_layers, n_per_set=n, n_names=n_names)

        cities = load_dataset("cities", seed=args.seed, n=n)
        negs = load_dataset("negations", seed=args.seed + 1, n=n)  # other cities
        names = in_templates(load_dataset("first_names", seed=args.seed, n=n_names), TEMPLATES)
        worded = {"The city of X is in Y.": cities, "long": restate(cities, LONG)}
        worded |= {k: restate(cities, t) for k, t in PARAPHRASES.items()}
        run.record_source("data", f"cities/negations: {cities.meta['source']}; first names: "
                                  f"{names.meta['source']}")  # fmt: skip
        metrics["examples"] = {"negation": negs.prompts[0], "long": worded["long"].prompts[0],
                               **{k: worded[k].prompts[0] for k in PARAPHRASES},
                               "name": names.prompts[0]}  # fmt: skip

        # one batched extraction per prompt set, every hook at once
        def acts(m, prompts, which, desc):
            return extract_activations(m, prompts, which, batch_size=32, tokenizer=tok, desc=desc)

        statements = [p for ds in (*worded.values(), negs) for p in ds.prompts]
        st = acts(model, statements, hooks, "statements")
        nm = acts(model, names.prompts, hooks, "names")
        twin = random_twin(model, seed=args.seed)
        rnd_st = acts(twin, cities.prompts, hooks, "statements, random model")
        rnd_nm = acts(twin, names.prompts, hooks, "names, random model")
        blocks = {k: slice(i * n, (i + 1) * n) for i, k in enumerate([*worded, "negations"])}

        # 1. spurious features at `layer`
        tr, te = train_test_split(n, seed=args.seed)
        yc, yn = torch.tensor(cities.labels), torch.tensor(negs.labels)
        X = torch.cat([st[hook][blocks["The city of X is in Y."]], st[hook][blocks["negations"]]])
        y = torch.cat([yc, yn])
        z = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(n, dtype=torch.long)])
        train, test = torch.cat([tr, tr + n]), torch.cat([te, te + n])
        X = unit_rms(X, train)
        long_x = torch.cat([st[hook][blocks["The city of X is in Y."]], st[hook][blocks["long"]]])
        long_x = unit_rms(long_x, train)
        long_y = torch.cat([yc, yc])
        long_z = z.flip(0)  # 0 for the short wording, 1 for the long one
        curves, bars = spurious(args, X, y, z, train, test, long_x, long_y, long_z, rhos,
                                metrics, run)  # fmt: skip
        run.save_fig(spurious_figure(rhos, curves, bars), "spurious")

        # 2. control task and selectivity at name_layer (trained model)
        types = [r["type"] for r in names.records]
        y_names = torch.tensor(names.labels)
        ctrl = control_labels(types, seed=args.seed)
        splits = {"seen": train_test_split(len(types), seed=args.seed),
                  "new": type_split(types, seed=args.seed)}  # fmt: skip
        xn = nm[f"blocks.{args.name_layer}.hook_resid_post"]
        sweeps = {}
        for task, labels in (("real", y_names), ("control", ctrl)):
            for split, (a, b) in splits.items():
                rows = capacity_sweep(unit_rms(xn, a), labels, a, b, ks)
                sweeps[task, split] = rows
        sel = selectivity(sweeps["real", "seen"], sweeps["control", "seen"])
        metrics["control_ks"] = ks
        metrics["control_layer"] = args.name_layer
        for (task, split), rows in sweeps.items():
            metrics[f"control_{task}_{split}"] = [round(r.test_accuracy, 4) for r in rows]
        metrics["selectivity_seen"] = [round(s, 4) for s in sel]
        best = max(range(len(ks)), key=lambda i: sel[i])
        metrics["selectivity_best_k"] = ks[best]
        metrics["selectivity_best"] = round(sel[best], 4)
        metrics["selectivity_at_max_k"] = round(sel[-1], 4)
        run.print(f"  selectivity by k {dict(zip(ks, metrics['selectivity_seen'], strict=True))}")
        run.save_fig(control_figure(ks, sweeps, sel, args.name_layer), "control_task")

        # 3. trained vs random weights, every depth: full-width logistic probes (C = 1)
        ctr, cte = train_test_split(n, seed=args.seed)
        table: dict = {}
        for which, (s_acts, n_acts) in (("trained", (st, nm)), ("random", (rnd_st, rnd_nm))):
            rows: dict = {"names_seen": [], "names_new": [], "control_seen": [], "cities": []}
            for h in hooks:
                for key, labels, (a, b) in (("names_seen", y_names, splits["seen"]),
                                            ("names_new", y_names, splits["new"]),
                                            ("control_seen", ctrl, splits["seen"])):  # fmt: skip
                    x = unit_rms(n_acts[h], a)
                    rows[key].append(acc_on(fit_logistic(x[a], labels[a]), x, labels, b))
                xc = unit_rms(s_acts[h][:n], ctr)
                rows["cities"].append(acc_on(fit_logistic(xc[ctr], yc[ctr]), xc, yc, cte))
            table[which] = rows
        depth_labels = ["embedding"] + [f"layer {d}" for d in depths]
        metrics["random_depths"] = depth_labels
        metrics["random_vs_trained"] = table
        run.print(f"  trained {table['trained']}\n  random  {table['random']}")
        run.save_fig(random_figure(depth_labels, table), "random_init")

        # 4. distribution shift: probes trained on the cities wording at `layer`
        base = st[hook][blocks["The city of X is in Y."]].double()
        mm = fit_mass_mean(base[tr], yc[tr])
        scale = base[tr].square().mean().sqrt()
        lg = fit_logistic(base[tr] / scale, yc[tr])
        gap_train = float(mm.scores(base[tr][yc[tr] == 1]).mean()
                          - mm.scores(base[tr][yc[tr] == 0]).mean())  # fmt: skip
        reports, hists, shift = {}, {}, {}
        for name in ["The city of X is in Y.", *PARAPHRASES]:
            xs = st[hook][blocks[name]][te].double()
            s_mm, s_lg = mm.scores(xs), lg.scores(xs / scale)
            r_mm, r_lg = shift_report(s_mm, yc[te]), shift_report(s_lg, yc[te])
            reports[name], hists[name] = r_mm, (s_mm, yc[te])
            shift[name] = {
                "mass_mean": {"accuracy": round(r_mm.accuracy, 4), "auroc": round(r_mm.auroc, 4),
                              "best_threshold_accuracy": round(r_mm.best_accuracy, 4),
                              "midpoint_in_train_gaps": round(r_mm.midpoint / gap_train, 4)},
                "logistic": {"accuracy": round(r_lg.accuracy, 4), "auroc": round(r_lg.auroc, 4),
                             "best_threshold_accuracy": round(r_lg.best_accuracy, 4),
                             "ece": round(expected_calibration_error(torch.sigmoid(s_lg),
                                                                     yc[te]), 4)},
            }  # fmt: skip
        metrics["shift"] = shift
        metrics["shift_n_test"] = len(te)
        metrics["shift_gap_train"] = round(gap_train, 4)
        run.print(f"  shift {shift}")
        run.save_fig(shift_figure(hists, reports), "shift")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
