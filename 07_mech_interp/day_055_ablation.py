"""Day 55 — Validating the IOI circuit by mean-ablation: is the circuit enough, and all needed?

Shows, on SmolLM2-135M-Instruct and fresh IOI prompts (a different seed from day 54's):
1. faithfulness: every head outside the circuit (and every circuit head outside the positions
   where it acts) is replaced by its mean over the abc prompts, per template position; the
   fraction of the logit difference the circuit keeps, F(C) / F(M), next to the same circuit at
   all positions, nothing at all, and random circuits of the same size and position pattern;
2. knock-out of each role class from the whole model, F(M \\ K);
3. completeness: F(C \\ K) against F(M \\ K) for each role class and random halves of the circuit;
4. minimality: for each head v, the larger |F(C \\ K) − F(C \\ (K ∪ {v}))| of K = {} and
   K = the rest of v's role.
The circuit is day 54's: read from `blog_posts/figures/day_054/metrics.json` (the published
table, derived there by `arena_core.interp.ioi_circuit.derive_ioi_circuit`); when that file is
missing (or names another model), the same function derives it here with day 54's settings.

Run:  arena run 55 [--smoke] [--publish]   (or python 07_mech_interp/day_055_ablation.py)
Full run (96 prompts, about 90 ablated forward passes), 1 thread: measured 25 min wall on 2
cores shared with other jobs, about 7.5 min of CPU time; it included deriving the circuit
(~2.5 min CPU), which a run that finds day 54's published table skips.
Smoke: 8 prompts, two role classes; the circuit derived on the spot when day 54's is not
published.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from arena_core import REPO_ROOT
from arena_core.data.ioi import corrupt, ioi_dataset, ioi_names
from arena_core.interp.circuit_eval import (
    circuit_from_roles,
    circuit_logit_diff,
    completeness,
    minimality,
    random_subsets,
    reference_means,
)
from arena_core.interp.ioi import TemplateBatch, template_batches
from arena_core.interp.ioi_circuit import ROLE_POSITIONS, ROLES, derive_ioi_circuit
from arena_core.models import load_model
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

DAY54 = REPO_ROOT / "blog_posts" / "figures" / "day_054" / "metrics.json"
# Pencil example: one head's z (1-d here) at one position over three abc prompts, and F values.
TOY = {"abc_z": [1.0, 2.0, 4.5], "F_M": 4.0, "F_C": 3.4}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the model of days 52–58
    n: int = 96  # fresh IOI prompts (8 templates x 2 orders x 6)
    prompt_seed_offset: int = 1  # prompts use seed + this (day 54 found the circuit on seed)
    n_random: int = 3  # random circuits and random subsets K
    circuit_file: str = str(DAY54)  # day 54's published metrics (the circuit table)


def toy_example() -> dict:
    z = torch.tensor(TOY["abc_z"])
    return {**TOY, "mean_z": float(z.mean()), "faithfulness": TOY["F_C"] / TOY["F_M"]}


def load_circuit(args: Args, model, tok, run: Run) -> tuple[dict, str]:
    """Day 54's published role table, or the same derivation run here (module docstring)."""
    try:
        rec = json.loads(Path(args.circuit_file).read_text())
        if rec["args"]["model"] != args.model or rec["smoke"]:
            raise ValueError(f"day 54's table is for {rec['args']['model']}"
                             f"{' (smoke run)' if rec['smoke'] else ''}")  # fmt: skip
        roles = {r: [tuple(h) for h in rec["metrics"]["circuit"][r]] for r in ROLES}
        return roles, f"day 54 published table ({args.circuit_file})"
    except (OSError, KeyError, ValueError) as err:
        run.print(f"  day 54's circuit not available ({err}); deriving it with day 54's rules")
    n, n_exact, n_names = (8, 1, 8) if args.smoke else (120, 16, 40)
    data = ioi_dataset(tok, n, seed=args.seed)
    abc = corrupt(tok, data, "abc", seed=args.seed)
    cb, ab = template_batches(data), template_batches(abc)
    first = [_first(b) for b in cb][:n_exact], [_first(a) for a in ab][:n_exact]
    names = torch.tensor([tok.encode(" " + w, add_special_tokens=False)[0]
                          for w in ioi_names(tok, n_names)])  # fmt: skip
    roles, _ = derive_ioi_circuit(model, cb, ab, names, path_batches=first)
    return roles, "derived here by derive_ioi_circuit (day 54's settings)"


def _first(b: TemplateBatch) -> TemplateBatch:
    return TemplateBatch(b.idx[:1], b.tokens[:1], b.positions, b.io_ids[:1], b.s_ids[:1])


def random_circuit(circuit: dict, n_layers: int, n_heads: int, seed: int) -> dict:
    """As many random heads as the circuit has, each given the position classes of one circuit
    head (same size and position pattern, different heads)."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(n_layers * n_heads, generator=g)[: len(circuit)]
    return {(int(i) // n_heads, int(i) % n_heads): w for i, w in zip(pick, circuit.values(),
                                                                     strict=True)}  # fmt: skip


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(13.0, 6.0, scale=0.7)
    box(ax, (0.3, 3.6), "abc prompts\n(same template,\nthree new names)", 3.0, 1.6, "input")
    box(ax, (0.3, 0.8), "IOI prompt", 3.0, 1.2, "input")
    box(ax, (4.4, 3.6), "mean z of every head\nper position\n"
        f"e.g. ({', '.join(f'{v:g}' for v in toy['abc_z'])})/3 = {toy['mean_z']:g}",
        3.6, 1.6, "param")  # fmt: skip
    box(ax, (4.4, 0.6), "model run:\ncircuit heads keep their z\n(at their positions);\n"
        "all others get the mean", 3.6, 1.8, "op")  # fmt: skip
    box(ax, (9.0, 0.6), f"F(C) = {toy['F_C']:g}\nF(M) = {toy['F_M']:g}  (no ablation)\n"
        f"faithfulness = {toy['faithfulness']:.2f}", 3.6, 1.8, "output")  # fmt: skip
    arrow(ax, (3.3, 4.4), (4.4, 4.4))
    arrow(ax, (3.3, 1.4), (4.4, 1.4))
    arrow(ax, (6.2, 3.6), (6.2, 2.4), text="replace")
    arrow(ax, (8.0, 1.5), (9.0, 1.5), text="LD")
    label(ax, (6.5, 5.7), "Mean-ablation: run only the circuit, measure what it keeps",
          fontsize=12)  # fmt: skip
    finish(ax)
    return fig


def bar_figure(items: list[tuple[str, float]], f_m: float | None, title: str, ylabel: str
               ) -> Figure:  # fmt: skip
    fig = Figure(figsize=(max(7.0, 0.75 * len(items) + 2), 4.8))
    ax = fig.add_subplot(1, 1, 1)
    names, vals = zip(*items, strict=True)
    ax.bar(range(len(vals)), vals, color=["tab:blue" if v >= 0 else "tab:red" for v in vals])
    if f_m is not None:
        ax.axhline(f_m, color="black", lw=0.8, ls="--", label=f"whole model F(M) = {f_m:.2f}")
        ax.legend(loc="best", fontsize=8)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_xticks(range(len(vals)), names, rotation=35, ha="right", fontsize=8.5)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def completeness_figure(comp: dict) -> Figure:
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    xs = [v["F_M_minus_K"] for v in comp.values()]
    ys = [v["F_C_minus_K"] for v in comp.values()]
    ax.scatter(xs, ys, color=["tab:orange" if k.startswith("random") else "tab:blue"
                              for k in comp])  # fmt: skip
    for k, x, y in zip(comp, xs, ys, strict=True):
        ax.annotate(k, (x, y), fontsize=7.5, xytext=(3, 3), textcoords="offset points")
    lo, hi = min(xs + ys) - 0.3, max(xs + ys) + 0.3
    ax.plot([lo, hi], [lo, hi], color="0.5", ls="--", lw=0.8, label="complete: y = x")
    ax.set_xlabel("F(M \\ K): whole model without K (logits)")
    ax.set_ylabel("F(C \\ K): circuit without K (logits)")
    ax.set_title("Completeness (blue: role classes, orange: random halves)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=55, args=args) as run:
        lm = load_model(args.model, device=run.device)
        run.record_source("model", lm.source)
        model, tok = lm.model.eval(), lm.tokenizer
        roles, source = load_circuit(args, model, tok, run)
        run.record_source("circuit", source)
        n = 8 if args.smoke else args.n
        n_random = 1 if args.smoke else args.n_random
        data = ioi_dataset(tok, n, seed=args.seed + args.prompt_seed_offset)
        abc = corrupt(tok, data, "abc", seed=args.seed + args.prompt_seed_offset)
        cb, ab = template_batches(data), template_batches(abc)
        means = reference_means(model, cb, ab)
        circuit = circuit_from_roles(roles, ROLE_POSITIONS)
        all_pos = circuit_from_roles(roles)
        L, H = model.cfg.n_layers, model.cfg.n_heads

        def F(c):  # noqa: N802 — the paper's F
            return circuit_logit_diff(model, cb, means, c, last_only=True)

        f = {"model": F(None), "circuit": F(circuit), "circuit_all_positions": F(all_pos),
             "nothing": F({})}  # fmt: skip
        rand = [F(random_circuit(circuit, L, H, seed=args.seed + i)) for i in range(n_random)]
        metrics: dict = {"toy_example": toy_example(), "n_prompts": n, "circuit_source": source,
                         "circuit": {r: [list(h) for h in hs] for r, hs in roles.items()},
                         "circuit_size": len(circuit), "F": {k: round(v, 4) for k, v in f.items()},
                         "F_random_circuits": [round(v, 4) for v in rand]}  # fmt: skip
        metrics["faithfulness"] = round(f["circuit"] / f["model"], 4)
        metrics["faithfulness_all_positions"] = round(f["circuit_all_positions"] / f["model"], 4)
        metrics["faithfulness_nothing"] = round(f["nothing"] / f["model"], 4)
        metrics["faithfulness_random_mean"] = round(sum(rand) / len(rand) / f["model"], 4)
        run.print(f"  F(M) {f['model']:.3f}, F(C) {f['circuit']:.3f} -> faithfulness "
                  f"{metrics['faithfulness']:.3f}; all positions {f['circuit_all_positions']:.3f};"
                  f" nothing {f['nothing']:.3f}; random {[round(v, 2) for v in rand]}")  # fmt: skip

        classes = {r: hs for r, hs in roles.items() if hs}
        if args.smoke:  # two role classes and their first heads only
            classes = dict(list(classes.items())[:2])
        subsets = {**classes, **random_subsets(circuit, n_random, seed=args.seed)}
        comp = completeness(model, cb, means, circuit, subsets, last_only=True)
        metrics["completeness"] = {k: {a: round(b, 4) for a, b in v.items()}
                                   for k, v in comp.items()}  # fmt: skip
        metrics["knockout_F_M_minus_role"] = {r: round(comp[r]["F_M_minus_K"], 4) for r in classes}
        metrics["completeness_max_gap_roles"] = round(max(comp[r]["gap"] for r in classes), 4)
        cands = {tuple(h): {"none": [], "rest of role": hs} for r, hs in classes.items()
                 for h in hs}  # fmt: skip
        mini = minimality(model, cb, means, circuit, cands, last_only=True)
        role_of = {tuple(h): r for r, hs in classes.items() for h in hs}
        metrics["minimality"] = {f"{v[0]}.{v[1]}": {"role": role_of[v], "K": m["K"],
                                                     "drop": round(m["drop"], 4)}
                                 for v, m in mini.items()}  # fmt: skip
        drops = torch.tensor([abs(m["drop"]) for m in mini.values()])
        metrics["minimality_heads_below_1pct_of_F_M"] = int((drops < 0.01 * f["model"]).sum())

        run.save_fig(mechanism_figure(metrics["toy_example"]), "mechanism")
        items = [
            ("whole model", f["model"]),
            ("circuit\n(its positions)", f["circuit"]),
            ("circuit\n(all positions)", f["circuit_all_positions"]),
        ]
        items += [(f"random circuit {i + 1}", v) for i, v in enumerate(rand)]
        items += [("nothing\n(all heads mean)", f["nothing"])]
        run.save_fig(bar_figure(items, f["model"], "Faithfulness: logit difference kept",
                                "F = mean logit[IO] − logit[S]"), "faithfulness")  # fmt: skip
        ko = [(r, comp[r]["F_M_minus_K"]) for r in classes]
        run.save_fig(bar_figure(ko, f["model"], "Knock-out: the whole model without one role",
                                "F(M \\ role) (logits)"), "knockout")  # fmt: skip
        run.save_fig(completeness_figure(comp), "completeness")
        mi = [(f"{v[0]}.{v[1]} {role_of[v]}", m["drop"]) for v, m in mini.items()]
        title = "Minimality: drop when each head is removed (best K)"
        ylabel = "F(C \\ K) − F(C \\ (K ∪ {v})) (logits)"
        run.save_fig(bar_figure(mi, None, title, ylabel), "minimality")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
