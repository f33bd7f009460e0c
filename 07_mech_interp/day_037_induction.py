"""Day 37 — Induction heads: attention-head analysis on SmolLM2-135M and on a 2-layer
attention-only model trained here, read both from activations and from the weights.

Shows:
1. SmolLM2 on repeated random tokens `[bos] r r`: induction, previous- and first-token score grids
   (30 x 9 heads), the attention patterns of the best induction head and the best previous-token
   head, the per-token loss (first copy ~ ln d_vocab, repeated copy low), and the repeated-half
   loss with the top induction heads zero-ablated (and, as a control, as many random other heads),
   and their direct OV copying score on sampled token ids;
2. the project-trained 2-layer attention-only model (Shakespeare characters): induction and
   previous-token grids, the K-composition scores between layer-0 and layer-1 heads against a
   random-matrix baseline (Elhage et al. 2021), the OV copying accuracy of the induction heads,
   the positional QK circuit of the previous-token head, and the repeated-half loss before and
   after ablating the previous-token head(s) (and, separately, the induction head(s)).

Run:  arena run 37 [--smoke] [--publish]   (or python 07_mech_interp/day_037_induction.py)
Full run: ~15 s on 1 CPU thread once SmolLM2's conversion is cached (forwards on 4 x 101 tokens;
the 2-layer model is tiny).
Smoke: a few seconds (a tiny random Llama with GQA and a tiny random attention-only GPT-2).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.interp.attention_html import write_attention_html
from arena_core.interp.circuits import (
    composition_from_factors,
    composition_scores,
    full_qk_circuit,
    ov_copying_score,
    ov_self_ranks,
    random_composition_baseline,
)
from arena_core.interp.detectors import head_detector_scores, top_heads
from arena_core.interp.induction import (
    ablated_repeated_loss,
    induction_score_grid,
    plot_repeated_loss,
    repeated_loss,
    repeated_random_tokens,
)
from arena_core.models import load_model
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.patterns import plot_head_scores, plot_patterns
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils import diagrams as dg

# The worked example of the post: in a 2-wide residual stream, head A (layer 0) reads and writes
# direction 1 (d_head = 1: W_V = e1, W_O = e1^T). Head B (layer 1) has queries reading direction 2
# and one of three key directions; the K-composition score says how much of what A writes B's
# keys read.
TOY_W_V_A, TOY_W_O_A = [[1.0], [0.0]], [[1.0, 0.0]]
TOY_W_Q_B = [[0.0], [1.0]]
TOY_KEY_DIRECTIONS = [(1.0, 0.0), (0.6, 0.8), (0.0, 1.0)]


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads (one is fastest for these small forwards on 2 cores)
    batch: int = 4  # repeated-random-token sequences for SmolLM2
    block: int = 50  # length of the random block r (sequence = [bos] r r)
    fig_block: int = 12  # shorter block for the attention-pattern figures (readable labels)
    n_ablate: int = 3  # top induction heads of SmolLM2 ablated together (and OV-scored)
    ov_sample: int = 1000  # SmolLM2 token ids sampled for the OV copying score
    small_batch: int = 32  # sequences for the 2-layer attention-only model
    small_block: int = 40  # its random block (characters)
    head_threshold: float = 0.4  # a head "is" a prev-token / induction head above this score
    skip_smollm2: bool = False  # only analyse the 2-layer model
    skip_attn_only: bool = False  # only analyse SmolLM2
    attn_only_checkpoint: str = ""  # another attention-only checkpoint ("" = the committed one)


def tiny_llama() -> Llama:
    cfg = TransformerConfig(
        d_model=48, n_layers=3, n_heads=3, n_kv_heads=1, d_head=16, d_mlp=64, d_vocab=97, n_ctx=64
    )
    return Llama(cfg).eval()


def tiny_attn_only() -> GPT2:
    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=0, d_vocab=41, n_ctx=96, attn_only=True
    )
    return GPT2(cfg).eval()


def toy_composition() -> list[float]:
    """K-composition of the toy head A into head B for each key direction, by the project's
    `composition_from_factors` (the same call `composition_scores` makes for mode "K")."""
    left_a, right_a = torch.tensor([TOY_W_V_A]), torch.tensor([TOY_W_O_A])
    w_k = torch.tensor([[[x], [y]] for x, y in TOY_KEY_DIRECTIONS])  # [hb d_model d_head]
    w_q = torch.tensor(TOY_W_Q_B).expand(len(TOY_KEY_DIRECTIONS), 2, 1)
    scores = composition_from_factors(left_a, right_a, w_k, w_q.transpose(-1, -2))
    return [round(v, 6) for v in scores[0].tolist()]


def mechanism_figure(toy: list[float]) -> Figure:
    """The two-head induction circuit on the tokens `x A B y A`: a previous-token head writes
    "after A" into B's position; the induction head's query at the second A matches that key
    (K-composition) and its OV circuit copies B."""
    tokens = ["x", "A", "B", "y", "A"]
    w, gap = 1.3, 0.5
    fig, ax = dg.canvas(width=14, height=9)
    xs = [i * (w + gap) for i in range(len(tokens))]
    for i, (x, t) in enumerate(zip(xs, tokens, strict=True)):
        dg.box(ax, (x, 0), t, width=w, height=0.9, role="input", fontsize=13)
        dg.label(ax, (x + w / 2, -0.35), f"position {i}", fontsize=8.5, color="0.4")
    cx = [x + w / 2 for x in xs]
    # layer 0: the previous-token head at B looks at A and writes "after A" into B's stream
    dg.box(ax, (xs[2] - 0.55, 2.0), "B's stream now also\nholds: 'after A'", width=2.4,
           height=1.0, role="param", fontsize=9.5)  # fmt: skip
    dg.arrow(ax, (cx[2], 0.9), (cx[2], 2.0))
    dg.arrow(ax, (cx[2] - 0.3, 0.9), (cx[1], 0.9), curve=0.9, color="#1f77b4")
    dg.label(ax, (cx[1] - 0.5, 2.35), "layer 0:\nprevious-token head", fontsize=9,
             color="#1f77b4")  # fmt: skip
    # layer 1: the induction head at the second A
    dg.box(ax, (xs[4] - 0.55, 2.0), "query: 'I am A'", width=2.4, height=0.8, role="op",
           fontsize=9.5)  # fmt: skip
    dg.arrow(ax, (cx[4], 0.9), (cx[4], 2.0))
    dg.arrow(ax, (xs[4] - 0.55, 2.6), (xs[2] + 1.85, 2.6), curve=0.35, color="#d62728")
    dg.label(ax, ((cx[2] + cx[4]) / 2 - 0.1, 4.1),
             "layer 1, induction head:\nthe query matches the key 'after A'\n"
             "(K-composition: the key reads\nwhat the layer-0 head wrote)",
             fontsize=9.5, color="#d62728")  # fmt: skip
    dg.box(ax, (xs[4] - 0.55, 5.2), "copy what B's stream holds\n(OV circuit) → predict B",
           width=3.1, height=1.0, role="output", fontsize=9.5)  # fmt: skip
    dg.arrow(ax, (cx[4], 2.8), (cx[4], 5.2), color="#d62728")
    # the worked example of the K-composition score
    names = ", ".join(
        f"({x:g}, {y:g}) → {v:.2f}" for (x, y), v in zip(TOY_KEY_DIRECTIONS, toy, strict=True)
    )
    dg.box(ax, (0, 4.9), "Worked example, 2-wide stream:\nhead A writes along (1, 0);\n"
           "K-composition into B when B's key reads\n" + names.replace(", (", ",\n("),
           width=4.6, height=2.3, role="neutral", fontsize=9)  # fmt: skip
    dg.finish(ax)
    return fig


def fmt(heads: list[tuple[int, int, float]]) -> list[str]:
    return [f"L{layer}H{head}: {score:.3f}" for layer, head, score in heads]


def label(decode, t: int) -> str:
    s = decode([int(t)]).replace("\n", "\\n")
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in s)[:8] or "?"


def head_patterns(model, tokens, heads) -> torch.Tensor:
    """Patterns `[len(heads) q k]` of the given (layer, head) pairs on the first sequence."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[:1], names_filter=lambda n: "hook_pattern" in n)
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][0, h] for layer, h in heads])


def pattern_figure(model, tokens, heads, names, decode, title) -> Figure:
    pats = head_patterns(model, tokens, heads)
    fig = plot_patterns(pats, [label(decode, t) for t in tokens[0]], names, title)
    for ax in fig.axes:
        ax.grid(False)
        ax.tick_params(labelsize=8)
        ax.set_xlabel("key (attended-to token)")
        ax.set_ylabel("query (attending token)")
    fig.tight_layout()
    return fig


def grid_figure(scores: torch.Tensor, baseline: float, title: str) -> Figure:
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(scores, cmap="viridis", vmin=0)
    ax.grid(False)
    mid = float(scores.max()) / 2
    for i in range(scores.shape[0]):
        for j in range(scores.shape[1]):
            colour = "black" if scores[i, j] > mid else "white"
            ax.text(j, i, f"{scores[i, j]:.2f}", ha="center", va="center", fontsize=7, c=colour)
    ax.set_xticks(range(scores.shape[1]))
    ax.set_yticks(range(scores.shape[0]))
    ax.set_xlabel("layer-1 head (reads)")
    ax.set_ylabel("layer-0 head (writes)")
    ax.set_title(f"{title}\nrandom-matrix baseline {baseline:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.05, label="K-composition score")
    fig.tight_layout()
    return fig


def analyse_smollm2(run, args: Args, metrics: dict) -> None:
    gen = torch.Generator().manual_seed(args.seed)
    if args.smoke:
        model, decode, bos = tiny_llama().to(run.device), (lambda ids: str(ids[0])), 0
        run.record_source("model", "tiny random Llama (GQA), smoke run")
        block, batch = 8, 2
    else:
        lm = load_model("smollm2-135m", device=run.device)
        model, decode, bos = lm.model.eval(), lm.tokenizer.decode, lm.tokenizer.bos_token_id
        run.record_source("model", lm.source)
        block, batch = args.block, args.batch
    d_vocab = model.cfg.d_vocab
    tokens = repeated_random_tokens(batch, block, d_vocab, gen, bos=bos).to(run.device)
    run.record_source("data", f"uniform random tokens, [bos] + r + r, {batch} x {block}")
    ind = induction_score_grid(model, tokens, block)
    det = head_detector_scores(model, tokens)
    grids = {
        "induction": ind,
        "previous token": det["prev_token"],
        "first token": det["first_token"],
    }
    step = 5 if model.cfg.n_layers > 10 else 1
    fig = plot_head_scores(
        grids, "SmolLM2 heads on repeated random tokens", "score (mean attention)", step
    )
    run.save_fig(fig, "smollm2_grids")
    top_ind, top_prev = top_heads(ind, 8), top_heads(det["prev_token"], 5)
    metrics["smollm2_induction_top"] = fmt(top_ind)
    metrics["smollm2_prev_token_top"] = fmt(top_prev)
    metrics["smollm2_first_token_top"] = fmt(top_heads(det["first_token"], 5))
    metrics["smollm2_heads_induction_above_threshold"] = int((ind > args.head_threshold).sum())

    fig_block = min(args.fig_block, block)
    short = repeated_random_tokens(1, fig_block, d_vocab, gen, bos=bos).to(run.device)
    heads = [top_ind[0][:2], top_prev[0][:2]]
    names = [f"induction L{heads[0][0]}H{heads[0][1]}", f"prev-token L{heads[1][0]}H{heads[1][1]}"]
    fig = pattern_figure(model, short, heads, names, decode, "SmolLM2 on [bos] r r")
    run.save_fig(fig, "smollm2_patterns")
    # an interactive page (hover a token to see where each head looks): top-3 induction heads
    # and the best previous-token head
    html_heads = [t[:2] for t in top_ind[:3]] + [top_prev[0][:2]]
    path = write_attention_html(
        run.out_dir / "smollm2_attention.html",
        [label(decode, t) for t in short[0]],
        head_patterns(model, short, html_heads).float().cpu(),
        [f"L{a}H{b}" for a, b in html_heads],
        "SmolLM2-135M on [bos] r r: top induction heads and a previous-token head",
    )
    run.add_file(path)

    clean = repeated_loss(model, tokens, block)
    ablate = [(layer, head) for layer, head, _ in top_ind[: args.n_ablate]]
    ablated = ablated_repeated_loss(model, tokens, block, ablate)
    # control: as many random heads, none of them among the top 2 x n_ablate induction heads
    exclude = {(a, b) for a, b, _ in top_heads(ind, 2 * args.n_ablate)}
    pool = [
        (a, b)
        for a in range(model.cfg.n_layers)
        for b in range(model.cfg.n_heads)
        if (a, b) not in exclude
    ]
    pick = torch.randperm(len(pool), generator=gen)[: args.n_ablate]
    control_heads = [pool[int(i)] for i in pick]
    control = ablated_repeated_loss(model, tokens, block, control_heads)
    # OV copying of the top induction heads on a sample of token ids (49,152^2 would not fit)
    ids = torch.randperm(d_vocab, generator=gen)[: args.ov_sample]
    metrics["smollm2_ov_copying_sample"] = len(ids)
    metrics["smollm2_ov_copying_each"] = [
        f"L{a}H{b}: {ov_copying_score(model, [(a, b)], ids):.3f}" for a, b in ablate
    ]
    ranks = ov_self_ranks(model, ablate, ids)
    metrics["smollm2_ov_copying_together"] = int((ranks == 0).sum()) / len(ranks)
    # the direct W_E -> W_U reading skips 17+ layers; the self-token's rank says how far off it is
    metrics["smollm2_ov_self_rank_median_together"] = int(ranks.median())
    metrics["smollm2_loss_first_half"] = clean.first_half
    metrics["smollm2_loss_repeated_half"] = clean.repeated_half
    metrics["smollm2_ln_d_vocab"] = float(torch.tensor(float(d_vocab)).log())
    metrics["smollm2_ablated_heads"] = [f"L{a}H{b}" for a, b in ablate]
    metrics["smollm2_loss_repeated_half_ablated"] = ablated.repeated_half
    metrics["smollm2_control_heads"] = [f"L{a}H{b}" for a, b in control_heads]
    metrics["smollm2_loss_repeated_half_control"] = control.repeated_half
    losses = {
        "clean": clean,
        f"top-{len(ablate)} induction heads ablated": ablated,
        f"{len(control_heads)} random other heads ablated": control,
    }
    title = "SmolLM2 per-token loss on [bos] r r (grey: first copy, blue: repeated copy)"
    run.save_fig(plot_repeated_loss(losses, tokens, block, title), "smollm2_repeated_loss")
    del model


def analyse_attn_only(run, args: Args, metrics: dict) -> None:
    gen = torch.Generator().manual_seed(args.seed + 1)
    if args.smoke:
        model = tiny_attn_only().to(run.device)
        run.record_source("attn_only_model", "tiny random attention-only GPT-2, smoke run")
        block, batch = 10, 4
    else:
        if args.attn_only_checkpoint:
            from arena_core.models.attn_only import load_attn_only

            lm = load_attn_only(args.attn_only_checkpoint, device=run.device)
        else:
            lm = load_model("attn-only-2l", device=run.device)
        model = lm.model.eval()
        run.record_source("attn_only_model", lm.source)
        block, batch = args.small_block, args.small_batch
    cfg = model.cfg
    tokens = repeated_random_tokens(batch, block, cfg.d_vocab, gen).to(run.device)
    run.record_source("attn_only_data", f"uniform random characters, r + r, {batch} x {block}")
    ind = induction_score_grid(model, tokens, block)
    prev = head_detector_scores(model, tokens)["prev_token"]
    # the circuit: previous-token heads in layer 0, induction heads in layer 1
    prev_heads = [(0, h, float(prev[0, h])) for h in range(cfg.n_heads)]
    prev_heads = sorted(prev_heads, key=lambda t: -t[2])
    ind_heads = sorted([(1, h, float(ind[1, h])) for h in range(cfg.n_heads)], key=lambda t: -t[2])
    chosen_prev = [t for t in prev_heads if t[2] > args.head_threshold] or prev_heads[:1]
    chosen_ind = [t for t in ind_heads if t[2] > args.head_threshold] or ind_heads[:1]
    metrics["attn_only_prev_token_heads"] = fmt(chosen_prev)
    metrics["attn_only_induction_heads"] = fmt(chosen_ind)
    metrics["attn_only_induction_top"] = fmt(top_heads(ind, 4))
    metrics["attn_only_prev_token_top"] = fmt(top_heads(prev, 4))

    comps = {mode: composition_scores(model, mode)[0, :, 1, :] for mode in "QKV"}
    baseline = random_composition_baseline(cfg.d_model, cfg.d_head, 500, gen)
    metrics["composition_random_baseline"] = baseline
    for mode, c in comps.items():
        metrics[f"{mode}_composition_max"] = float(c.max())
        metrics[f"{mode}_composition_mean"] = float(c.mean())
    k = comps["K"]
    metrics["K_composition_prev_to_induction"] = [
        f"L0H{a}->L1H{b}: {float(k[a, b]):.3f}" for _, a, _ in chosen_prev for _, b, _ in chosen_ind
    ]
    best = divmod(int(k.argmax()), k.shape[1])
    metrics["K_composition_argmax"] = f"L0H{best[0]}->L1H{best[1]}: {float(k.max()):.3f}"
    fig = grid_figure(k, baseline, "K-composition, layer 0 → layer 1")
    run.save_fig(fig, "attn_only_k_composition")

    ind_hb = [(layer, h) for layer, h, _ in chosen_ind]
    metrics["ov_copying_induction_heads_each"] = [
        f"L{a}H{b}: {ov_copying_score(model, [(a, b)]):.3f}" for a, b in ind_hb
    ]
    metrics["ov_copying_induction_heads_together"] = ov_copying_score(model, ind_hb)
    metrics["ov_copying_chance"] = 1 / cfg.d_vocab
    a, b, _ = chosen_prev[0]
    qk = full_qk_circuit(model, a, b, source="pos")[: 2 * block, : 2 * block].cpu()
    # how often does a query position's largest positional score land on the previous position
    masked = qk.masked_fill(torch.ones_like(qk, dtype=torch.bool).triu(0), float("-inf"))
    argmax = masked[1:].argmax(-1)
    metrics["prev_head_pos_qk_argmax_is_previous"] = float(
        (argmax == torch.arange(argmax.numel())).float().mean()
    )

    clean = repeated_loss(model, tokens, block)
    no_prev = ablated_repeated_loss(model, tokens, block, [(x, y) for x, y, _ in chosen_prev])
    no_ind = ablated_repeated_loss(model, tokens, block, ind_hb)
    metrics["attn_only_loss_first_half"] = clean.first_half
    metrics["attn_only_loss_repeated_half"] = clean.repeated_half
    metrics["attn_only_loss_repeated_half_prev_ablated"] = no_prev.repeated_half
    metrics["attn_only_loss_repeated_half_induction_ablated"] = no_ind.repeated_half
    metrics["attn_only_ln_d_vocab"] = float(torch.tensor(float(cfg.d_vocab)).log())
    losses = {
        "clean": clean,
        "previous-token head(s) ablated": no_prev,
        "induction head(s) ablated": no_ind,
    }
    title = "Attention-only model: per-token loss on r r (grey: first copy, blue: repeat)"
    run.save_fig(plot_repeated_loss(losses, tokens, block, title), "attn_only_repeated_loss")


def main(args: Args) -> dict:
    with Run(day=37, args=args) as run:
        metrics: dict = {}
        toy = toy_composition()
        metrics["toy_k_composition"] = toy
        run.save_fig(mechanism_figure(toy), "mechanism")
        if not args.skip_smollm2:
            analyse_smollm2(run, args, metrics)
        if not args.skip_attn_only:
            analyse_attn_only(run, args, metrics)
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
