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
from arena_core.transformer.patterns import plot_patterns
from arena_core.utils import DayArgs, Run, run_script

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


def norm_figure(norms: dict[str, torch.Tensor], labels: list[str]) -> Figure:
    fig = Figure(figsize=(7, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for name, values in norms.items():
        style = "--" if "TransformerLens" in name else "-"
        ax.plot(range(len(values)), values, style, marker="o", ms=3, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("residual stream entering layer (resid_pre), then the final resid_post")
    ax.set_ylabel("L2 norm")
    ax.set_title("Residual-stream norm grows through the layers", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
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
        # the PNG shows three heads in one row (the first-token head is one dark column; the
        # HTML page has all four), at a size that keeps the file small
        show = [0, 1, 3]
        title = "Attention patterns (queries down, keys across)"
        fig = plot_patterns(patterns[show], labels, [names[i] for i in show], title)
        fig.set_size_inches(15, 5.6)
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        run.save_fig(fig, "attention_patterns")
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
        norm_labels = [f"L{layer}" for layer in range(n_layers)] + ["final"]
        norms = {
            "ours, token 0": resid[:, 0].norm(dim=-1),
            "ours, mean of tokens 1..": resid[:, 1:].norm(dim=-1).mean(-1),
            "TransformerLens, mean of tokens 1..": tl_resid[:, 1:].norm(dim=-1).mean(-1),
        }
        run.save_fig(norm_figure(norms, norm_labels), "resid_norm_by_layer")
        metrics["resid_norm_first_token_by_layer"] = [
            round(v, 2) for v in norms["ours, token 0"].tolist()
        ]
        metrics["resid_norm_rest_by_layer"] = [
            round(v, 2) for v in norms["ours, mean of tokens 1.."].tolist()
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
