"""Day 54 — Circuit discovery: which heads of SmolLM2 do indirect object identification?

Shows, on SmolLM2-135M-Instruct and IOI prompts (all 8 templates, both orders; corrupted run =
"abc" prompts with three fresh names):
1. residual patching: the residual stream at layer l and position class (IO, S1, S1+1, S2, END)
   copied from the clean run into the abc run; where the answer lives, layer by layer;
2. head patching, all positions and per position class, by attribution patching (one
   forward + backward per batch) on every prompt, and by exact patching on a subset, with the
   agreement of the two (scatter and Pearson r);
3. head roles with their evidence: END/S2 attention patterns, copy scores, direct logit
   attribution, and path patching into the name movers' queries (S-inhibition);
4. the circuit found: a role table derived by `arena_core.interp.ioi_circuit.derive_ioi_circuit`
   (day 55 evaluates the same table), written into metrics.json.

Run:  arena run 54 [--smoke] [--publish]   (or python 07_mech_interp/day_054_circuit_map.py)
Full run (120 prompts, exact patching and path patching on 16), 1 thread: measured 24 min wall
on 2 cores shared with other jobs, about 6 min of CPU time (so roughly 6–8 min on an idle core).
Smoke: 8 prompts, exact scans from layer 20 on, 1 prompt for exact and path patching.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import corrupt, ioi_dataset, ioi_names
from arena_core.interp.attribution_patching import pearson
from arena_core.interp.ioi import TemplateBatch, template_batches
from arena_core.interp.ioi_circuit import ROLE_POSITIONS, ROLES, derive_ioi_circuit, mean_ld
from arena_core.interp.ioi_patching import (
    CLASSES,
    attribution_maps,
    exact_head_map,
    exact_resid_map,
)
from arena_core.models import load_model
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

PRETTY = {"smollm2-135m": "SmolLM2-135M-Instruct"}
CLASS_WORDS = {"IO": "IO", "S1": "S1", "S1+1": "S1+1", "S2": "S2", "end": "END"}
# Pencil example of the post: gradient at the corrupted run and clean − corrupted activation.
TOY = {"grad": [0.5, -1.0, 2.0], "delta": [1.0, 0.5, -0.25]}


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the model of days 52–58
    n: int = 120  # IOI prompts for attribution maps and head evidence (8 templates x 2 orders)
    n_exact: int = 16  # prompts (one per template and order) for exact and path patching
    n_names: int = 40  # names for the copy scores
    exact_from_layer: int = 0  # exact head patching from this layer on (smoke: later layers)


def toy_example() -> dict:
    g, d = torch.tensor(TOY["grad"]), torch.tensor(TOY["delta"])
    return {**TOY, "products": (g * d).tolist(), "estimate": float(g @ d)}


def heads_str(heads) -> str:
    return ", ".join(f"{layer}.{h}" for layer, h in heads) or "—"


def mechanism_figure(roles: dict, model_name: str) -> Figure:
    """The circuit found, as boxes per role at the positions where they act."""
    fig, ax = canvas(14.0, 7.2, scale=0.7)
    col = {"S1+1": 0.3, "S2": 4.0, "end": 8.2}
    label(ax, (col["S1+1"] + 1.6, 6.7), "at S1+1", fontsize=11, fontweight="bold")
    label(ax, (col["S2"] + 1.6, 6.7), "at S2", fontsize=11, fontweight="bold")
    label(ax, (col["end"] + 2.6, 6.7), "at END", fontsize=11, fontweight="bold")
    r = {k: heads_str(v) for k, v in roles.items()}
    box(ax, (col["S1+1"], 4.6), f"previous-token\n{r['previous-token']}", 3.2, 1.3, "input")
    box(ax, (col["S2"], 5.0), f"duplicate-token\n{r['duplicate-token']}", 3.2, 1.2, "input")
    box(ax, (col["S2"], 3.3), f"induction\n{r['induction']}", 3.2, 1.2, "input")
    box(ax, (col["end"], 4.6), f"S-inhibition\n{r['S-inhibition']}", 3.2, 1.3, "highlight")
    box(ax, (col["end"] + 3.6, 5.2), f"name movers\n{r['name mover']}", 3.4, 1.2, "output")
    box(ax, (col["end"] + 3.6, 3.7), f"S suppressors\n{r['S suppressor']}", 3.4, 1.2, "output")
    box(ax, (col["end"] + 3.6, 2.2), f"negative name movers\n{r['negative name mover']}", 3.4,
        1.2, "param")  # fmt: skip
    box(ax, (col["end"] + 3.6, 0.7), f"other direct heads\n{r['other direct']}", 3.4, 1.2,
        "param")  # fmt: skip
    arrow(ax, (col["S1+1"] + 3.2, 5.1), (col["S2"], 3.9), text="K of induction")
    arrow(ax, (col["S2"] + 3.2, 5.6), (col["end"], 5.4), text="'S is repeated'")
    arrow(ax, (col["S2"] + 3.2, 3.9), (col["end"], 4.9))
    arrow(ax, (col["end"] + 3.2, 5.3), (col["end"] + 3.6, 5.7), text="Q")
    arrow(ax, (col["end"] + 3.2, 5.0), (col["end"] + 3.6, 4.3))
    label(ax, (col["end"] + 8.0, 3.5), "→ logits:\nIO up,\nS down", fontsize=10)
    ax.text(7.0, 7.5, f"The IOI circuit found in {model_name} (layer.head)", ha="center",
            fontsize=12)  # fmt: skip
    finish(ax)
    return fig


def grid_figure(panels: list[tuple[str, torch.Tensor, str]], title: str, cmap="RdBu",
                sym=True, cols: int | None = None) -> Figure:  # fmt: skip
    """Heat maps [layers heads] side by side."""
    cols = cols or len(panels)
    rows = (len(panels) + cols - 1) // cols
    fig = Figure(figsize=(3.3 * cols + 0.6, 5.4 * rows))
    for i, (name, grid, unit) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        g = grid.float().numpy()
        vmax = float(torch.nan_to_num(grid.abs()).max()) or 1.0
        im = ax.imshow(g, aspect="auto", cmap=cmap, vmin=-vmax if sym else 0, vmax=vmax,
                       origin="lower")  # fmt: skip
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        fig.colorbar(im, ax=ax, label=unit, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def resid_figure(attr: torch.Tensor, exact: torch.Tensor, n: int, n_exact: int) -> Figure:
    fig = Figure(figsize=(10, 5.6))
    for i, (g, name) in enumerate(((attr, f"attribution patching ({n} prompts)"),
                                   (exact, f"exact patching ({n_exact} prompts)"))):  # fmt: skip
        ax = fig.add_subplot(1, 2, i + 1)
        vmax = float(g.abs().max())
        im = ax.imshow(g.numpy(), aspect="auto", cmap="RdBu", vmin=-vmax, vmax=vmax,
                       origin="lower")  # fmt: skip
        ax.set_xticks(range(len(CLASSES)), [CLASS_WORDS[c] for c in CLASSES])
        ax.set_xlabel("position patched")
        ax.set_ylabel("layer (residual stream entering it)")
        ax.set_title(name, fontsize=10)
        fig.colorbar(im, ax=ax, label="fraction of LD restored", shrink=0.8)
    fig.suptitle("Residual patching, clean → abc run")
    fig.tight_layout()
    return fig


def scatter_figure(pairs: list[tuple[str, torch.Tensor, torch.Tensor, float]]) -> Figure:
    fig = Figure(figsize=(5.2 * len(pairs), 4.8))
    for i, (name, exact, attr, r) in enumerate(pairs):
        ax = fig.add_subplot(1, len(pairs), i + 1)
        ok = ~exact.isnan()
        x, y = exact[ok].numpy(), attr[ok].numpy()
        ax.scatter(x, y, s=10, alpha=0.7)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--", label="y = x")
        ax.set_xlabel("exact patching (fraction of LD restored)")
        ax.set_ylabel("attribution patching (estimate)")
        ax.set_title(f"{name}: Pearson r = {r:.3f}", fontsize=10)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Attribution patching against exact patching (same prompts)")
    fig.tight_layout()
    return fig


def role_table(roles: dict, ev: dict, attr_heads: torch.Tensor, norm: float) -> list[dict]:
    rows = []
    for role in ROLES:
        for layer, h in roles[role]:
            row = {"role": role, "head": f"{layer}.{h}", "acts_at": list(ROLE_POSITIONS[role])}
            for key in ("end_to_io", "end_to_s1", "end_to_s2", "s2_to_s1", "s2_to_s1p1",
                        "s1p1_to_s1", "dla", "copy", "neg_copy", "path_to_mover_q"):  # fmt: skip
                if key in ev and not torch.isnan(ev[key][layer, h]):  # NaN: not measured
                    row[key] = round(float(ev[key][layer, h]), 4)
            row["attr_patch_all_pos"] = round(float(attr_heads[layer, h]) / norm, 4)
            rows.append(row)
    return rows


def main(args: Args) -> dict:
    with Run(day=54, args=args) as run:
        lm = load_model(args.model, device=run.device)
        run.record_source("model", lm.source)
        model, tok = lm.model.eval(), lm.tokenizer
        n, n_exact = (8, 1) if args.smoke else (args.n, args.n_exact)
        n_names = 8 if args.smoke else args.n_names
        from_layer = 20 if args.smoke else args.exact_from_layer
        data = ioi_dataset(tok, n, seed=args.seed)
        abc = corrupt(tok, data, "abc", seed=args.seed)
        clean_b, abc_b = template_batches(data), template_batches(abc)
        # the exact subset: the first prompt of each (template, order) batch
        sub = [(b, a) for b, a in zip(clean_b, abc_b, strict=True)][: max(1, n_exact)]
        ex_clean, ex_abc = [_first(b) for b, _ in sub], [_first(a) for _, a in sub]
        metrics: dict = {"toy_example": toy_example(), "n_prompts": n, "n_exact": len(ex_clean)}

        def abc_ld(cb, ab):  # abc prompts scored with the clean IO and S tokens
            return mean_ld(model, [_with_answers(a, b) for b, a in zip(cb, ab, strict=True)])

        ld = {"clean": mean_ld(model, clean_b), "abc": abc_ld(clean_b, abc_b),
              "clean_exact": mean_ld(model, ex_clean),
              "abc_exact": abc_ld(ex_clean, ex_abc)}  # fmt: skip
        norm, norm_ex = ld["clean"] - ld["abc"], ld["clean_exact"] - ld["abc_exact"]
        metrics["logit_diff"] = {k: round(v, 4) for k, v in ld.items()}
        run.print(f"  LD clean {ld['clean']:.3f}, abc {ld['abc']:.3f} ({n} prompts)")

        abc_ans = [_with_answers(a, b) for b, a in zip(clean_b, abc_b, strict=True)]
        ex_abc_ans = [_with_answers(a, b) for b, a in zip(ex_clean, ex_abc, strict=True)]
        attr = attribution_maps(model, clean_b, abc_ans)
        attr_ex = attribution_maps(model, ex_clean, ex_abc_ans)
        exact_heads = exact_head_map(model, ex_clean, ex_abc_ans, from_layer) / norm_ex
        exact_resid = exact_resid_map(model, ex_clean, ex_abc_ans) / norm_ex
        attr_resid = torch.stack([attr[f"resid_{c}"] for c in CLASSES], 1) / norm
        attr_resid_ex = torch.stack([attr_ex[f"resid_{c}"] for c in CLASSES], 1) / norm_ex
        ok = ~exact_heads.isnan()
        r_heads = pearson(attr_ex["heads"][ok] / norm_ex, exact_heads[ok])
        r_resid = pearson(attr_resid_ex, exact_resid)
        metrics["attribution_vs_exact"] = {
            "pearson_heads_all_pos": round(r_heads, 4),
            "pearson_resid_layer_class": round(r_resid, 4),
            "n_head_cells": int(ok.sum()),
            "n_resid_cells": exact_resid.numel(),
            "top5_exact_heads": _top(exact_heads, 5),
            "top5_attribution_heads_same_prompts": _top(attr_ex["heads"] / norm_ex, 5),
        }
        run.print(f"  attribution vs exact: r = {r_heads:.3f} (heads), {r_resid:.3f} (resid)")

        name_ids = torch.tensor([tok.encode(" " + w, add_special_tokens=False)[0]
                                 for w in ioi_names(tok, n_names)])  # fmt: skip
        roles, ev = derive_ioi_circuit(model, clean_b, abc_b, name_ids,
                                       path_batches=(ex_clean, ex_abc))  # fmt: skip
        metrics["circuit"] = {role: [list(h) for h in heads] for role, heads in roles.items()}
        metrics["circuit_positions"] = {k: list(v) for k, v in ROLE_POSITIONS.items()}
        metrics["role_rules"] = ev["rules"]
        metrics["role_table"] = role_table(roles, ev, attr["heads"], norm)
        metrics["circuit_size"] = len({tuple(h) for hs in roles.values() for h in hs})
        metrics["top_heads"] = {
            "attribution_all_pos": _top(attr["heads"] / norm, 8),
            "dla": _top(ev["dla"], 6),
            "dla_negative": _top(-ev["dla"], 4, sign=-1),
            "path_to_mover_q_most_negative": _top(-ev["path_to_mover_q"].nan_to_num(0), 5,
                                                  sign=-1) if "path_to_mover_q" in ev else [],
        }  # fmt: skip
        for role in ROLES:
            run.print(f"  {role:>20}: {heads_str(roles[role])}")

        name = PRETTY.get(args.model, args.model)
        run.save_fig(mechanism_figure(roles, name), "mechanism")
        run.save_fig(resid_figure(attr_resid, exact_resid, n, len(ex_clean)), "resid_patching")
        panels = [("all positions", attr["heads"] / norm, "fraction of LD")] + [
            (f"at {CLASS_WORDS[c]}", attr[f"heads_{c}"] / norm, "fraction of LD") for c in CLASSES
        ]
        run.save_fig(grid_figure(panels, f"Head patching by attribution ({n} prompts), clean → "
                                 "abc", cols=6), "head_patching")  # fmt: skip
        run.save_fig(scatter_figure([
            ("heads (z, all positions)", exact_heads, attr_ex["heads"] / norm_ex, r_heads),
            ("residual (layer x position)", exact_resid.flatten(), attr_resid_ex.flatten(),
             r_resid)]), "attribution_vs_exact")  # fmt: skip
        run.save_fig(grid_figure([
            ("END → IO", ev["end_to_io"], "attention"), ("END → S2", ev["end_to_s2"], "attention"),
            ("S2 → S1 (duplicate)", ev["s2_to_s1"], "attention"),
            ("S2 → S1+1 (induction)", ev["s2_to_s1p1"], "attention"),
            ("S1+1 → S1 (previous)", ev["s1p1_to_s1"], "attention")],
            "Attention patterns (mean over prompts)", cmap="Blues", sym=False),
            "patterns")  # fmt: skip
        panels = [("copy score", ev["copy"], "fraction of names in top 5"),
                  ("negative copy score", ev["neg_copy"], "fraction of names in top 5"),
                  ("DLA on IO − S at END", ev["dla"], "logits")]  # fmt: skip
        run.save_fig(_copy_dla_figure(panels), "copy_dla")
        if "path_to_mover_q" in ev:
            path = ev["path_to_mover_q"] / ld["clean_exact"]
            run.save_fig(grid_figure([("path patching into movers' queries", path,
                                       "change of LD / clean LD")],
                                     "S-inhibition: senders → name movers' and S suppressors' "
                                     "queries"), "path_patching")  # fmt: skip
        return run.finish(metrics)


def _copy_dla_figure(panels) -> Figure:
    fig = Figure(figsize=(11, 5.4))
    for i, (name, grid, unit) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        sym = i == 2
        vmax = float(grid.abs().max()) or 1.0
        im = ax.imshow(grid.float().numpy(), aspect="auto", origin="lower",
                       cmap="RdBu" if sym else "Greens", vmin=-vmax if sym else 0,
                       vmax=vmax)  # fmt: skip
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        fig.colorbar(im, ax=ax, label=unit, shrink=0.8)
    fig.suptitle("What each head writes: copy scores and direct logit attribution")
    fig.tight_layout()
    return fig


def _first(b: TemplateBatch) -> TemplateBatch:
    return TemplateBatch(b.idx[:1], b.tokens[:1], b.positions, b.io_ids[:1], b.s_ids[:1])


def _with_answers(a: TemplateBatch, b: TemplateBatch) -> TemplateBatch:
    """The abc batch `a` scored with the clean batch `b`'s IO and S tokens."""
    return TemplateBatch(a.idx, a.tokens, a.positions, b.io_ids, b.s_ids)


def _top(grid: torch.Tensor, k: int, sign: int = 1) -> list:
    g = torch.nan_to_num(grid.double(), nan=-1e9)
    vals, idx = g.flatten().topk(k)
    h = grid.shape[1]
    pairs = zip(vals, idx, strict=True)
    return [[int(i) // h, int(i) % h, round(sign * float(v), 4)] for v, i in pairs]


if __name__ == "__main__":
    run_script(main, Args)
