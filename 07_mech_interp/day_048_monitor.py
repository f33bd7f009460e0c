"""Day 48 — An SAE as a cognitive monitor: read a latent, steer with it, ablate it.

Shows, for three concepts (a harmful agent action vs its benign twin, Python code vs prose about
code, French vs English; `arena_core.data.concepts`, split by template):
1. latent selection on the TRAIN split only: every latent of the SAE (ReLU, 2304 latents, on
   SmolLM2-135M-Instruct's residual stream after block 15, `arena_core.sae.pretrained`) ranked by
   its own AUROC on the pooled code (mean over the text's tokens, position 0 dropped);
   monitors = the top-1 latent, and the top-k latents summed;
2. AUROC on the held-out templates and on distribution shifts (a tool call, French and a fiction
   wrapper for the harmful actions, JavaScript for code, day 40's agent plans for French) for the
   two SAE monitors, a logistic probe and a difference-of-means probe on the same pooled residual;
3. steering: α · ‖x‖ · W_dec[i]/‖W_dec[i]‖ added at layer 15 to neutral English text, α in units
   of the residual norm; effect = next-token probability on the concept's own tokens, cost =
   next-token loss on that text; control = a random direction of the same norm;
4. ablation: x − f_i(x)·W_dec[i] at layer 15 on the concept's test texts; next-token KL, the tokens
   that lose and gain probability, and how far a logistic probe at layer 15 and one at a later
   layer (22) still separate the classes with the top-1 / top-k latents spliced out;
   control = random latents of similar firing density;
5. the top-1 latents' strongest contexts on the SAE's own corpus, and their mean activation by
   kind of text.

Run:  arena run 48 [--smoke] [--publish]   (or python 07_mech_interp/day_048_monitor.py)
Full run (SmolLM2-135M-Instruct, SAE loaded from the cache): about 10 min on 2 cores, 1 thread
(measured 8.8 and 9.9 min wall, about 4.7 min of CPU time). The first call ever trains the SAE
(~10 min more).
Smoke: the small SAE recipe (trains in ~10 s), 24 texts per split, 2 steering strengths.
The worked example of the post (a latent's AUROC and an ablation by hand) is computed below.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.concepts import CONCEPTS, SPLITS, load_concept
from arena_core.data.coup import NEUTRAL_USER, agent_messages
from arena_core.data.shakespeare import shakespeare_text
from arena_core.errors import ArgumentError
from arena_core.models import load_model_for_run
from arena_core.probes.activation_addition import random_direction, steered_generate
from arena_core.probes.metrics import auroc
from arena_core.probes.spans import chat_rows
from arena_core.probes.steering import steering_hook
from arena_core.probes.sweeps import fit_probe
from arena_core.sae.interventions import (
    ablation_hook,
    decoder_direction,
    distinctive_tokens,
    intervention_effect,
    real_positions,
    similar_density_latent,
)
from arena_core.sae.monitor import LatentMonitor, fit_monitor, latent_aurocs, pooled_codes
from arena_core.sae.pretrained import SMOKE_RECIPE, SAERecipe, pretrained_sae
from arena_core.sae.store import token_activations
from arena_core.transformer.generate import GREEDY
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

Tensor = torch.Tensor
METHODS = {
    "sae_top1": "SAE top-1 latent",
    "sae_topk": "SAE top-k latents (sum)",
    "logistic": "logistic probe",
    "mass_mean": "difference of means",
}
COLOURS = {
    "sae_top1": "tab:red",
    "sae_topk": "tab:orange",
    "logistic": "tab:blue",
    "mass_mean": "tab:cyan",
}
SPLIT_NAMES = {
    "test": "held-out\ntemplates",
    "tool_call": "tool call",
    "french": "French",
    "fiction": "fiction\nwrapper",
    "javascript": "JavaScript",
    "coup_french": "agent plans\n(day 40)",
}
ALPHAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # steering strength, in units of the residual norm
NEUTRAL_PROMPTS = ("The weather this morning was", "My favourite thing about the weekend is")

# The worked example: pooled codes of two French and two English texts on three latents.
TOY_CODES = [[0.9, 0.0, 0.3], [0.6, 0.2, 0.0], [0.0, 0.4, 0.3], [0.1, 0.1, 0.5]]
TOY_LABELS = [1, 1, 0, 0]
TOY_X, TOY_W, TOY_F = [2.0, 1.0], [0.6, 0.8], 1.5  # residual, decoder row, activation


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the cached SAE exists for SmolLM2-135M-Instruct only
    n_train: int = 256  # training texts per concept (half positive; fewer if a concept has fewer)
    n_test: int = 64  # texts per test set (half positive)
    k: int = 5  # latents summed by the top-k monitor
    n_neutral: int = 16  # neutral text rows for steering
    neutral_len: int = 32  # tokens per neutral row
    n_ablate: int = 24  # positive test texts on which the next-token change is measured
    C: float = 1.0  # inverse L2 strength of the logistic probe
    batch_size: int = 16  # texts per forward pass
    downstream_layer: int = 22  # a later layer whose probe shows if an ablated concept comes back


def toy_example() -> dict:
    codes, y = torch.tensor(TOY_CODES), torch.tensor(TOY_LABELS)
    auc = latent_aurocs(codes, y)
    diff = codes[y == 1].mean(0) - codes[y == 0].mean(0)
    x, w = torch.tensor(TOY_X), torch.tensor(TOY_W)
    return {
        "codes": TOY_CODES,
        "labels": TOY_LABELS,
        "latent_auroc": [round(float(a), 4) for a in auc],
        "mean_diff": [round(float(d), 4) for d in diff],
        "chosen": int(torch.argmax(auc)),
        "ablation": {
            "x": TOY_X,
            "w_dec": TOY_W,
            "f": TOY_F,
            "x_ablated": [round(float(v), 4) for v in x - TOY_F * w],
        },
    }


def mechanism_figure(toy: dict) -> Figure:
    fig, ax = canvas(width=16, height=6.4)
    box(ax, (0, 3.6), "text\n(French or English)", width=2.6, height=1.4, role="input")
    box(ax, (3.4, 3.6), "SmolLM2\nblocks 0–15", width=2.4, height=1.4, role="op")
    box(ax, (6.6, 3.6), "residual x_t\nat each token", width=2.4, height=1.4, role="op")
    box(
        ax,
        (9.8, 3.6),
        "SAE encoder\nf_t = ReLU(W_enc x_t + b)",
        width=3.0,
        height=1.4,
        role="param",
        fontsize=9,
    )
    box(
        ax,
        (13.6, 3.6),
        "monitor: mean_t f_t,i\n→ score, AUROC",
        width=2.6,
        height=1.4,
        role="output",
        fontsize=9,
    )
    arrow(ax, (2.6, 4.3), (3.4, 4.3))
    arrow(ax, (5.8, 4.3), (6.6, 4.3))
    arrow(ax, (9.0, 4.3), (9.8, 4.3))
    arrow(ax, (12.8, 4.3), (13.6, 4.3), "latent i")
    a = toy["latent_auroc"]
    label(
        ax,
        (8, 5.8),
        f"choose i on train texts: latent AUROCs {a[0]:.2f}, {a[1]:.2f}, "
        f"{a[2]:.2f} → i = {toy['chosen']}",
        fontsize=10,
    )
    ab = toy["ablation"]
    box(
        ax,
        (3.4, 0.6),
        "steer:  x + α‖x‖ · W_dec[i] / ‖W_dec[i]‖",
        width=4.6,
        height=1.3,
        role="highlight",
        fontsize=9.5,
    )
    box(
        ax,
        (9.0, 0.6),
        f"ablate:  x − f_i(x) · W_dec[i]\n{ab['x']} − {ab['f']}·{ab['w_dec']} = {ab['x_ablated']}",
        width=5.0,
        height=1.3,
        role="highlight",
        fontsize=9.5,
    )
    arrow(ax, (7.8, 3.6), (5.7, 1.9), "write back")
    arrow(ax, (7.8, 3.6), (11.5, 1.9))
    label(
        ax,
        (8.0, 0.1),
        "then run blocks 16–29 and compare the next-token distribution",
        fontsize=9.5,
    )
    finish(ax)
    return fig


def read_rows(tok, texts: list[str], reader: str):
    """Token lists and the spans to pool: the agent's reply in a chat, or the whole text but its
    first token."""
    if reader == "chat":
        return chat_rows(tok, agent_messages(NEUTRAL_USER), texts)
    rows = [list(tok(t, add_special_tokens=False).input_ids) for t in texts]
    return rows, [(1, len(r)) for r in rows]


def auroc_figure(table: dict, k: int) -> Figure:
    cells = [(c, s) for c in table for s in table[c]]
    fig = Figure(figsize=(14, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.2
    for j, (key, name) in enumerate(METHODS.items()):
        name = name.replace("top-k", f"top-{k}")
        xs = [i + (j - 1.5) * width for i in range(len(cells))]
        ax.bar(xs, [table[c][s][key] for c, s in cells], width, label=name, color=COLOURS[key])
    ax.axhline(0.5, color="0.3", lw=0.9, ls="--", label="chance")
    start = 0
    for c in table:
        n = len(table[c])
        ax.text(
            start + (n - 1) / 2,
            1.04,
            CONCEPTS[c][0] + " vs " + CONCEPTS[c][1],
            ha="center",
            fontsize=9.5,
        )
        if start:
            ax.axvline(start - 0.5, color="0.6", lw=0.8)
        start += n
    ax.set_xticks(range(len(cells)), [SPLIT_NAMES[s] for _, s in cells], fontsize=8.5)
    ax.set_ylabel("AUROC on held-out texts")
    ax.set_xlabel("test set (all monitors chosen / fitted on the training templates only)")
    ax.set_ylim(0, 1.25)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.legend(loc="upper center", fontsize=8.5, ncols=5)
    ax.set_title("SAE latents as monitors vs probes on the residual after block 15")
    fig.tight_layout()
    return fig


def steering_figure(steer: dict) -> Figure:
    fig = Figure(figsize=(13, 6.4))
    for j, c in enumerate(steer):
        top = fig.add_subplot(2, len(steer), j + 1)
        bot = fig.add_subplot(2, len(steer), len(steer) + j + 1)
        for kind, style in (("decoder", "-"), ("random", "--")):
            rows = steer[c][kind]
            name = f"latent {steer[c]['latent']} decoder row" if kind == "decoder" else "random"
            top.plot(
                [r["alpha"] for r in rows], [r["mass"] for r in rows], style, marker="o", label=name
            )
            bot.plot(
                [r["alpha"] for r in rows], [r["nll"] for r in rows], style, marker="o", label=name
            )
        top.set_title(f"{CONCEPTS[c][0]} (steer with latent {steer[c]['latent']})", fontsize=10)
        top.set_ylabel("P(next token is a\nconcept token)")
        top.set_yscale("log")
        bot.set_ylabel("next-token loss on\nneutral text (nats)")
        bot.set_xlabel("α (multiples of the mean residual norm)")
        top.legend(loc="best", fontsize=8)
    fig.suptitle("Steering neutral English text along a latent's decoder row, layer 15")
    fig.tight_layout()
    return fig


def ablation_figure(abl: dict, k: int, down: int) -> Figure:
    fig = Figure(figsize=(14, 4.4))
    concepts = list(abl)
    xs = range(len(concepts))
    conds = [
        ("top1", "top-1 latent", "tab:red"),
        ("random1", "1 random latent (similar density)", "0.75"),
        ("topk", f"top-{k} latents", "tab:orange"),
        ("randomk", f"{k} random latents", "0.45"),
    ]
    panels = [
        ("kl", "mean KL(clean ‖ ablated), nats/token", "Next-token change on concept texts"),
        ("gap_15", "probe score gap, fraction of clean", "Logistic probe at layer 15"),
        (f"gap_{down}", "probe score gap, fraction of clean", f"Logistic probe at layer {down}"),
    ]
    w = 0.2
    for n, (key, ylabel, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, n + 1)
        for j, (cond, name, col) in enumerate(conds):
            vals = [abl[c][cond][key] for c in concepts]
            ax.bar([x + (j - 1.5) * w for x in xs], vals, w, label=name, color=col)
        ax.set_xticks(list(xs), [CONCEPTS[c][0] for c in concepts], fontsize=9)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if key == "kl":
            ax.set_yscale("log")
        else:
            ax.axhline(1.0, color="0.3", lw=0.9, ls="--")
            ax.set_ylim(0, 1.35)
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncols=4, fontsize=9)
    fig.suptitle("Splicing latents out at layer 15 on the held-out concept texts", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def contexts_figure(ctx: dict) -> Figure:
    fig = Figure(figsize=(13, 1.2 + 1.45 * len(ctx)))
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    y = 1.0
    step = 1.0 / (len(ctx) * 5 + 1)
    for c, info in ctx.items():
        prof = ", ".join(f"{s} {v:.3f}" for s, v in info["mean_by_source"].items())
        ax.text(
            0,
            y,
            f"{CONCEPTS[c][0]} — latent {info['latent']}   (mean activation by corpus "
            f"source: {prof})",
            fontsize=10,
            weight="bold",
            va="top",
        )
        y -= step
        for e in info["examples"][:4]:
            ax.text(
                0.02,
                y,
                f"{e['activation']:5.2f}  …{e['before']}[[{e['token']}]]{e['after']}…",
                fontsize=9,
                family="monospace",
                va="top",
            )
            y -= step
    ax.set_title(
        "Where the top-1 latents fire most in the SAE's corpus ([[token]] = peak)", fontsize=11
    )
    return fig


def top_contexts(model, tok, sae, corpus, hook: str, latents: dict, n_rows: int) -> dict:
    """Strongest activations of each concept's top-1 latent on `n_rows` corpus rows."""
    rows, sources = corpus.rows[:n_rows], corpus.source[:n_rows]
    x = token_activations(model, rows, hook)  # position 0 dropped
    per = len(rows[0]) - 1
    with torch.no_grad():
        f = sae.encode(x)
    out = {}
    for c, i in latents.items():
        a = f[:, i]
        by_source = {}
        for s in sorted(set(sources)):
            idx = [r for r, src in enumerate(sources) if src == s]
            by_source[s] = round(float(a.view(len(rows), per)[idx].mean()), 4)
        examples = []
        for flat in torch.argsort(a, descending=True)[:8].tolist():
            r, p = divmod(flat, per)
            p += 1
            row = rows[r]
            examples.append(
                {
                    "activation": round(float(a[flat]), 3),
                    "source": sources[r],
                    "before": tok.decode(row[max(0, p - 8) : p]).replace("\n", "⏎")[-40:],
                    "token": tok.decode(row[p : p + 1]).replace("\n", "⏎"),
                    "after": tok.decode(row[p + 1 : p + 5]).replace("\n", "⏎")[:24],
                }
            )
        out[c] = {"latent": i, "mean_by_source": by_source, "examples": examples}
    return out


def main(args: Args) -> dict:
    if args.model != "smollm2-135m":
        raise ArgumentError("the cached SAE exists for smollm2-135m only (see day 46)")
    with Run(day=48, args=args) as run:
        metrics: dict = {}
        toy = toy_example()
        metrics["toy_example"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")

        lm = load_model_for_run(args.model, run)
        model, tok = lm.model.eval(), lm.tokenizer
        pad = tok.pad_token_id
        p = pretrained_sae(
            model, tok, lm.name, SMOKE_RECIPE if args.smoke else SAERecipe(), log=run.print
        )
        sae, hook = p.sae, p.hook
        sae.requires_grad_(False)
        run.record_source(
            "sae",
            f"ReLU SAE {sae.cfg.d_sae} latents at {hook}, {p.meta['corpus']}"
            f" (arena_core.sae.pretrained; from cache: {p.meta['loaded_from_cache']})",
        )
        run.record_source("data", "own templates (arena_core/data/concepts.py, coup.py)")
        metrics["sae"] = {k: p.meta[k] for k in ("held_out", "corpus_counts", "train_tokens")}
        n_train, n_test = (16, 8) if args.smoke else (args.n_train, args.n_test)
        alphas = ALPHAS[:2] if args.smoke else ALPHAS
        k = 2 if args.smoke else args.k
        gen = torch.Generator().manual_seed(args.seed)
        down = args.downstream_layer
        down_hook = f"blocks.{down}.hook_resid_post"
        if down_hook not in model.hook_dict or down <= p.layer:
            raise ArgumentError(
                f"downstream_layer must be in {p.layer + 1}..{model.cfg.n_layers - 1}"
            )
        metrics.update(n_train=n_train, n_test=n_test, k=k, alphas=list(alphas))

        # neutral English text (Shakespeare) for steering; its mean residual norm sets α's unit
        text, _ = shakespeare_text()
        ids = tok(text[:40_000], add_special_tokens=False).input_ids
        L = args.neutral_len
        n_neutral, n_ablate = (4, 4) if args.smoke else (args.n_neutral, args.n_ablate)
        neutral = [ids[5000 + i * L : 5000 + (i + 1) * L] for i in range(n_neutral)]
        neutral_spans = [(1, L)] * len(neutral)
        resid_norm = float(token_activations(model, neutral, hook).norm(dim=1).mean())
        metrics["neutral_resid_norm"] = round(resid_norm, 3)

        table, latents, ranks, steer, abl, samples = {}, {}, {}, {}, {}, {}
        for c in CONCEPTS:
            reader = CONCEPTS[c][2]
            train = load_concept(c, "train", args.seed)
            train = load_concept(c, "train", args.seed, n=min(n_train, len(train)))
            y_tr = torch.tensor(train.labels)
            r, s = read_rows(tok, train.prompts, reader)
            pc = pooled_codes(
                model,
                sae,
                r,
                s,
                hook,
                args.batch_size,
                pad,
                desc=f"{c} train",
                read_hooks=[down_hook],
            )
            mon1, ranking = fit_monitor(pc.codes, y_tr, 1)
            monk = LatentMonitor(tuple(ranking.top(k)))
            scorers = {
                "logistic": fit_probe("logistic", pc.resid, y_tr, args.C),
                "mass_mean": fit_probe("mass_mean", pc.resid, y_tr),
            }
            down_probe = fit_probe("logistic", pc.extra[down_hook], y_tr, args.C)
            top = monk.latents
            latents[c] = top[0]
            ranks[c] = {
                "top_latents": list(top),
                "train_auroc": [round(float(ranking.auroc[i]), 4) for i in top],
                "mean_diff": [round(float(ranking.mean_diff[i]), 4) for i in top],
                "density": [round(float(pc.density[i]), 4) for i in top],
                "n_latents_train_auroc_above_0.95": int((ranking.auroc > 0.95).sum()),
                "n_train": len(train),
            }
            table[c], test_sets = {}, {}
            for split in SPLITS[c][1:]:
                ds = load_concept(c, split, args.seed)
                ds = load_concept(c, split, args.seed, n=min(n_test, len(ds)))
                y = torch.tensor(ds.labels)
                r, s = read_rows(tok, ds.prompts, "raw" if split == "coup_french" else reader)
                te = pooled_codes(model, sae, r, s, hook, args.batch_size, pad, desc=f"{c} {split}")
                table[c][split] = {
                    "sae_top1": round(auroc(mon1.scores(te.codes), y), 4),
                    "sae_topk": round(auroc(monk.scores(te.codes), y), 4),
                    **{n: round(auroc(f(te.resid), y), 4) for n, f in scorers.items()},
                }
                test_sets[split] = (r, s, y, ds.prompts)
                run.print(
                    f"  {c:>8} {split:>12}: "
                    + ", ".join(f"{n} {a:.3f}" for n, a in table[c][split].items())
                )

            # steering neutral text along the top-1 latent's decoder row, and a random direction
            pos_texts = [t for t, lab in zip(train.prompts, train.labels, strict=True) if lab]
            neg_texts = [t for t, lab in zip(train.prompts, train.labels, strict=True) if not lab]
            tokens = distinctive_tokens(tok, pos_texts, neg_texts)
            direction = decoder_direction(sae, top[0], resid_norm)
            rand = random_direction(direction, gen)
            steer[c] = {
                "latent": top[0],
                "n_concept_tokens": len(tokens),
                "concept_tokens_sample": tok.convert_ids_to_tokens(tokens[:12]),
            }
            cache: dict = {}
            for kind, vec in (("decoder", direction), ("random", rand)):
                steer[c][kind] = []
                for a in alphas[1:]:  # alphas[0] = 0: the clean forward
                    eff = intervention_effect(
                        model,
                        neutral,
                        neutral_spans,
                        hook,
                        lambda m, v=vec, a=a: steering_hook(v, a),
                        pad,
                        tokens,
                        args.batch_size,
                        cache,
                    )
                    if not steer[c][kind]:
                        steer[c][kind].append(
                            {"alpha": 0.0, "mass": eff.mass_clean, "nll": eff.nll_clean}
                        )
                    steer[c][kind].append({"alpha": a, "mass": eff.mass, "nll": eff.nll})
            prompts = [list(tok(q, add_special_tokens=False).input_ids) for q in NEUTRAL_PROMPTS]
            samples[c] = {}
            for a in (0.0, 0.5, 1.0):
                outs = steered_generate(
                    model, prompts, hook, direction, a, 4 if args.smoke else 16, GREEDY, pad
                )
                samples[c][f"alpha_{a:g}"] = [
                    q + tok.decode(o) for q, o in zip(NEUTRAL_PROMPTS, outs, strict=True)
                ]

            # ablation on the held-out templates: next-token change and what the probe still sees
            r, s, y, texts = test_sets["test"]
            pos = [i for i in range(len(y)) if y[i] == 1][:n_ablate]
            rand1 = similar_density_latent(pc.density, top[0], top, gen)
            randk = [similar_density_latent(pc.density, i, top, gen) for i in top]
            sets = {
                "clean": [],
                "top1": [top[0]],
                "random1": [rand1],
                "topk": list(top),
                "randomk": randk,
            }
            abl[c] = {"random1_latent": rand1, "randomk_latents": randk}
            cache = {}
            for name, lat in sets.items():
                make = None
                if lat:

                    def make(m, lat=lat):
                        return ablation_hook(sae, lat, real_positions(m))

                got = pooled_codes(
                    model,
                    sae,
                    r,
                    s,
                    hook,
                    args.batch_size,
                    pad,
                    desc=f"{c} ablate {name}",
                    make_hook=make,
                    read_hooks=[down_hook],
                )
                s15, sd = scorers["logistic"](got.resid), down_probe(got.extra[down_hook])
                s1 = mon1.scores(got.codes)
                row = {
                    "probe_auroc_15": round(auroc(s15, y), 4),
                    f"probe_auroc_{down}": round(auroc(sd, y), 4),
                    "monitor_auroc": round(auroc(s1, y), 4),
                    "raw_gap_15": float(s15[y == 1].mean() - s15[y == 0].mean()),
                    f"raw_gap_{down}": float(sd[y == 1].mean() - sd[y == 0].mean()),
                    "raw_monitor_gap": float(s1[y == 1].mean() - s1[y == 0].mean()),
                }
                for key in ("15", str(down)):
                    row[f"gap_{key}"] = (
                        row[f"raw_gap_{key}"] / abl[c].get("clean", row)[f"raw_gap_{key}"]
                    )
                if lat:
                    eff = intervention_effect(
                        model,
                        [r[i] for i in pos],
                        [s[i] for i in pos],
                        hook,
                        make,
                        pad,
                        (),
                        args.batch_size,
                        cache,
                    )
                    row["kl"] = eff.kl
                    row["nll_change"] = eff.nll - eff.nll_clean
                    if name == "top1":
                        order = torch.argsort(eff.delta_prob)
                        row["lost"] = [
                            (tok.decode([int(t)]), round(float(eff.delta_prob[t]), 5))
                            for t in order[:6]
                        ]
                        row["gained"] = [
                            (tok.decode([int(t)]), round(float(eff.delta_prob[t]), 5))
                            for t in order.flip(0)[:6]
                        ]
                abl[c][name] = row

        n_rows = 8 if args.smoke else 96
        ctx = top_contexts(model, tok, sae, p.corpus, hook, latents, n_rows)
        metrics.update(
            auroc=table,
            latents=ranks,
            steering=steer,
            steered_samples=samples,
            ablation=abl,
            top_contexts=ctx,
        )
        for key in METHODS:
            vals = [v[key] for t in table.values() for v in t.values()]
            metrics[f"{key}_mean_auroc"] = round(sum(vals) / len(vals), 4)
        run.save_fig(auroc_figure(table, k), "auroc")
        run.save_fig(steering_figure(steer), "steering")
        run.save_fig(ablation_figure(abl, k, down), "ablation")
        run.save_fig(contexts_figure(ctx), "top_contexts")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
