"""Day 57 — Feature tracing: attribution graphs built from transcoders (Ameisen et al. 2025).

Shows:
1. a transcoder on every MLP of SmolLM2-135M-Instruct (30 layers), trained once on the offline
   corpus and cached: held-out fraction of variance explained and L0 per layer;
2. the attribution graph of "The capital of France is" → " Paris" (target: the logit of
   " Paris" minus the mean logit) and of an IOI prompt (target: logit[IO] − logit[S]): the local
   replacement model (attention and norms frozen, each MLP = transcoder + error node), edges
   A[t, s] = a_s · ∂pre_t/∂a_s, influence, pruning to a node budget, how much of the target the
   pruned graph keeps; each graph as a self-contained interactive HTML page and one as a PNG;
3. supernode interventions in the REAL model (the latents' decoder contributions removed from
   the MLP output, the MLP's own error kept, nothing frozen) next to the graph's prediction:
   two hand-made groups per prompt (the most influential latents at the subject / name
   position and at the last position), a scale sweep, and the top latents one by one, both
   ablated and scaled by 0.9 (where the linear graph should be accurate).

Run:  arena run 57 [--smoke] [--publish]   (or python 07_mech_interp/day_057_feature_flow.py)
Full run (SmolLM2-135M-Instruct, transcoders cached, 2 prompts, 1024 expanded latents each):
175-236 s measured on 2 shared cores, 1 thread. The first call trains the 30 transcoders (width
2304, 40k tokens, 2 epochs): one collection pass (13 min) then ~1 min per layer, 48 min in all
as measured on 2 shared cores; `--smoke` uses a tiny recipe (width 576, 1.5k tokens, seconds).
The mechanism figure draws the replacement model and the edge formula.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.ioi import ioi_dataset
from arena_core.interp.attribution_graph import LogitTarget, build_graph
from arena_core.interp.graph_html import graph_html, latent_top_tokens, plot_graph
from arena_core.interp.graph_influence import influence_matrix, normalised_abs, prune
from arena_core.interp.supernodes import graph_prediction, real_intervention
from arena_core.models import load_model
from arena_core.sae.transcoders import SMOKE_TRANSCODER_RECIPE, TranscoderRecipe, transcoder_bank
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

CAPITAL = ("The capital of France is", " Paris", " France")
# The post's worked example: nodes [token x, latent s, latent t, logit]; TOY[t][s] = edge s → t.
TOY = [[0, 0, 0, 0], [3, 0, 0, 0], [1, 2, 0, 0], [0, 1, 4, 0]]
SMALL = 0.9  # the "small change" of single latents: activation x 0.9


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the transcoders are trained for this model (SmolLM2 only)
    max_latents: int = 1024  # latents expanded per graph (the rest fold into error nodes)
    node_threshold: float = 0.8  # pruning: cumulative influence kept
    edge_threshold: float = 0.98  # pruning: cumulative edge influence kept
    max_nodes: int = 120  # pruning: node budget (targets not counted)
    group_size: int = 6  # latents per hand-made supernode
    n_single: int = 20  # top latents ablated one at a time


def toy_influence() -> dict:
    """Â and B = (I − Â)⁻¹ − I of the 4-node toy graph, with the project's functions."""
    adj = torch.tensor(TOY, dtype=torch.float64)
    a_hat, b = normalised_abs(adj), influence_matrix(adj)
    return {"a_hat": [[round(v, 4) for v in r] for r in a_hat.tolist()],
            "influence_on_logit": {n: round(float(b[3, i]), 4)
                                   for i, n in enumerate(["x", "s", "t"])}}  # fmt: skip


def mechanism_figure() -> Figure:
    fig, ax = canvas(13.5, 5.6)
    box(ax, (0.2, 0.3), "token embeddings\n(source nodes)", 2.4, 0.9, role="input")
    box(ax, (0.2, 1.9), "attention, layer l\npattern FROZEN\n(linear in V)", 2.4, 1.1)
    box(ax, (3.4, 1.9), "RMSNorm\nscale FROZEN", 1.7, 1.1)
    box(ax, (5.9, 1.9), "transcoder l\nf = ReLU(x̂ W_enc + b)\nout = f W_dec + b_dec", 2.6, 1.1,
        role="highlight")  # fmt: skip
    box(ax, (5.9, 3.5), "error node ε(l,p) =\nMLP(x) − transcoder(x)", 2.6, 0.95, role="output")
    box(ax, (0.2, 4.4), "target logit\nc · logits", 2.4, 0.9, role="output")
    arrow(ax, (1.4, 1.2), (1.4, 1.9))
    arrow(ax, (2.6, 2.45), (3.4, 2.45), "residual")
    arrow(ax, (5.1, 2.45), (5.9, 2.45), "x̂")
    arrow(ax, (7.2, 3.0), (7.2, 3.5))
    arrow(ax, (5.9, 3.95), (2.6, 4.85), "+ to the residual", curve=0.1)
    arrow(ax, (1.4, 3.0), (1.4, 4.4), "… later layers …")
    label(ax, (9.0, 4.6), "edge from source s to target t:", fontsize=10, ha="left")
    label(ax, (9.0, 4.1), "A[t,s] = a_s · (W_dec[s] · ∂pre_t/∂mlp_out)", fontsize=10, ha="left")
    label(ax, (9.0, 3.5), "frozen model ⇒ every pre_t is linear:", fontsize=10, ha="left")
    label(ax, (9.0, 3.0), "pre_t = Σ_s A[t,s] + bias_t  (exactly)", fontsize=10, ha="left")
    label(ax, (9.0, 2.2), "influence: Â = |A| / row sums,", fontsize=10, ha="left")
    label(ax, (9.0, 1.7), "B = Â + Â² + … = (I − Â)⁻¹ − I", fontsize=10, ha="left")
    label(ax, (9.0, 1.0), "prune: keep nodes holding 80%", fontsize=10, ha="left")
    label(ax, (9.0, 0.5), "of the influence on the target", fontsize=10, ha="left")
    ax.set_title("The local replacement model of one prompt")
    finish(ax)
    return fig


def bank_figure(per_layer: list[dict]) -> Figure:
    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot([s["layer"] for s in per_layer], [s["fve"] for s in per_layer], marker="o", ms=3)
    ax.set_xlabel("layer")
    ax.set_ylabel("held-out FVE of MLP output")
    ax.set_ylim(min(0.0, min(s["fve"] for s in per_layer)), 1.0)
    ax.set_title("How much of each MLP's output the transcoder explains")
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot([s["layer"] for s in per_layer], [s["l0"] for s in per_layer], marker="o", ms=3,
             color="tab:orange")  # fmt: skip
    ax2.set_xlabel("layer")
    ax2.set_ylabel("L0 (active latents per token)")
    ax2.set_title("Sparsity")
    fig.tight_layout()
    return fig


def graph_png(pg, strs, tops, title: str) -> Figure:
    fig = Figure(figsize=(11, 8))
    ax = fig.add_subplot(1, 1, 1)
    plot_graph(pg, strs, ax, top_tokens=tops)
    s = pg.stats()
    ax.set_title(f"{title}: {s['kept_latents']} latents, {s['kept_errors']} error nodes, "
                 f"{s['kept_edges']} edges (blue +, red −)")  # fmt: skip
    fig.tight_layout()
    return fig


def intervention_figure(results: dict) -> Figure:
    fig = Figure(figsize=(15, 4.6))
    ax = fig.add_subplot(1, 3, 1)
    names = [k for k in results if k != "single"]
    xs = range(len(names))
    for off, key, col in ((-0.27, "direct", "0.7"), (0.0, "total", "tab:blue"),
                          (0.27, "measured", "black")):  # fmt: skip
        ax.bar([x + off for x in xs], [results[n][key] for n in names], 0.25, color=col,
               label={"direct": "graph: direct edges only", "total": "graph: all paths",
                      "measured": "real model"}[key])  # fmt: skip
    ax.set_xticks(list(xs), [n.replace(": ", "\n") for n in names], fontsize=8)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel("change in target logit (difference)")
    ax.set_title("Supernodes ablated (activation → 0)")
    ax.legend(fontsize=8)
    rows = [r for rs in results["single"].values() for r in rs]
    for k, (col, title) in enumerate(((1, "Single latents ablated"),
                                      (3, f"Single latents scaled by {SMALL}"))):  # fmt: skip
        ax2 = fig.add_subplot(1, 3, k + 2)
        for sel, lab, c in ((lambda r: r[0] == 0, "layer-0 latents", "tab:red"),
                            (lambda r: r[0] > 0, "later layers", "tab:blue")):  # fmt: skip
            pts = [r for r in rows if sel(r)]
            ax2.scatter([r[col] for r in pts], [r[col + 1] for r in pts], s=18, color=c,
                        label=lab)  # fmt: skip
        lim = max(abs(v) for r in rows for v in r[col : col + 2]) * 1.1
        ax2.plot([-lim, lim], [-lim, lim], color="0.6", ls="--", lw=0.8, label="y = x")
        ax2.set_xlabel("graph prediction (all paths)")
        ax2.set_ylabel("measured in the real model")
        ax2.set_title(title + " (both prompts)")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def analyse(model, tok, bank, args, run, name, ids, target, subject_pos) -> dict:
    """Graph, pruning, HTML + supernode interventions for one prompt."""
    g = build_graph(model, bank.transcoders, ids, [target],
                    max_latents=64 if args.smoke else args.max_latents, batch=64)  # fmt: skip
    pg = prune(g, args.node_threshold, args.edge_threshold, args.max_nodes)
    strs = [tok.decode([t]) for t in ids]
    tops = latent_top_tokens(model, tok, bank.transcoders, g.latents)
    out = {"prompt": "".join(strs), "target": target.name, "value": round(float(g.values[-1]), 4),
           "bias": round(float(g.bias[-1]), 4), "graph": pg.stats()}  # fmt: skip
    out["graph"]["edges_total"] = int((g.adjacency != 0).sum())
    path = graph_html(pg, strs, run.out_dir / f"graph_{name}.html",
                      title=f"{out['prompt']!r} → {target.name}", top_tokens=tops)  # fmt: skip
    run.add_file(path)
    kept = [i for i in pg.nodes.tolist() if g.kind(i) == "latent"]
    kept.sort(key=lambda i: -float(pg.influence[i]))
    out["top_latents"] = [
        {"layer": int(g.latents[i, 0]), "pos": int(g.latents[i, 1]), "index": int(g.latents[i, 2]),
         "activation": round(float(g.activations[i]), 3),
         "influence": round(float(pg.influence[i]), 4), "top_tokens": tops[i]}
        for i in kept[:10]
    ]  # fmt: skip
    groups = {
        f"{name}: {strs[subject_pos].strip()} latents": [
            i for i in kept if int(g.latents[i, 1]) == subject_pos][: args.group_size],
        f"{name}: last-position latents": [
            i for i in kept if int(g.latents[i, 1]) == len(ids) - 1][: args.group_size],
    }  # fmt: skip
    sup = {}
    for gname, members in groups.items():
        if not members:
            continue
        pred = graph_prediction(g, members, 0.0)
        real = real_intervention(model, g, bank.transcoders, members, 0.0)
        sweep = []
        for scale in (0.0, 2.0) if args.smoke else (0.0, 0.5, 1.5, 2.0, 3.0):
            p = graph_prediction(g, members, scale)["total"]
            m = real_intervention(model, g, bank.transcoders, members, scale)["delta"]
            sweep.append([scale, round(p, 4), round(m, 4)])
        sup[gname] = {"members": [out_id(g, i) for i in members],
                      "direct": round(pred["direct"], 4), "total": round(pred["total"], 4),
                      "measured": round(real["delta"], 4), "sweep": sweep}  # fmt: skip
        run.print(f"  {gname}: predicted {pred['total']:+.3f} (direct {pred['direct']:+.3f}), "
                  f"measured {real['delta']:+.3f}")  # fmt: skip
    single = []  # [layer, predicted, measured] for an ablation and for a small change
    for i in kept[: 5 if args.smoke else args.n_single]:
        row = [int(g.latents[i, 0])]
        for scale in (0.0, SMALL):
            p = graph_prediction(g, [i], scale)["total"]
            m = real_intervention(model, g, bank.transcoders, [i], scale)["delta"]
            row += [round(p, 4), round(m, 4)]
        single.append(row)
    out["supernodes"], out["single"] = sup, single
    return out, pg, strs, tops


def out_id(g, i) -> str:
    lay, pos, idx = (int(v) for v in g.latents[i])
    return f"L{lay}@{pos}#{idx}"


def main(args: Args) -> dict:
    with Run(day=57, args=args) as run:
        metrics: dict = {}
        run.save_fig(mechanism_figure(), "mechanism")
        metrics["toy_example"] = toy_influence()
        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source("model", lm.source)
        recipe = SMOKE_TRANSCODER_RECIPE if args.smoke else TranscoderRecipe()
        bank = transcoder_bank(model, tok, args.model, recipe, log=run.print)
        run.record_source("data", f"transcoders trained on {bank.meta['corpus']}")
        per = bank.meta["per_layer"]
        metrics["transcoders"] = {
            "width": bank[0].cfg.d_sae, "loaded_from_cache": bank.meta["loaded_from_cache"],
            "train_seconds": bank.meta["seconds"],
            "fve": [round(s["fve"], 4) for s in per], "l0": [round(s["l0"], 2) for s in per],
            "mean_fve": round(sum(s["fve"] for s in per) / len(per), 4),
            "mean_l0": round(sum(s["l0"] for s in per) / len(per), 2),
        }  # fmt: skip
        run.save_fig(bank_figure(per), "transcoders")

        text, answer, subject = CAPITAL
        ids = tok(text)["input_ids"]
        ans = tok(answer)["input_ids"][0]
        with torch.no_grad():
            probs = model(torch.tensor([ids]))[0, -1].softmax(-1)
        metrics["capital_p_answer"] = round(float(probs[ans]), 4)
        metrics["capital_top1"] = tok.decode([int(probs.argmax())])
        subj = [i for i, t in enumerate(ids) if tok.decode([t]) == subject][0]
        target = LogitTarget("Paris", {ans: 1.0}, demean=True)
        cap, pg_cap, strs, tops = analyse(model, tok, bank, args, run, "capital", ids, target, subj)
        metrics["capital"] = cap
        run.save_fig(graph_png(pg_cap, strs, tops, "'The capital of France is' → ' Paris'"),
                     "graph_capital")  # fmt: skip

        data = ioi_dataset(tok, 1, seed=args.seed)
        p, ids = data.prompts[0], data.tokens[0]
        target = LogitTarget("IO − S", {data.io_ids[0]: 1.0, data.s_ids[0]: -1.0})
        ioi, pg_ioi, strs_i, tops_i = analyse(model, tok, bank, args, run, "ioi", ids, target,
                                              data.positions[0]["S2"])  # fmt: skip
        ioi["io"], ioi["s"] = p.io, p.s
        metrics["ioi"] = ioi
        results = {**cap["supernodes"], **ioi["supernodes"],
                   "single": {"capital": cap["single"], "ioi": ioi["single"]}}  # fmt: skip
        run.save_fig(intervention_figure(results), "interventions")
        allp = cap["single"] + ioi["single"]
        for name, col, keep in (("ablation", 1, lambda r: True),
                                ("ablation_after_layer_0", 1, lambda r: r[0] > 0),
                                ("small_change", 3, lambda r: True)):  # fmt: skip
            rows = [r for r in allp if keep(r)]
            pr = torch.tensor([r[col] for r in rows])
            me = torch.tensor([r[col + 1] for r in rows])
            corr = float(torch.corrcoef(torch.stack([pr, me]))[0, 1]) if len(rows) > 2 else 0.0
            metrics[f"single_{name}"] = {
                "n": len(rows), "correlation": round(corr, 4),
                "sign_agreement": round(float(((pr * me) > 0).float().mean()), 4),
                "median_ratio_measured_over_predicted": round(float((me / pr).median()), 4),
            }  # fmt: skip
            run.print(f"  single latents, {name}: {metrics[f'single_{name}']}")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
