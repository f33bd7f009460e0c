"""Day 38 — MLP neuron analysis on SmolLM2-135M: find an interpretable neuron and explain it.

Shows:
1. a streaming scan of every MLP neuron (30 layers x 1,536, `mlp.hook_post` = silu(gate) * up of
   the SwiGLU MLP) over a few hundred Shakespeare windows: top-k activating examples per neuron
   and activation statistics (mean, std, fraction of positions above a threshold), in one pass;
2. a shortlist: sparse, selective neurons (top-k mean >> std) whose direct logit effect
   (`W_out[n]` through the final RMSNorm gain into `W_U`) agrees with the token that really follows
   their top examples;
3. a mechanism diagram: one SwiGLU neuron as key (when it fires) and value (what it writes),
   with the numbers of the post's worked example computed by the project's MLP and
   `neuron_logit_effects`;
4. one neuron explained with evidence: its max-activating examples (tokens highlighted by
   activation), its promoted / suppressed tokens, a hypothesis tested on hand-written positive and
   negative sentences (the same word in both, so the token alone cannot explain a difference), and
   the loss change when it is zero- or mean-ablated, where it fires vs elsewhere.

The neuron to explain (`--layer`, `--neuron`) was picked by looking at the shortlist of an earlier
full run; the run reports where it ranks. The hypothesis is written in HYPOTHESIS below.

Run:  arena run 38 [--smoke] [--publish]   (or python 07_mech_interp/day_038_neurons.py)
Full run: 76 s when nothing else runs on 2 cores; several minutes when other jobs share them
(most of it the scan of ~16,000 tokens through the 135M model).
Smoke: ~5 s (a tiny random Llama on a character-level Shakespeare tokenizer).
"""

import time
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import CharTokenizer, load_shakespeare
from arena_core.interp.neurons import (
    context_windows,
    max_activating_examples,
    neuron_ablation_effect,
    neuron_activations,
    neuron_logit_effects,
    next_token_agreement,
    top_tokens,
)
from arena_core.models import load_model
from arena_core.transformer import Llama, TransformerConfig
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils import diagrams as dg

HYPOTHESIS = (
    "L26 N244 fires on an auxiliary that opens a clause before its subject, above all ' do' / "
    "' are' opening a question (subject-auxiliary inversion: 'What do | you mean', 'Why are | "
    "you sad'), and directly promotes the subject pronoun that comes next (' they', ' you', "
    "' we'); the same words in statements stay low"
)
# Hand-written probes; [brackets] mark the token whose activation is read. Each sentence gets a
# speaker line first (Shakespeare layout), so the probed word is never at the attention-sink
# position 0.
QUESTIONS = [
    "What [do] you mean, my lord?", "Where [are] you going so late?", "How [do] you, good sir?",
    "Why [do] they weep so?", "What [are] we to do now?", "Why [are] you so sad?",
    "Where [do] they keep the gold?", "Whence [are] you come?", "Good sir, why [do] you start?",
    "And what [do] we owe the king?", "Tell me, [are] you well?", "O, [are] you come at last?",
]  # fmt: skip
STATEMENTS = [
    "I [do] not know the man.", "They [are] here within the hall.", "We [do] love him dearly.",
    "You [are] welcome to our house.", "These [are] the days of our sorrow.",
    "Thou shalt [do] as I command.", "The stars [are] bright tonight.",
    "What they [do] is no concern of mine.", "I would [do] anything for thee.",
    "My lords [are] gone to bed.", "Such things [are] not for us.", "Good deeds [do] outlive us.",
]  # fmt: skip
OTHER_AUX_QUESTIONS = [
    "[Will] you go with me?", "[Can] you tell me the way?", "[Have] you seen the king?",
    "[Shall] we dance?", "What [would] you have me do?", "[Did] you hear that?",
    "[Is] he dead?", "Where [is] the duke?",
]  # fmt: skip
OTHER_AUX_STATEMENTS = [
    "You [will] go with me.", "I [can] tell you the way.", "I [have] seen the king.",
    "We [shall] dance.", "I [would] have thee stay.", "I [did] hear that.",
    "He [is] dead.", "The duke [is] here.",
]  # fmt: skip
SPEAKERS = ["HAMLET", "PORTIA", "ROMEO", "KING LEAR"]


@dataclass
class Args(DayArgs):
    threads: int = 2  # torch CPU threads (the 135M-parameter forwards use both cores well)
    n_windows: int = 256  # non-overlapping Shakespeare windows scanned (validation split)
    window: int = 64  # tokens per window
    batch_size: int = 16  # windows per forward pass of the scan
    k: int = 20  # max-activating examples kept per neuron
    threshold: float = 1.0  # an activation above this counts as "active" in the statistics
    skip_positions: int = 1  # leave out position 0 (the attention sink) of every window
    layer: int = 26  # the neuron to explain: layer ...
    neuron: int = 244  # ... and index (chosen from the shortlist of an earlier run)
    fire_threshold: float = 8.0  # "fires strongly" for the ablation split (~8 std of L26 N244)
    n_shortlist: int = 12  # shortlist entries printed and recorded
    n_show: int = 12  # max-activating examples drawn


def tiny_setup(text: str, run: Run):
    """Smoke: a random 2-layer Llama over a character-level tokenizer of the same text."""
    tok = CharTokenizer.from_text(text)
    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_head=8, d_mlp=48,
        d_vocab=tok.vocab_size, n_ctx=128, init_range=0.2,
    )  # fmt: skip
    run.record_source("model", "tiny random Llama (smoke), character-level Shakespeare tokenizer")
    return Llama(cfg).eval(), tok


def corpus_windows(ids: list[int], n: int, width: int, gen: torch.Generator) -> torch.Tensor:
    """`n` non-overlapping windows of `width` tokens, chosen at random, kept in text order."""
    chunks = torch.tensor(ids[: len(ids) // width * width]).view(-1, width)
    pick = torch.randperm(len(chunks), generator=gen)[: min(n, len(chunks))].sort().values
    return chunks[pick]


def decode(tok, i: int) -> str:
    return "" if i < 0 else tok.decode([int(i)]).replace("\n", "\\n")


def probe_activations(model, tok, sentences: list[str], layer: int, neuron: int) -> list[float]:
    out = []
    for i, sentence in enumerate(sentences):
        pre, rest = sentence.split("[", 1)
        word, post = rest.split("]", 1)
        prefix = f"{SPEAKERS[i % len(SPEAKERS)]}:\n{pre}"
        at = len(tok(prefix + word).input_ids) - 1  # last token of the bracketed word
        ids = torch.tensor([tok(prefix + word + post).input_ids])
        out.append(neuron_activations(model, ids, layer, neuron)[0, at].item())
    return out


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(a random positive > a random negative), ties count half."""
    p, n = torch.tensor(pos)[:, None], torch.tensor(neg)[None, :]
    return ((p > n).float() + 0.5 * (p == n).float()).mean().item()


def shortlist_figure(sel, agree, frac, layer, neuron, title) -> Figure:
    fig = Figure(figsize=(9, 5.5))
    ax = fig.add_subplot(1, 1, 1)
    layers = torch.arange(sel.shape[0])[:, None].expand_as(sel)
    sc = ax.scatter(sel.flatten(), agree.flatten(), c=layers.flatten(), s=3, cmap="viridis")
    ax.scatter([sel[layer, neuron]], [agree[layer, neuron]], s=120, facecolors="none",
               edgecolors="red", lw=2, label=f"L{layer} N{neuron}")  # fmt: skip
    ax.axvline(
        10, ls="--", color="grey", lw=1, label="shortlist: selectivity >= 10 (and < 5% active)"
    )
    ax.set_xlabel("selectivity: mean of top-k activations / std over all positions")
    ax.set_ylabel("next-token agreement (z-score of the real\nnext token in the direct effect)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(sc, ax=ax, label="layer")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def highlight_figure(rows: list[list[str]], acts: torch.Tensor, centre: int, title: str) -> Figure:
    """Each row: the tokens of one window, background colour = the neuron's activation. Tokens
    are placed one after the other by measuring each drawn text box with the Agg renderer."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    cmap = matplotlib.colormaps["RdBu_r"]
    vmax = acts.abs().max().item() or 1.0
    chars = max(sum(len(t) + 1 for t in row) for row in rows) + 8
    fig = Figure(figsize=(0.09 * chars + 0.6, 0.34 * len(rows) + 0.8))
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.9))
    ax.axis("off")
    to_axes = ax.transAxes.inverted()
    for r, row in enumerate(rows):
        y = 1 - (r + 0.5) / len(rows)
        style = dict(family="monospace", fontsize=9, va="center", transform=ax.transAxes)
        ax.text(0, y, f"{acts[r, centre].item():6.1f}", **style)
        x = 7.5 / chars
        for c, token in enumerate(row):
            if not token:
                continue
            colour = cmap(0.5 + 0.5 * acts[r, c].item() / vmax)
            box = dict(boxstyle="square,pad=0.15", fc=colour, lw=1.0,
                       ec="black" if c == centre else "none")  # fmt: skip
            dark = abs(acts[r, c].item()) > 0.6 * vmax  # white text on the darkest cells
            text = ax.text(x, y, token, bbox=box, **style, color="white" if dark else "black",
                           fontweight="bold" if c == centre else "normal")  # fmt: skip
            extent = text.get_window_extent(renderer).transformed(to_axes)
            x = extent.x1 + 0.6 / chars  # a small gap so the boxes do not touch
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    return fig


def logit_figure(tops: dict, tok, title: str) -> Figure:
    fig = Figure(figsize=(10, 4.5))
    for i, (kind, colour) in enumerate((("promoted", "tab:red"), ("suppressed", "tab:blue"))):
        ax = fig.add_subplot(1, 2, i + 1)
        ids, vals = zip(*tops[kind], strict=True)
        ax.barh(range(len(ids))[::-1], vals, color=colour)
        ax.set_yticks(range(len(ids))[::-1], [repr(tok.decode([t])) for t in ids], fontsize=8)
        ax.set_xlabel("direct logit effect per unit activation")
        ax.set_title(f"most {kind} tokens", fontsize=10)
        ax.grid(False, axis="y")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def probe_figure(groups: dict[str, list[float]], fire: float, title: str) -> Figure:
    fig = Figure(figsize=(9, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    for i, vals in enumerate(groups.values()):
        jitter = torch.linspace(-0.15, 0.15, len(vals))
        ax.scatter(i + jitter, vals, s=25, alpha=0.8)
        ax.hlines(sum(vals) / len(vals), i - 0.3, i + 0.3, color="black", lw=2)
    ax.axhline(fire, ls="--", color="grey", label=f"ablation 'fires' threshold ({fire:g})")
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel("activation on the bracketed word")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right")
    ax.grid(False, axis="x")
    fig.tight_layout()
    return fig


def ablation_figure(effects: dict[str, dict], token: str, title: str) -> Figure:
    from matplotlib.patches import Patch

    colours = {"fire": "tab:red", "other": "tab:grey"}
    fig = Figure(figsize=(9, 4.4))
    for i, (key, ylabel) in enumerate(
        (("delta_loss", "loss change (nats/token)"),
         ("delta_logprob_token", f"change of log p({token!r})"))
    ):  # fmt: skip
        ax = fig.add_subplot(1, 2, i + 1)
        for j, eff in enumerate(effects.values()):
            for d, where in enumerate(("fire", "other")):
                x, v = j * 3 + d, eff[f"{key}_{where}"]
                ax.bar([x], [v], color=colours[where])
                ax.text(
                    x, v, f"{v:+.3f}", ha="center", va="bottom" if v >= 0 else "top", fontsize=8.5
                )
        ax.set_xticks([j * 3 + 0.5 for j in range(len(effects))],
                      [f"{kind}-ablated" for kind in effects])  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel(ylabel)
        ax.grid(False, axis="x")
        ax.margins(y=0.12)
    handles = [Patch(color=colours["fire"], label="where it fires"),
               Patch(color=colours["other"], label="all other positions")]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


# The worked example of the post: a SwiGLU MLP with a 2-wide residual stream, one neuron and a
# 3-token vocabulary (" you", " him", " the"). Two inputs: one like an auxiliary opening a
# question, one like the same word in a statement.
TOY = {
    "W_gate": [[1.0], [0.5]],
    "W_in": [[0.5], [0.25]],
    "W_out": [[1.0, -1.0]],
    "W_U": [[2.0, -1.0, 0.0], [0.0, 1.0, 0.0]],
    "x_question": [1.0, 2.0],
    "x_statement": [-2.0, 1.0],
}
TOY_TOKENS = ["' you'", "' him'", "' the'"]


def toy_neuron_numbers() -> dict:
    """Run the toy MLP through the project's own modules: the SwiGLU block gives the neuron's
    activation (read at its hook_post) and what it writes; `neuron_logit_effects` the direct
    effect of one unit of activation on each logit."""
    cfg = TransformerConfig(
        d_model=2, n_layers=1, n_heads=1, d_head=2, d_mlp=1, d_vocab=3, n_ctx=4,
        tie_embeddings=False,
    )  # fmt: skip
    model = Llama(cfg).eval()
    mlp = model.blocks[0].mlp
    with torch.no_grad():
        for name in ("W_gate", "W_in", "W_out"):
            getattr(mlp, name).copy_(torch.tensor(TOY[name]))
        model.unembed.W_U.copy_(torch.tensor(TOY["W_U"]))
        model.ln_final.w.fill_(1.0)
    seen = []
    mlp.hook_post.add_hook(lambda act, hook: seen.append(act.item()))  # reads, returns None
    out = {}
    with torch.no_grad():
        for kind in ("question", "statement"):
            x = torch.tensor([[TOY[f"x_{kind}"]]])
            gate = (x @ mlp.W_gate).item()
            out[kind] = {
                "gate": gate,
                "silu_gate": torch.nn.functional.silu(torch.tensor(gate)).item(),
                "linear": (x @ mlp.W_in).item(),
                "write": mlp(x)[0, 0].tolist(),
                "post": seen[-1],
            }
    mlp.hook_post.remove_hooks()
    out["logit_effect"] = neuron_logit_effects(model, 0, 0)[0].tolist()
    return out


def mechanism_figure(toy: dict) -> Figure:
    """One SwiGLU neuron as a key (when it fires, top row) and a value (what it writes, bottom
    row), with the numbers of the worked example for the question-like input."""
    q, st = toy["question"], toy["statement"]
    fig, ax = dg.canvas(width=12, height=10)
    # top row: the key
    dg.label(ax, (0, 9.3), "KEY: when does the neuron fire?", fontsize=11, fontweight="bold",
          ha="left")  # fmt: skip
    dg.matrix(ax, [[v] for v in TOY["x_question"]], xy=(0, 5.9), title="x", cmap=None)
    dg.label(ax, (0.5, 5.7), "residual\nstream", fontsize=9, va="top")
    dg.box(ax, (1.8, 7.6), f"x · w_gate = {q['gate']:g}", width=2.8, height=0.9, role="param")
    dg.box(ax, (1.8, 4.9), f"x · w_in = {q['linear']:g}", width=2.8, height=0.9, role="param")
    dg.arrow(ax, (1.05, 7.2), (1.8, 8.05))
    dg.arrow(ax, (1.05, 6.8), (1.8, 5.35))
    dg.box(ax, (5.2, 7.6), f"silu → {q['silu_gate']:.2f}", width=2.0, height=0.9, role="op")
    dg.arrow(ax, (4.6, 8.05), (5.2, 8.05))
    dg.box(ax, (7.7, 6.3), "×", width=0.8, height=0.8, role="op", fontsize=14)
    dg.arrow(ax, (7.2, 8.05), (8.1, 7.1))
    dg.arrow(ax, (4.6, 5.35), (8.1, 6.3))
    dg.box(ax, (9.1, 6.1), f"activation\npost = {q['post']:.2f}", width=2.4, height=1.2,
        role="highlight")  # fmt: skip
    dg.arrow(ax, (8.5, 6.7), (9.1, 6.7))
    # bottom row: the value
    dg.label(ax, (0, 3.9), "VALUE: what does it write?", fontsize=11, fontweight="bold", ha="left")
    dg.matrix(ax, TOY["W_out"], xy=(0, 1.6), title="W_out[n]", cmap=None)
    dg.arrow(ax, (2.05, 2.1), (3.75, 2.1), "(⊙ w_final) · W_U", fontsize=9)
    effect = toy["logit_effect"]
    dg.matrix(ax, [effect], xy=(3.8, 1.6), title="effect per unit", cmap=None,
           col_labels=TOY_TOKENS, fmt="{:g}", fontsize=9)  # fmt: skip
    dg.arrow(ax, (6.85, 2.1), (8.55, 2.1), f"× {q['post']:.2f}", fontsize=9)
    scaled = [q["post"] * v for v in effect]
    dg.matrix(ax, [scaled], xy=(8.6, 1.6), title="logit change", cmap="RdBu_r", fmt="{:+.2f}",
           col_labels=TOY_TOKENS, fontsize=9)  # fmt: skip
    dg.arrow(ax, (10.3, 6.1), (7.7, 2.65), color="#d62728", curve=-0.2)
    dg.label(ax, (0, 0.9),
          f"A statement-like input x = ({TOY['x_statement'][0]:g}, {TOY['x_statement'][1]:g}): "
          f"x · w_gate = {st['gate']:g}, silu → {st['silu_gate']:.2f}, x · w_in = "
          f"{st['linear']:g},\npost = {st['post']:.2f}: the same value vector, scaled almost "
          "to nothing.", fontsize=9.5, ha="left", va="top")  # fmt: skip
    dg.finish(ax)
    return fig


def main(args: Args) -> dict:
    with Run(day=38, args=args) as run:
        toy = toy_neuron_numbers()
        run.save_fig(mechanism_figure(toy), "mechanism")
        corpus = load_shakespeare("val")
        run.record_source("data", f"Shakespeare validation split ({corpus.source})")
        if args.smoke:
            model, tok = tiny_setup(corpus.text[:20000], run)
            text, n_windows, width, k = corpus.text[:20000], 12, 24, 5
        else:
            lm = load_model("smollm2-135m")
            model, tok = lm.model, lm.tokenizer
            run.record_source("model", lm.source)
            text, n_windows, width, k = corpus.text, args.n_windows, args.window, args.k
        model = model.to(run.device)
        gen = torch.Generator().manual_seed(args.seed)
        tokens = corpus_windows(tok(text).input_ids, n_windows, width, gen).to(run.device)
        metrics: dict = {"hook": "blocks.{l}.mlp.hook_post (SwiGLU: silu(x W_gate) * (x W_in))"}
        metrics["toy_example"] = toy

        # 1. one streaming pass: top-k examples and statistics of every neuron of every layer
        start = time.perf_counter()
        stats = max_activating_examples(
            model, tokens, list(range(model.cfg.n_layers)), k=k, batch_size=args.batch_size,
            threshold=args.threshold, skip_positions=args.skip_positions,
        )  # fmt: skip
        metrics["scan_seconds"] = time.perf_counter() - start
        metrics["scan_tokens"] = stats.n_positions
        metrics["scan_neurons"] = len(stats.layers) * model.cfg.d_mlp

        # 2. shortlist: sparse and selective, then ranked by next-token agreement
        sel = (stats.values.mean(-1) / stats.std.clamp(min=1e-6)).cpu()
        agree = next_token_agreement(model, stats, tokens).cpu()
        sparse = (stats.frac_active.cpu() < 0.05) & (sel >= 10)
        score = torch.where(sparse, agree, torch.full_like(agree, -torch.inf))
        order = score.flatten().argsort(descending=True)
        centre_tok = tokens[stats.doc, stats.pos].cpu()  # [layer neuron k]
        next_col = (stats.pos + 1).clamp(max=tokens.shape[1] - 1)
        shortlist = []
        for flat in order[: args.n_shortlist].tolist():
            lay, n = divmod(flat, model.cfg.d_mlp)
            common = centre_tok[lay, n].mode().values.item()
            promoted = top_tokens(neuron_logit_effects(model, lay, n)[0], 1)["promoted"][0][0]
            shortlist.append(
                f"L{lay} N{n}: agreement {agree[lay, n]:.1f}, selectivity {sel[lay, n]:.1f}, "
                f"fires on {decode(tok, common)!r}, promotes {decode(tok, promoted)!r}"
            )
        metrics["shortlist_rule"] = "frac_active < 0.05 and selectivity >= 10, by agreement"
        metrics["shortlist"] = shortlist
        metrics["n_sparse_selective"] = int(sparse.sum())
        run.print("shortlist:\n  " + "\n  ".join(shortlist))

        # 3. the neuron to explain
        if args.smoke:  # the tiny model has no L26: explain the top of its shortlist
            layer, neuron = divmod(order[0].item(), model.cfg.d_mlp)
        else:
            layer, neuron = args.layer, args.neuron
        rank = (order == layer * model.cfg.d_mlp + neuron).nonzero()
        metrics |= {
            "layer": layer,
            "neuron": neuron,
            "hypothesis": HYPOTHESIS,
            "shortlist_rank": int(rank[0, 0]) + 1 if bool(sparse[layer, neuron]) else -1,
            "selectivity": sel[layer, neuron].item(),
            "next_token_agreement": agree[layer, neuron].item(),
            "frac_active": stats.frac_active[layer, neuron].item(),
            "mean_activation": stats.mean[layer, neuron].item(),
            "std_activation": stats.std[layer, neuron].item(),
            "top_activations": stats.values[layer, neuron, :5].tolist(),
        }
        tag = f"L{layer} N{neuron}"
        tops = centre_tok[layer, neuron]
        common = tops.mode().values.item()
        metrics["top_example_tokens"] = sorted({decode(tok, t) for t in tops.tolist()})
        metrics["top_example_next_tokens"] = sorted(
            {decode(tok, t) for t in tokens[stats.doc[layer, neuron], next_col[layer, neuron]]
             .tolist()}
        )  # fmt: skip
        metrics["top_example_most_common_token_share"] = (tops == common).float().mean().item()
        run.save_fig(
            shortlist_figure(sel, agree, stats.frac_active.cpu(), layer, neuron,
                             f"{metrics['scan_neurons']:,} MLP neurons over "
                             f"{stats.n_positions:,} Shakespeare tokens"),
            "shortlist",
        )  # fmt: skip

        # max-activating examples with every token of the window coloured by activation
        show = min(args.n_show, k)
        doc, pos = stats.doc[layer, neuron, :show], stats.pos[layer, neuron, :show]
        before, after = (10, 3) if not args.smoke else (6, 2)
        windows, centre = context_windows(tokens, doc, pos, before, after)
        row_acts = neuron_activations(model, tokens[doc], layer, neuron)  # [show pos]
        cols = (pos[:, None] + torch.arange(-before, after + 1, device=pos.device)).clamp(
            0, tokens.shape[1] - 1
        )
        win_acts = torch.where(windows >= 0, row_acts.gather(1, cols), 0.0).cpu()
        rows = [[decode(tok, t) for t in w] for w in windows.tolist()]
        run.save_fig(
            highlight_figure(rows, win_acts, before,
                             f"{tag}: top {show} activations (left) in {stats.n_positions:,} "
                             "tokens; colour = activation (red +, blue -), box = max token"),
            "max_activating",
        )  # fmt: skip

        # logit effects: the direct path W_out[n] * w_final @ W_U
        effects = neuron_logit_effects(model, layer, neuron)[0].cpu()
        tops_logit = top_tokens(effects, 12)
        metrics["promoted_tokens"] = [decode(tok, t) for t, _ in tops_logit["promoted"]]
        metrics["promoted_values"] = [v for _, v in tops_logit["promoted"]]
        metrics["suppressed_tokens"] = [decode(tok, t) for t, _ in tops_logit["suppressed"]]
        you = tok(" you").input_ids[-1]
        metrics["rank_of_you_in_effects"] = int((effects > effects[you]).sum()) + 1
        metrics["logit_effect_z_of_you"] = ((effects[you] - effects.mean()) / effects.std()).item()
        run.save_fig(
            logit_figure(tops_logit, tok, f"{tag}: direct logit effect of W_out[n] through the "
                         "final norm's gain (per-position scale left out)"),
            "logit_effects",
        )  # fmt: skip

        # hypothesis test on hand-written sentences
        fire_thr = args.fire_threshold if not args.smoke else stats.values[layer, neuron, -1].item()
        groups = {
            "do/are opening\na question": QUESTIONS,
            "do/are in\na statement": STATEMENTS,
            "other auxiliary\nin a question": OTHER_AUX_QUESTIONS,
            "other auxiliary\nin a statement": OTHER_AUX_STATEMENTS,
        }
        acts = {g: probe_activations(model, tok, s, layer, neuron) for g, s in groups.items()}
        for g, key in zip(groups, ("q_do_are", "s_do_are", "q_other", "s_other"), strict=True):
            vals = torch.tensor(acts[g])
            metrics[f"probe_{key}_mean"] = vals.mean().item()
            metrics[f"probe_{key}_min"] = vals.min().item()
            metrics[f"probe_{key}_max"] = vals.max().item()
            metrics[f"probe_{key}_n"] = len(vals)
        a = list(acts.values())
        metrics["probe_auroc_do_are"] = auroc(a[0], a[1])
        metrics["probe_auroc_other_aux"] = auroc(a[2], a[3])
        run.save_fig(
            probe_figure(acts, fire_thr,
                         f"{tag} on hand-written probes (same words in questions and statements)"),
            "probes",
        )  # fmt: skip

        # ablation where the neuron fires vs elsewhere, in the windows of its top examples
        docs = torch.unique(stats.doc[layer, neuron])
        abl = {}
        for kind, mean in (("zero", None), ("mean", stats.mean[layer, neuron].item())):
            abl[kind] = neuron_ablation_effect(
                model, tokens[docs], layer, neuron, fire_thr, mean=mean, token_id=you
            )
            metrics |= {f"ablation_{kind}_{key}": v for key, v in abl[kind].items()}
        metrics["ablation_windows"] = len(docs)
        metrics["ablation_fire_threshold"] = fire_thr
        run.save_fig(
            ablation_figure(abl, decode(tok, you),
                            f"Ablating {tag} in the {len(docs)} windows holding its top-{k} "
                            f"examples: positions with activation > {fire_thr:g} vs the rest"),
            "ablation",
        )  # fmt: skip
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
