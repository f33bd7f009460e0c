"""Day 31 — The full GPT-2 architecture: parameter counts of all four sizes from their configs,
logit parity with HuggingFace's GPT2LMHeadModel holding the same random weights, and a diagram.

The mechanism diagram is GPT-2 small's data path, bottom to top, with each part's parameter
count (from a model built on the meta device). The post's worked example counts a tiny config by
hand (`TINY`); the run logs what our code counts for it.

Run:  arena run 31 [--smoke] [--publish]   (or python 06_transformers/day_031_gpt2.py)
Full run: ~10 s on 2 CPU cores (a random GPT-2 small, 124M parameters, twice).
Smoke: ~3 s (a tiny config).
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from transformers import GPT2Config, GPT2LMHeadModel

from arena_core.models import gpt2_from_hf_model
from arena_core.transformer import GPT2, GPT2_CONFIGS, TransformerConfig
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label

#: The worked example of the post: small enough to count with a pencil.
TINY = TransformerConfig(
    d_model=4, n_layers=2, n_heads=2, d_head=2, d_mlp=16, d_vocab=10, n_ctx=8, name="tiny"
)
#: Display names of the four released sizes.
SIZE_NAMES = {"gpt2": "small", "gpt2-medium": "medium", "gpt2-large": "large", "gpt2-xl": "XL"}


@dataclass
class Args(DayArgs):
    batch: int = 2  # sequences in the parity check
    pos: int = 128  # tokens per sequence in the parity check


def count_by_part(cfg: TransformerConfig) -> dict[str, int]:
    """Parameters per component, from a model built on the meta device (no memory used)."""
    with torch.device("meta"):
        model = GPT2(cfg, init=False)
    parts = {"token embedding": 0, "position embedding": 0, "attention": 0, "MLP": 0, "norms": 0}
    for name, p in model.named_parameters():
        key = (
            "token embedding"
            if name.startswith("embed")
            else "position embedding"
            if name.startswith("pos_embed")
            else "attention"
            if ".attn." in name
            else "MLP"
            if ".mlp." in name
            else "norms"
        )
        parts[key] += p.numel()
    return parts


def hf_count(cfg: TransformerConfig) -> int:
    with torch.device("meta"):
        hf = GPT2LMHeadModel(
            GPT2Config(
                n_embd=cfg.d_model,
                n_layer=cfg.n_layers,
                n_head=cfg.n_heads,
                n_positions=cfg.n_ctx,
                vocab_size=cfg.d_vocab,
            )
        )
    return hf.num_parameters()


def count_by_module(cfg: TransformerConfig) -> dict[str, int]:
    """Parameters of each part that the diagram draws (one block's parts counted once)."""
    with torch.device("meta"):
        model = GPT2(cfg, init=False)
    parts: dict[str, int] = {}
    for name, p in model.named_parameters():
        if name.startswith("blocks.") and not name.startswith("blocks.0."):
            continue
        key = name.removeprefix("blocks.0.").split(".")[0]
        parts[key] = parts.get(key, 0) + p.numel()
    return parts


def counts_figure(counts: dict[str, dict[str, int]]) -> Figure:
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    names = [SIZE_NAMES.get(n, n) for n in counts]
    bottom = torch.zeros(len(names), dtype=torch.float64)
    for part in next(iter(counts.values())):
        vals = torch.tensor([c[part] / 1e6 for c in counts.values()], dtype=torch.float64)
        ax.bar(names, vals, bottom=bottom, label=part)
        bottom += vals
    for i, total in enumerate(bottom):
        ax.text(i, float(total) + 20, f"{float(total):,.0f}M", ha="center", fontsize=9.5)
    ax.set_xlabel("GPT-2 size")
    ax.set_ylabel("parameters (millions)")
    ax.set_title("Where GPT-2's parameters are (unembedding tied to the embedding)")
    ax.legend(loc="upper left")
    ax.set_ylim(0, float(bottom.max()) * 1.12)
    fig.tight_layout()
    return fig


def mechanism_figure(cfg: TransformerConfig) -> Figure:
    """GPT-2's data path, bottom to top, with each part's shapes and parameter count."""
    n = count_by_module(cfg)
    d, v, h, e, m, L = cfg.d_model, cfg.d_vocab, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.n_layers
    block = n["ln1"] + n["attn"] + n["ln2"] + n["mlp"]
    total = sum(n.values()) + (L - 1) * block
    fig, ax = canvas(width=13, height=17, scale=0.55)
    w, x, cx = 7.6, 0.0, 3.8  # box width, left edge, centre
    cnt = 8.2  # left edge of the count column
    rows = [  # (y, text, role, count text)
        (0.0, "token ids  [batch, pos]", "neutral", ""),
        (1.6, f"token embedding W_E  [{v:,} x {d}]", "input", f"{n['embed']:,}"),
        (2.8, f"+ position embedding W_pos  [{cfg.n_ctx:,} x {d}]", "input", f"{n['pos_embed']:,}"),
        (4.6, f"LayerNorm 1: gain and bias, {d} each", "op", f"{n['ln1']:,}"),
        (
            5.9,
            f"attention: {h} heads of {e}\nW_Q, W_K, W_V, W_O: {d} x {d} each, + biases",
            "param",
            f"{n['attn']:,}",
        ),
        (7.4, "add to the residual stream", "output", ""),
        (8.7, f"LayerNorm 2: gain and bias, {d} each", "op", f"{n['ln2']:,}"),
        (
            10.0,
            f"MLP: W_in  {d} x {m:,},  GELU,\nW_out  {m:,} x {d}, + biases",
            "param",
            f"{n['mlp']:,}",
        ),
        (11.5, "add to the residual stream", "output", ""),
        (13.4, f"final LayerNorm  ({d})", "op", f"{n['ln_final']:,}"),
        (14.7, "unembed: W_U = W_E transposed (tied)", "input", "0 new"),
        (16.0, f"logits  [batch, pos, {v:,}]", "neutral", ""),
    ]
    label(ax, (cnt + 1.9, 17.4), "parameters", fontsize=10.5, fontweight="bold")
    heights = {5.9: 1.1, 10.0: 1.1}
    prev_top = None
    for y, text, role, count in rows:
        hgt = heights.get(y, 0.8)
        box(ax, (x, y), text, width=w, height=hgt, role=role, fontsize=9.5)
        if count:
            label(ax, (cnt + 3.6, y + hgt / 2), count, ha="right", fontsize=10)
        if prev_top is not None and y > prev_top + 0.15 and y != 2.8:
            arrow(ax, (cx, prev_top), (cx, y))
        prev_top = y + hgt
    ax.add_patch(
        FancyBboxPatch(
            (-0.35, 4.3),
            w + 0.7 + 4.3,
            8.25,
            boxstyle="round,pad=0.05",
            fill=False,
            ls="--",
            ec="0.5",
        )
    )
    label(
        ax,
        (cnt + 1.9, 11.9),
        f"one block: {block:,}\nx {L} blocks: {L * block:,}",
        fontsize=10,
        color="0.25",
    )
    for low, high in [(4.4, 7.8), (8.8, 11.9)]:  # the residual connections skip each part
        arrow(ax, (-0.05, low), (-0.05, high), curve=-0.6, color="0.45")
    label(ax, (-1.5, 6.1), "residual", fontsize=9, color="0.45", rotation=90)
    label(ax, (cnt + 1.9, 0.4), f"total:\n{total:,}", fontsize=10.5, fontweight="bold")
    finish(ax)
    return fig


def parity(hf_cfg: GPT2Config, batch: int, pos: int, dtype: torch.dtype) -> float:
    hf = GPT2LMHeadModel(hf_cfg).eval().to(dtype)
    ours = gpt2_from_hf_model(hf)
    tokens = torch.randint(0, hf_cfg.vocab_size, (batch, pos))
    with torch.no_grad():
        return (ours(tokens) - hf(tokens).logits).abs().max().item()


def main(args: Args) -> dict:
    with Run(day=31, args=args) as run:
        run.record_source(
            "model",
            "GPT-2 configs (OpenAI sizes) with random weights; reference "
            "HF GPT2LMHeadModel built from GPT2Config",
        )
        counts = {name: count_by_part(cfg) for name, cfg in GPT2_CONFIGS.items()}
        run.log(params_by_part=counts)
        metrics = {}
        for name, cfg in GPT2_CONFIGS.items():
            metrics[f"n_params_{name}"] = sum(counts[name].values())
            metrics[f"n_params_{name}_hf"] = hf_count(cfg)
        run.save_fig(counts_figure(counts), "param_counts")
        run.save_fig(mechanism_figure(GPT2_CONFIGS["gpt2"]), "mechanism")
        tiny = count_by_part(TINY)
        run.log(
            tiny_example={
                "config": "d_model 4, 2 layers, 2 heads of 2, d_mlp 16, vocab 10, 8 positions",
                "by_part": tiny,
                "total": sum(tiny.values()),
                "by_module_one_block": count_by_module(TINY),
            }
        )

        if args.smoke:
            hf_cfg = GPT2Config(
                n_embd=48,
                n_layer=2,
                n_head=4,
                vocab_size=300,
                n_positions=64,
                bos_token_id=0,
                eos_token_id=0,
            )
            batch, pos = 2, 16
        else:
            hf_cfg = GPT2Config()  # GPT-2 small, random weights
            batch, pos = args.batch, args.pos
        metrics["parity_config"] = f"d_model={hf_cfg.n_embd}, n_layers={hf_cfg.n_layer}"
        metrics["logits_max_abs_diff_fp32"] = parity(hf_cfg, batch, pos, torch.float32)
        small = GPT2Config(
            n_embd=96,
            n_layer=3,
            n_head=6,
            vocab_size=1000,
            n_positions=64,
            bos_token_id=0,
            eos_token_id=0,
        )
        metrics["logits_max_abs_diff_fp64_small"] = parity(small, batch, 32, torch.float64)
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
