"""Day 47 — Feature interpretation: dashboards, auto-interpretation and a detection score.

Shows, for the ReLU SAE on SmolLM2-135M-Instruct's residual stream after block 15
(`arena_core.sae.pretrained`, width 2304):
1. latent statistics over corpus rows (Shakespeare, stdlib Python, templated facts, the model's
   own chats): per-row peaks, densities, activation histograms, logit effects through W_U;
2. a self-contained HTML dashboard per latent (`latent_NNNN.html`) and an index
   (`dashboards.html`) for a fair random sample of latents;
3. auto-interpretation: an explainer LM reads each latent's top contexts (from one half of the
   rows, peak tokens marked <<like this>>) and writes a phrase; a scorer LM then judges held-out
   contexts from the other half (activating ones drawn across the activation range, and silent
   ones): score = logit("Yes") − logit("No"), one batched forward pass; AUROC per latent;
4. baselines: the same contexts judged with another latent's explanation (a derangement), with
   one generic explanation, and with a data-made one (the latent's commonest peak tokens); a
   check of the scorer on hand-written texts whose answers are known.

Run:  arena run 47 [--smoke] [--publish]   (or python 07_mech_interp/day_047_features.py)
Full run (SAE cached; Qwen2.5-Coder-0.5B-Instruct explains and scores, SmolLM2 also explains;
480 rows, 24 latents, 8+8 held-out contexts each): about 10 min, 1 thread (the published run:
596 s wall, 532 s of CPU time). The first call ever also trains the SAE (~10 min). Without the
optional Qwen weights both roles fall back to SmolLM2 (recorded in metrics.json), a weaker
scorer: it fails the
hand-written city check (AUROC 0.41 in the smoke run), so read its detection numbers with care.
An API explainer is used instead when OPENAI_API_KEY or ANTHROPIC_API_KEY is set.
Smoke: the small smoke SAE, SmolLM2 in both roles, 24 rows, 4 latents, 3+3 held-out contexts.
"""

import textwrap
from collections import Counter
from dataclasses import dataclass

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from arena_core.interp.patchscopes import derangement
from arena_core.models import load_model, load_model_or_fallback
from arena_core.sae.autointerp import (
    GENERIC_EXPLANATION,
    answer_ids,
    api_explain,
    api_source,
    detection_metrics,
    detection_prompt,
    explain,
    mark_tokens,
    yes_no_scores,
)
from arena_core.sae.corpus import SOURCES
from arena_core.sae.dashboard import LatentCard, ShownContext, index_page, latent_page, page_name
from arena_core.sae.features import (
    Context,
    activation_histogram,
    encode_grid,
    latent_stats,
    logit_effects,
    quantile_contexts,
    silent_contexts,
    top_contexts,
    top_logit_tokens,
)
from arena_core.sae.pretrained import MASSIVE, SMOKE_RECIPE, SAERecipe, pretrained_sae
from arena_core.sae.store import token_activations
from arena_core.utils import DayArgs, Run, progress, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

CONDITIONS = {
    "own": "its own explanation",
    "other": "another latent's explanation",
    "generic": f"generic: '{GENERIC_EXPLANATION}'",
    "tokens": "its 3 commonest peak tokens (no LM)",
}
COLOURS = {"own": "tab:blue", "other": "tab:gray", "generic": "tab:orange", "small": "tab:purple",
           "tokens": "tab:green"}  # fmt: skip
SOURCE_COLOURS = {"shakespeare": "#8c6bb1", "python": "#2b8cbe", "facts": "#41ab5d",
                  "chat": "#fd8d3c"}  # fmt: skip

# A check of the scorer with known answers: 4 texts naming a city, 4 of Python code, 4 neither.
CHECK_TEXTS = [
    "The city of Paris is in France.", "We walked across the city of Lyon", "the city of Tokyo "
    "is large", "They moved to the city of Cairo last year",
    "def add(a, b):\\n    return a + b", "import json\\nprint(json.dumps(x))",
    "for i in range(10):\\n    total += i", "class Stack:\\n    def push(self, x):",
    "To be or not to be, that is the question", "Seventeen is larger than twelve.",
    "Thou art more lovely and more temperate", "I like to cook pasta on Sundays",
]  # fmt: skip
CHECKS = {  # explanation -> which texts are its positives
    'the phrase "city of" followed by a city name': [1] * 4 + [0] * 8,
    "Python code": [0] * 4 + [1] * 4 + [0] * 4,
    "Python code (scored on the city labels)": [1] * 4 + [0] * 8,
}

# The worked example: scorer outputs logit(Yes) − logit(No) for 3 activating and 3 silent texts.
TOY_POS = [2.0, 0.5, -0.3]
TOY_NEG = [0.1, -1.0, -2.0]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads
    model: str = "smollm2-135m"  # the model whose residual-stream SAE is read
    explainer: str = "qwen2.5-coder-0.5b-instruct"  # LM writing explanations (falls back to
    # smollm2-135m when not installed; SmolLM2's own explanations are then scored as well)
    scorer: str = "qwen2.5-coder-0.5b-instruct"  # LM answering the yes/no question (falls back
    # to smollm2-135m, which answers at chance even on easy cases)
    n_rows: int = 480  # corpus rows of 128 tokens read (half to explain, half to score)
    n_latents: int = 24  # latents drawn at random from those that can be scored
    n_explain: int = 10  # top contexts the explainer reads
    n_pos: int = 8  # held-out activating contexts per latent (drawn across 5 quantile bins)
    n_neg: int = 8  # held-out silent contexts per latent
    before: int = 12  # tokens shown before a context's peak token
    after: int = 3  # tokens shown after it
    batch_size: int = 32  # prompts per scorer forward pass


def flat(text: str) -> str:
    """One line: newlines shown as a visible \\n, so each example stays on its own line."""
    return text.replace("\n", "\\n")


def toy_detection() -> dict:
    """The post's worked example, scored by the project's `detection_metrics`."""
    s = torch.tensor(TOY_POS + TOY_NEG)
    y = torch.tensor([1] * len(TOY_POS) + [0] * len(TOY_NEG))
    m = detection_metrics(s, y)
    wins = sum((p > n) + 0.5 * (p == n) for p in TOY_POS for n in TOY_NEG)
    return {"pos": TOY_POS, "neg": TOY_NEG, "pairs_won": wins,
            "pairs": len(TOY_POS) * len(TOY_NEG),
            "p_yes": [round(torch.sigmoid(torch.tensor(v)).item(), 3) for v in TOY_POS + TOY_NEG],
            **{k: round(v, 4) for k, v in m.items()}}  # fmt: skip


def mechanism_figure(toy: dict, n_explain: int, n_pos: int, n_neg: int) -> Figure:
    fig, ax = canvas(width=17, height=7.6, scale=0.62)
    box(ax, (0, 5.6), "corpus rows\n(128 tokens)", width=2.6, height=1.2, role="input")
    arrow(ax, (2.7, 6.2), (3.6, 6.2))
    box(ax, (3.7, 5.6), "SAE codes\nf_i(x_t), every token", width=3.2, height=1.2, role="param")
    arrow(ax, (7.0, 6.6), (8.0, 6.9))
    arrow(ax, (7.0, 5.8), (8.0, 5.0))
    box(ax, (8.1, 6.4), f"explain half: top {n_explain} rows\n'the <<cat>> sat'", width=3.6,
        height=1.0, role="input", fontsize=9)  # fmt: skip
    box(ax, (8.1, 4.4), f"score half: {n_pos} firing\n(quantiles) + {n_neg} silent",
        width=3.6, height=1.0, role="input", fontsize=9)  # fmt: skip
    arrow(ax, (11.8, 6.9), (12.7, 6.9))
    box(ax, (12.8, 6.3), "explainer LM\n→ 'The marked tokens are …'", width=4.0, height=1.2,
        role="op", fontsize=9)  # fmt: skip
    arrow(ax, (14.8, 6.2), (14.8, 5.2), "explanation", text_offset=(1.0, -0.2))
    arrow(ax, (11.8, 4.9), (12.7, 4.6))
    box(ax, (12.8, 3.9), "scorer LM: explanation\n+ one context → next token", width=4.0,
        height=1.2, role="op", fontsize=9)  # fmt: skip
    arrow(ax, (14.8, 3.8), (14.8, 2.9))
    box(ax, (12.8, 1.7), f"s = logit(Yes) − logit(No)\nAUROC over the {n_pos + n_neg} contexts",
        width=4.0, height=1.2, role="output", fontsize=9)  # fmt: skip
    label(ax, (0, 3.6), "Worked example (scores s of one latent's held-out contexts):",
          fontsize=10, ha="left", weight="bold")  # fmt: skip
    label(ax, (0, 2.9), f"activating: {toy['pos']}    silent: {toy['neg']}", fontsize=10,
          ha="left")  # fmt: skip
    label(ax, (0, 2.2), f"pairs where the activating one scores higher: {toy['pairs_won']:g} of "
          f"{toy['pairs']}  →  AUROC = {toy['auroc']:.3f}", fontsize=10, ha="left")  # fmt: skip
    label(ax, (0, 1.5), f"answer Yes when s > 0: {toy['accuracy'] * 6:.0f} of 6 right  →  "
          f"accuracy = {toy['accuracy']:.3f}", fontsize=10, ha="left")  # fmt: skip
    label(ax, (0, 0.6), "baselines: the same contexts with another latent's explanation, a "
          "generic one, and its commonest peak tokens", fontsize=9.5, ha="left",
          color="0.35")  # fmt: skip
    finish(ax)
    return fig


def detection_figure(per: dict, conditions: dict, explainer: str, scorer: str, n: tuple) -> Figure:
    fig = Figure(figsize=(12, 5.2))
    ax = fig.add_subplot(1, 2, 1)
    data = [[r[c]["auroc"] for r in per.values()] for c in conditions]
    gen = torch.Generator().manual_seed(0)
    for i, (c, d) in enumerate(zip(conditions, data, strict=True)):
        jitter = (torch.rand(len(d), generator=gen) - 0.5) * 0.3
        ax.scatter(i + jitter, d, s=16, color=COLOURS[c], alpha=0.75)
        med = torch.tensor(d).median().item()
        ax.plot([i - 0.3, i + 0.3], [med, med], color="black", lw=2)
        ax.text(i + 0.33, med, f"{med:.2f}", va="center", fontsize=8)
    ax.axhline(0.5, color="0.5", ls=":", lw=1)
    ax.set_xticks(range(len(conditions)), [textwrap.fill(v, 16) for v in conditions.values()],
                  fontsize=8)  # fmt: skip
    ax.set_ylabel(f"detection AUROC per latent ({n[0]} firing vs {n[1]} silent contexts)")
    ax.set_xlabel("explanation given to the scorer (black bar: median over latents)")
    ax.set_ylim(-0.02, 1.02)
    ax2 = fig.add_subplot(1, 2, 2)
    own = torch.tensor(data[0])
    for c, d in zip(list(conditions)[1:], data[1:], strict=True):
        ax2.scatter(d, own, s=22, color=COLOURS[c], label=conditions[c], alpha=0.8)
    ax2.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--")
    ax2.set_xlabel("AUROC of the same latent with a baseline explanation")
    ax2.set_ylabel("AUROC with its own explanation")
    ax2.set_xlim(-0.02, 1.02)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_aspect("equal")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    fig.suptitle(f"Do explanations pick out held-out contexts? explainer {explainer}, scorer "
                 f"{scorer}", fontsize=11, y=1.0)  # fmt: skip
    fig.tight_layout()
    return fig


def source_figure(mix: dict, base: dict) -> Figure:
    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    names = ["corpus"] + [str(k) for k in mix]
    rows = [base] + list(mix.values())
    bottom = torch.zeros(len(rows))
    for s in SOURCES:
        frac = torch.tensor([r.get(s, 0) / max(sum(r.values()), 1) for r in rows])
        ax.bar(range(len(rows)), frac, bottom=bottom, color=SOURCE_COLOURS[s], label=s)
        bottom += frac
    ax.set_xticks(range(len(rows)), names, rotation=90, fontsize=8)
    ax.set_xlabel("latent (first bar: the rows read, for comparison)")
    ax.set_ylabel("share of its top 20 contexts")
    ax.set_title("Which kind of text do a latent's top contexts come from?")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def dashboard_figure(card: LatentCard, auc: float) -> Figure:
    """A matplotlib re-draw of one dashboard page: histogram, logit tables, top contexts."""
    fig = Figure(figsize=(12, 7.5))
    gs = fig.add_gridspec(2, 3, height_ratios=[1, 1.5])
    ax = fig.add_subplot(gs[0, 0])
    e = card.hist_edges
    ax.bar(e[:-1], card.hist_counts, width=e[1] - e[0], align="edge", color="#f28c28")
    ax.set_xlabel("activation (tokens where it fires)")
    ax.set_ylabel("tokens")
    ax.set_title(f"density {100 * card.density:.2f}% of tokens", fontsize=10)
    for j, (name, rows) in enumerate((("promoted", card.top_logits),
                                      ("suppressed", card.bottom_logits))):  # fmt: skip
        a = fig.add_subplot(gs[0, 1 + j])
        a.axis("off")
        a.set_title(f"logit effect through W_U: {name}", fontsize=10)
        for i, (t, v) in enumerate(rows[:8]):
            a.text(0.05, 0.9 - i * 0.11, repr(t)[:18], family="monospace", fontsize=9,
                   transform=a.transAxes)  # fmt: skip
            a.text(0.75, 0.9 - i * 0.11, f"{v:+.2f}", fontsize=9, transform=a.transAxes,
                   color="tab:green" if v > 0 else "tab:red")  # fmt: skip
    ax = fig.add_subplot(gs[1, :])
    ax.axis("off")
    contexts = next(iter(card.sections.values()))[:8]
    ax.set_title("top-activating contexts (orange ∝ activation)", fontsize=10, loc="left")
    renderer = FigureCanvasAgg(fig).get_renderer()
    for i, c in enumerate(contexts):
        x, y = 0.0, 0.93 - i * 0.12
        ax.text(x, y, c.label[:11], fontsize=8, color="0.45", transform=ax.transAxes)
        x = 0.09
        for t, a in zip(c.tokens, c.acts, strict=True):
            shown = t.replace("\n", "⏎")
            alpha = min(max(a / max(card.max_act, 1e-9), 0), 1)
            txt = ax.text(x, y, shown, fontsize=9, family="monospace", transform=ax.transAxes,
                          bbox={"facecolor": (1, 0.55, 0, alpha), "edgecolor": "none",
                                "pad": 0.5})  # fmt: skip
            w = txt.get_window_extent(renderer).width / ax.get_window_extent(renderer).width
            x += w
            if x > 0.98:
                break
    fig.suptitle(f"Latent {card.latent}: “{card.explanation}”  (detection AUROC {auc:.2f})",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=47, args=args) as run:
        metrics: dict = {}
        toy = toy_detection()
        metrics["toy_example"] = toy

        lm = load_model(args.model, device=run.device)
        model, tok = lm.model.eval(), lm.tokenizer
        run.record_source("model", lm.source)
        p = pretrained_sae(model, tok, lm.name, SMOKE_RECIPE if args.smoke else SAERecipe(),
                           log=run.print)  # fmt: skip
        sae = p.sae.to(run.device).eval()
        run.record_source("sae", f"ReLU SAE {p.hook} width {sae.cfg.d_sae}, {p.meta['corpus']}")
        metrics["sae_held_out"] = p.meta["held_out"]
        n_rows = min(24 if args.smoke else args.n_rows, len(p.corpus))
        rows, sources = p.corpus.rows[:n_rows], p.corpus.source[:n_rows]
        metrics["rows_read"] = n_rows
        metrics["rows_by_source"] = {s: sources.count(s) for s in SOURCES if s in sources}

        # 1. every token's activation, then every latent's per-row peak (position 0 dropped)
        acts = token_activations(model, rows, p.hook, batch_size=16).to(run.device)
        acts = acts.reshape(n_rows, -1, acts.shape[-1])
        norms = acts.norm(dim=-1)
        keep = norms <= MASSIVE * norms.median()
        metrics["massive_tokens_zeroed"] = int((~keep).sum())
        stats = latent_stats(sae, acts, keep)
        alive = stats.density > 0
        metrics["alive_latents"] = int(alive.sum())
        explain_rows = torch.arange(0, n_rows, 2)
        score_rows = torch.arange(1, n_rows, 2)
        fires = stats.row_max > 0
        n_explain = 4 if args.smoke else args.n_explain
        n_pos = 3 if args.smoke else args.n_pos
        n_neg = 3 if args.smoke else args.n_neg
        eligible = ((fires[explain_rows].sum(0) >= n_explain)
                    & (fires[score_rows].sum(0) >= n_pos)
                    & ((~fires[score_rows]).sum(0) >= n_neg))  # fmt: skip
        metrics["scorable_latents"] = int(eligible.sum())
        run.save_fig(mechanism_figure(toy, n_explain, n_pos, n_neg), "mechanism")
        gen = torch.Generator().manual_seed(args.seed)
        pool = torch.nonzero(eligible).flatten()
        n_lat = min(4 if args.smoke else args.n_latents, len(pool))
        latents = pool[torch.randperm(len(pool), generator=gen)[:n_lat]].sort().values.tolist()
        metrics["latents"] = latents
        run.print(f"  {metrics['alive_latents']} alive latents, {len(pool)} scorable; "
                  f"picked {latents}")  # fmt: skip
        codes = encode_grid(sae, acts, latents, keep).cpu()  # [rows pos k]
        vocab_cache: dict[int, str] = {}

        def strs(ids: list[int]) -> list[str]:
            for i in ids:
                if i not in vocab_cache:
                    vocab_cache[i] = tok.decode([i])
            return [vocab_cache[i] for i in ids]

        def window(c: Context) -> list[int]:  # codes position j is row token j + 1
            return rows[c.row][c.start + 1 : c.stop + 1]

        # 2. explanations from the explain half
        example_sets, token_explanations = [], []
        for j in range(n_lat):
            tops = top_contexts(codes[..., j], n_explain, args.before, args.after, explain_rows)
            peaks = Counter(strs([rows[c.row][c.pos + 1] for c in tops])).most_common(3)
            token_explanations.append("the tokens " + ", ".join(f'"{flat(t)}"' for t, _ in peaks))
            example_sets.append([flat(mark_tokens(strs(window(c)), c.acts, 0.5 * c.value))
                                 for c in tops])  # fmt: skip
        metrics["explainer_prompt_example"] = example_sets[0][:3]
        api = api_source()
        small_explanations = None
        if api is not None:
            explanations = api_explain(example_sets)
            run.record_source("explainer", f"API model ({api})")
            explainer_name = f"API ({api})"
        else:
            name = "smollm2-135m" if args.smoke else args.explainer
            ex_lm, fallback = load_model_or_fallback(name, run.device, log=run.print)
            if fallback:
                metrics["explainer_fallback"] = fallback
            run.record_source("explainer", ex_lm.source)
            explainer_name = ex_lm.name
            new_tokens = 12 if args.smoke else 24
            explanations = explain(ex_lm.model.eval(), ex_lm.tokenizer, example_sets, new_tokens)
            if ex_lm.name != lm.name:  # the small model's own explanations, for comparison
                small_explanations = explain(model, tok, example_sets, new_tokens)
                metrics["explanations_small"] = dict(zip(map(str, latents), small_explanations,
                                                         strict=True))  # fmt: skip
        metrics["explainer"] = explainer_name
        metrics["explanations"] = dict(zip(map(str, latents), explanations, strict=True))
        for lat, e in zip(latents, explanations, strict=True):
            run.print(f"  latent {lat}: {e}")

        # 3. detection on the score half: own, deranged, generic and peak-token explanations
        scorer = "smollm2-135m" if args.smoke else args.scorer
        loaded = {lm.name: lm} | ({} if api is not None else {ex_lm.name: ex_lm})
        if scorer in loaded:
            sc_lm = loaded[scorer]
        else:
            sc_lm, fallback = load_model_or_fallback(scorer, run.device, log=run.print)
            if fallback:
                metrics["scorer_fallback"] = fallback
        run.record_source("scorer", sc_lm.source)
        metrics["scorer"] = sc_lm.name
        yes, no = answer_ids(sc_lm.tokenizer)
        perm = derangement(n_lat, gen).tolist()
        given = {"own": explanations, "other": [explanations[k] for k in perm],
                 "generic": [GENERIC_EXPLANATION] * n_lat,
                 "tokens": token_explanations}  # fmt: skip
        conditions = dict(CONDITIONS)
        metrics["explanations_tokens"] = dict(zip(map(str, latents), token_explanations,
                                                  strict=True))  # fmt: skip
        pad = sc_lm.tokenizer.pad_token_id or 0
        check = {}
        for expl, labs in CHECKS.items():
            parts = [detection_prompt(sc_lm.tokenizer, expl.split(" (")[0], t) for t in CHECK_TEXTS]
            s = yes_no_scores(sc_lm.model.eval(), parts[0][0], [q for _, q in parts], yes, no, pad)
            m = detection_metrics(s, torch.tensor(labs))
            check[expl] = {"auroc": round(m["auroc"], 4), "yes_rate": round(m["yes_rate"], 4)}
        metrics["scorer_check"] = check
        run.print(f"  scorer check on hand-written texts: {check}")
        per: dict = {}
        ctx_sets = []
        for j, lat in enumerate(progress(latents, desc="detection")):
            pos = quantile_contexts(codes[..., j], n_pos, 5, args.before, args.after, score_rows,
                                    gen)  # fmt: skip
            neg = silent_contexts(codes[..., j], n_neg, args.before + args.after + 1, score_rows,
                                  gen)  # fmt: skip
            ctx_sets.append((pos, neg))
            texts = [flat(tok.decode(window(c))) for c in pos + neg]
            labels = torch.tensor([1] * len(pos) + [0] * len(neg))
            per[lat] = {}
            for cond in conditions:
                parts = [detection_prompt(sc_lm.tokenizer, given[cond][j], t) for t in texts]
                s = yes_no_scores(sc_lm.model.eval(), parts[0][0], [q for _, q in parts], yes, no,
                                  pad, args.batch_size)  # fmt: skip
                per[lat][cond] = {k: round(v, 4) for k, v in detection_metrics(s, labels).items()}
                if j == 0 and cond == "own":
                    metrics["detection_prompt_example"] = sc_lm.tokenizer.decode(sum(parts[0], []))
        metrics["detection_per_latent"] = {str(k): v for k, v in per.items()}
        summary = {}
        for cond in conditions:
            a = torch.tensor([per[lat][cond]["auroc"] for lat in latents])
            acc = torch.tensor([per[lat][cond]["accuracy"] for lat in latents])
            yr = torch.tensor([per[lat][cond]["yes_rate"] for lat in latents])
            summary[cond] = {"mean_auroc": round(a.mean().item(), 4),
                             "median_auroc": round(a.median().item(), 4),
                             "frac_auroc_above_0.7": round((a > 0.7).double().mean().item(), 4),
                             "mean_accuracy": round(acc.mean().item(), 4),
                             "mean_yes_rate": round(yr.mean().item(), 4)}  # fmt: skip
        own = torch.tensor([per[lat]["own"]["auroc"] for lat in latents])
        for cond in [c for c in conditions if c != "own"]:
            base = torch.tensor([per[lat][cond]["auroc"] for lat in latents])
            diff = own - base
            boot = torch.randint(0, n_lat, (2000, n_lat), generator=gen)
            means = diff[boot].mean(1)
            summary[f"own_minus_{cond}"] = {
                "mean": round(diff.mean().item(), 4),
                "ci95": [round(means.quantile(0.025).item(), 4),
                         round(means.quantile(0.975).item(), 4)],
                "latents_own_higher": int((diff > 0).sum()),
                "latents_tied": int((diff == 0).sum()),
            }  # fmt: skip
        metrics["detection_summary"] = summary
        run.print(f"  detection summary: {summary}")
        fig = detection_figure(per, conditions, explainer_name, sc_lm.name, (n_pos, n_neg))
        run.save_fig(fig, "detection")

        # 4. dashboards over all rows read
        gain = model.ln_final.w.detach()
        effects = logit_effects(sae.W_dec.detach()[latents], model.unembed.W_U.detach(), gain)
        cards, mixes = [], {}
        for j, lat in enumerate(latents):
            col = codes[..., j]
            tops = top_contexts(col, 20, args.before, args.after)
            mixes[lat] = {s: sum(sources[c.row] == s for c in tops) for s in SOURCES}
            quants = quantile_contexts(col, 10, 5, args.before, args.after, generator=gen)
            counts, edges = activation_histogram(col[keep.cpu()])
            lt = top_logit_tokens(effects[j].cpu(), 10)

            def shown(cs: list[Context], col=col) -> list[ShownContext]:
                return [ShownContext(strs(window(c)), list(c.acts), sources[c.row]) for c in cs]

            pos, neg = ctx_sets[j]
            cards.append(LatentCard(
                latent=lat, density=stats.density[lat].item(), max_act=col.max().item(),
                explanation=explanations[j], note="random pick",
                scores={f"AUROC with {v}": per[lat][c]["auroc"] for c, v in conditions.items()},
                hist_counts=counts.tolist(), hist_edges=edges.tolist(),
                top_logits=list(zip(strs(lt["top_ids"]), lt["top_values"], strict=True)),
                bottom_logits=list(zip(strs(lt["bottom_ids"]), lt["bottom_values"], strict=True)),
                source_mix=mixes[lat],
                sections={"Top-activating contexts (all rows read)": shown(tops),
                          "Samples across the activation range": shown(quants),
                          "Held-out contexts the scorer judged: firing": shown(pos),
                          "Held-out contexts the scorer judged: silent": shown(neg)},
            ))  # fmt: skip
        title = f"SAE latents of {lm.name}, {p.hook}"
        for card in cards:
            path = run.out_dir / page_name(card.latent)
            path.write_text(latent_page(card, title), encoding="utf-8")
            run.add_file(path)
        intro = (f"{n_lat} latents drawn at random from the {len(pool)} that fire in enough rows "
                 f"to be explained and scored; {n_rows} rows read.")  # fmt: skip
        index = run.out_dir / "dashboards.html"
        index.write_text(index_page(cards, title, intro), encoding="utf-8")
        run.add_file(index)
        metrics["dashboards"] = len(cards)
        best = max(cards, key=lambda c: (per[c.latent]["own"]["auroc"], -c.latent))
        metrics["dashboard_figure_latent"] = best.latent
        metrics["logit_effects_shown"] = {
            str(c.latent): {"top": c.top_logits[:5], "bottom": c.bottom_logits[:5]} for c in cards
        }
        run.save_fig(dashboard_figure(best, per[best.latent]["own"]["auroc"]), "dashboard")
        base = {s: metrics["rows_by_source"].get(s, 0) for s in SOURCES}
        metrics["top_context_sources"] = {str(k): v for k, v in mixes.items()}
        run.save_fig(source_figure(mixes, base), "sources")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
