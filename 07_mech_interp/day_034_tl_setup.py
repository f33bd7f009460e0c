"""Day 34 — TransformerLens setup and activations: SmolLM2-135M in our stack and in TransformerLens.

Shows:
1. TransformerLens loading SmolLM2 from a local HuggingFace directory with its *own* weight
   conversion (offline, no weight processing), next to our `Llama` converted by
   `arena_core.transformer.weights`;
2. the same prompt through both: the largest |difference| per hook type, over all 30 layers,
   and a table of activation shapes (TL hook names, so ARENA's code reads our caches);
3. attention patterns of a few heads picked by score (previous-token, induction, first-token,
   current-token), the residual-stream norm per layer, and a self-contained HTML page to hover
   over the tokens (`attention_patterns.html`);
   a mechanism diagram: one block's hook points filling the cache, and a 4-token pattern read
   along its diagonals (the post's worked example, scored by the project's detector functions);
4. the time of one forward with a full activation cache in each stack.

Run:  arena run 34 [--smoke] [--publish]   (or python 07_mech_interp/day_034_tl_setup.py)
Full run: 20-45 s on a 2-core machine, 1 thread (the first run also writes SmolLM2's HF
directory, ~30 s more).
Smoke: ~10 s (a tiny random GPT-2 saved to a temporary HF directory and loaded both ways).
"""

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from arena_core.interp.attention_html import write_attention_html
from arena_core.interp.cache import (
    hook_type,
    hooked_transformer_from_hf_dir,
    max_abs_diff_by_type,
    run_with_cache,
    smollm2_hf_dir,
)
from arena_core.interp.detectors import head_detector_scores, top_heads
from arena_core.models import load_model
from arena_core.models.gpt2 import load_gpt2
from arena_core.transformer.patterns import (
    current_token_scores,
    first_token_scores,
    plot_patterns,
    prev_token_scores,
)
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils import diagrams as dg

# A sentence that repeats itself: previous-token and induction heads both have work to do.
PROMPT = (
    "Mr and Mrs Dursley, of number four, Privet Drive, were proud to say that they were "
    "perfectly normal. Mr and Mrs Dursley, of number four, Privet Drive, were proud"
)


@dataclass
class Args(DayArgs):
    threads: int = 1  # torch CPU threads (one is fastest for these small forwards on 2 cores)
    prompt: str = PROMPT  # the text run through both stacks
    induction_block: int = 20  # length of the repeated random block for the induction score
    timing_repeats: int = 7  # cached forwards per stack for the timing (median reported)
    tl_n_ctx: int = 512  # TL's context (it allocates an n_ctx x n_ctx mask; SmolLM2 says 8192)


def smoke_models(tmp: Path):
    """A tiny random HF GPT-2 saved to `tmp`, loaded by our loader and by TransformerLens."""
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        n_embd=32, n_layer=2, n_head=4, vocab_size=97, n_positions=64, n_ctx=64,
        attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0,
    )  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(tmp)
    ours, source = load_gpt2(tmp)
    return ours.eval(), hooked_transformer_from_hf_dir(tmp), f"tiny random GPT-2 ({source})"


# The worked example of the post: one head's attention pattern over 4 tokens (queries down, keys
# across; each row sums to 1; a query cannot look ahead).
TOY_PATTERN = [
    [1.0, 0.0, 0.0, 0.0],
    [0.9, 0.1, 0.0, 0.0],
    [0.1, 0.7, 0.2, 0.0],
    [0.1, 0.1, 0.8, 0.0],
]
# The hook points drawn in the mechanism diagram, in the order a block computes them, each with
# what the block computes to reach the next one (SmolLM2 / Llama names).
DIAGRAM_HOOKS = [
    ("hook_resid_pre", "RMSNorm, × W_Q, rotate (RoPE)"),
    ("attn.hook_q", "softmax(q · k / √d_head)"),
    ("attn.hook_pattern", "weighted sum of the values"),
    ("attn.hook_z", "× W_O, sum over heads"),
    ("hook_attn_out", "add to hook_resid_pre"),
    ("hook_resid_mid", "RMSNorm, SwiGLU"),
    ("mlp.hook_post", "× W_out, add to hook_resid_mid"),
    ("hook_resid_post", ""),
]


def toy_head_scores() -> dict[str, float]:
    """The detector scores of TOY_PATTERN, by the same functions that rank SmolLM2's heads."""
    pattern = torch.tensor(TOY_PATTERN)[None, None]  # [batch head q k]
    return {
        "prev_token": prev_token_scores(pattern).item(),
        "first_token": first_token_scores(pattern).item(),
        "current_token": current_token_scores(pattern).item(),
    }


def mechanism_figure(shapes: dict[str, list[int]], toy: dict[str, float], layer: int) -> Figure:
    """Hook points of one block, each storing its tensor in the cache under its name; then one
    cached pattern read along a diagonal to score a head."""
    fig, ax = dg.canvas(width=13, height=11)
    dg.label(ax, (1.9, 10.6), "one block, its hook points", fontsize=11, fontweight="bold")
    dg.label(ax, (8.6, 10.6), "cache: name → tensor (this run's shapes)", fontsize=11,
             fontweight="bold")  # fmt: skip
    step = 1.15
    for i, (hook, computes) in enumerate(DIAGRAM_HOOKS):
        y = 9.4 - i * step
        dg.box(ax, (0, y), hook, width=3.8, height=0.7, role="op", fontsize=9.5)
        if computes:
            dg.arrow(ax, (1.9, y), (1.9, y - step + 0.7))
            dg.label(ax, (2.05, y - (step - 0.7) / 2), computes, fontsize=8.5, ha="left",
                     color="0.3")  # fmt: skip
        shape = shapes.get(hook)
        text = f"cache['blocks.{layer}.{hook}']   {shape}"
        dg.arrow(ax, (3.8, y + 0.35), (5.0, y + 0.35), color="0.55")
        dg.label(ax, (5.1, y + 0.35), text, fontsize=9.5, ha="left", family="monospace")
    dg.label(ax, (1.9, 9.4 + 0.95), "from the block below", fontsize=9, color="0.4")
    # reading one cached pattern
    y0 = -4.2
    dg.label(ax, (0, y0 + 5.0), "Reading a head from a cached pattern (4 tokens, by hand):",
             fontsize=11, fontweight="bold", ha="left")  # fmt: skip
    dg.matrix(ax, TOY_PATTERN, xy=(1.2, y0), fmt="{:.1f}", cmap="Blues",
              row_labels=["query 0", "query 1", "query 2", "query 3"],
              col_labels=["key 0", "key 1", "key 2", "key 3"],
              highlight=[(1, 0), (2, 1), (3, 2)])  # fmt: skip
    dg.label(ax, (6.0, y0 + 3.0),
             f"previous-token score = mean of the red cells\n= (0.9 + 0.7 + 0.8) / 3 = "
             f"{toy['prev_token']:.2f}", fontsize=10, ha="left")  # fmt: skip
    dg.label(ax, (6.0, y0 + 1.3),
             f"first-token score = mean of column 0, queries 1-3 = {toy['first_token']:.2f}\n"
             f"current-token score = mean of the diagonal, queries 1-3 = "
             f"{toy['current_token']:.2f}", fontsize=10, ha="left")  # fmt: skip
    dg.finish(ax)
    return fig


def norm_figure(norms: dict[str, torch.Tensor], labels: list[str]) -> Figure:
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    for name, values in norms.items():
        style = "--" if "TransformerLens" in name else "-"
        ax.plot(range(len(values)), values, style, marker="o", ms=3, label=name)
    every = [i for i in range(len(labels)) if i % 5 == 0 or i == len(labels) - 1]
    ax.set_xticks(every, [labels[i] for i in every])
    ax.set_yscale("log")
    ax.set_xlabel("layer (the residual stream entering it; 'out' = after the last block)")
    ax.set_ylabel("L2 norm of the residual stream")
    ax.set_title("Residual-stream norm through the layers")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(args: Args) -> dict:
    with Run(day=34, args=args) as run:
        metrics: dict = {}
        tmp = tempfile.TemporaryDirectory(prefix="day034-")
        if args.smoke:
            ours, tl, source = smoke_models(Path(tmp.name))
            tokens = torch.randint(0, ours.cfg.d_vocab, (1, 24))
            str_tokens = [f"t{int(t)}" for t in tokens[0]]
            run.record_source("model", source)
            run.record_source("data", "random tokens")
        else:
            lm = load_model("smollm2-135m")
            ours = lm.model.eval()
            hf_dir = smollm2_hf_dir()
            tl = hooked_transformer_from_hf_dir(hf_dir, n_ctx=args.tl_n_ctx)
            run.record_source("model", f"ours: {lm.source}; TransformerLens: HF dir {hf_dir}")
            run.record_source("data", "a fixed prompt (Harry Potter opening, repeated)")
            tokens = ours.to_tokens(args.prompt)
            str_tokens = ours.to_str_tokens(args.prompt)
        n_layers, n_heads = ours.cfg.n_layers, ours.cfg.n_heads
        metrics["n_tokens"] = tokens.shape[1]

        # 1-2. same prompt, both stacks, every hook point
        our_logits, our_cache = run_with_cache(ours, tokens)
        tl_logits, tl_cache = run_with_cache(tl, tokens)
        diffs = max_abs_diff_by_type(our_cache, tl_cache)
        metrics["max_abs_diff_by_hook_type"] = diffs
        metrics["max_abs_diff_logits"] = (our_logits - tl_logits).abs().max().item()
        metrics["same_top1_all_positions"] = bool(
            torch.equal(our_logits.argmax(-1), tl_logits.argmax(-1))
        )
        metrics["n_hooks_ours"], metrics["n_hooks_tl"] = len(our_cache), len(tl_cache)
        metrics["n_hooks_shared"] = sum(name in tl_cache for name in our_cache)
        metrics["hooks_only_in_tl"] = sorted({hook_type(n) for n in tl_cache} - {
            hook_type(n) for n in our_cache
        })  # fmt: skip
        shapes = {}
        for name, act in our_cache.items():
            if name.startswith("blocks.") and not name.startswith("blocks.0."):
                continue
            shapes[hook_type(name)] = [list(act.shape), list(tl_cache[name].shape)]
        metrics["activation_shapes_ours_tl"] = {k: v[0] for k, v in shapes.items()}
        metrics["shapes_equal"] = all(a == b for a, b in shapes.values())
        table = ["| hook (layer 0) | ours | TransformerLens |", "|---|---|---|"]
        table += [f"| `{k}` | {a} | {b} |" for k, (a, b) in shapes.items()]
        (run.out_dir / "activation_shapes.md").write_text("\n".join(table) + "\n")
        run.add_file(run.out_dir / "activation_shapes.md")
        for key, diff in diffs.items():
            run.print(f"  max |ours - TL| {key:<24} {diff:.2e}")

        # 3. heads worth looking at, then their patterns on the prompt
        g = torch.Generator().manual_seed(args.seed)
        block = torch.randint(
            min(100, ours.cfg.d_vocab // 2),
            ours.cfg.d_vocab,
            (1, args.induction_block),
            generator=g,
        )
        rep = torch.cat([tokens[:, :1], block, block], dim=1)
        scores = head_detector_scores(ours, rep, induction_block=args.induction_block)
        picks = {}
        for kind in ("prev_token", "induction", "first_token", "current_token"):
            layer, head, score = top_heads(scores[kind], 1)[0]
            picks[kind] = (layer, head)
            metrics[f"top_{kind}_head"] = f"L{layer}H{head}: {score:.3f}"
        patterns = torch.stack([our_cache["pattern", ly][0, h] for ly, h in picks.values()])
        names = [f"L{ly}H{h} ({kind.replace('_', '-')})" for kind, (ly, h) in picks.items()]
        labels = [t.replace("\n", "\\n") for t in str_tokens]
        # the PNG shows the previous-token and the induction head side by side, large enough to
        # read the tokens (the HTML page has all four heads)
        show = [0, 1]
        title = "Attention patterns (queries down, keys across)"
        fig = plot_patterns(patterns[show], labels, [names[i] for i in show], title)
        fig.set_size_inches(12, 6.6)
        for ax in fig.axes:
            ax.grid(False)
            ax.tick_params(labelsize=7.5)
            ax.set_xlabel("key (attended-to token)")
            ax.set_ylabel("query (attending token)")
            ax.title.set_fontsize(11)
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        run.save_fig(fig, "attention_patterns")
        toy = toy_head_scores()
        metrics["toy_pattern_scores"] = toy
        run.save_fig(
            mechanism_figure(metrics["activation_shapes_ours_tl"], toy, picks["prev_token"][0]),
            "mechanism",
        )
        html = write_attention_html(
            run.out_dir / "attention_patterns.html", str_tokens, patterns, names,
            f"Day 34: attention of four {'SmolLM2-135M ' if not args.smoke else ''}heads",
        )  # fmt: skip
        run.add_file(html)
        metrics["html_kb"] = round(html.stat().st_size / 1024, 1)

        resid = torch.stack(
            [our_cache["resid_pre", layer] for layer in range(n_layers)]
            + [our_cache["resid_post", n_layers - 1]]
        )[:, 0]  # [layer+1 pos d_model]
        tl_resid = torch.stack(
            [tl_cache["resid_pre", layer] for layer in range(n_layers)]
            + [tl_cache["resid_post", n_layers - 1]]
        )[:, 0]
        norm_labels = [str(layer) for layer in range(n_layers)] + ["out"]
        norms = {
            "ours, first token": resid[:, 0].norm(dim=-1),
            "ours, mean of the other tokens": resid[:, 1:].norm(dim=-1).mean(-1),
            "TransformerLens, mean of the other tokens": tl_resid[:, 1:].norm(dim=-1).mean(-1),
        }
        run.save_fig(norm_figure(norms, norm_labels), "resid_norm_by_layer")
        metrics["resid_norm_first_token_by_layer"] = [
            round(v, 2) for v in norms["ours, first token"].tolist()
        ]
        metrics["resid_norm_rest_by_layer"] = [
            round(v, 2) for v in norms["ours, mean of the other tokens"].tolist()
        ]

        # 4. one cached forward (every hook point), interleaved so both see the same load
        our_t, tl_t = [], []
        for _ in range(args.timing_repeats if not args.smoke else 2):
            our_t.append(median_seconds(lambda: run_with_cache(ours, tokens), 1))
            tl_t.append(median_seconds(lambda: run_with_cache(tl, tokens), 1))
        metrics["cached_forward_ms_ours"] = 1000 * statistics.median(our_t)
        metrics["cached_forward_ms_tl"] = 1000 * statistics.median(tl_t)
        metrics["cached_forward_speedup_ours_vs_tl"] = statistics.median(tl_t) / statistics.median(
            our_t
        )
        metrics["n_layers"], metrics["n_heads"] = n_layers, n_heads
        tmp.cleanup()
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
