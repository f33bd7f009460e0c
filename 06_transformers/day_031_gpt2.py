"""Day 31 — The full GPT-2 architecture: parameter counts of all four sizes from their configs,
logit parity with HuggingFace's GPT2LMHeadModel holding the same random weights, and a diagram.

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


def counts_figure(counts: dict[str, dict[str, int]]) -> Figure:
    fig = Figure(figsize=(7.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    names = list(counts)
    bottom = torch.zeros(len(names))
    for part in next(iter(counts.values())):
        vals = torch.tensor([counts[n][part] / 1e6 for n in names], dtype=torch.float64)
        ax.bar(names, vals, bottom=bottom, label=part)
        bottom += vals
    for i, total in enumerate(bottom):
        ax.text(i, float(total) + 20, f"{float(total):,.0f}M", ha="center", fontsize=9)
    ax.set_ylabel("parameters (millions)")
    ax.set_title("GPT-2 parameter counts by component (tied unembedding)")
    ax.legend(fontsize=8)
    ax.set_ylim(0, float(bottom.max()) * 1.12)
    fig.tight_layout()
    return fig


def architecture_figure(cfg: TransformerConfig) -> Figure:
    """Boxes and arrows: the data path with tensor shapes from the config."""
    fig = Figure(figsize=(6.5, 8))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 15)
    ax.axis("off")
    d, v, h, e, m = cfg.d_model, cfg.d_vocab, cfg.n_heads, cfg.d_head, cfg.d_mlp

    def box(y, text, color, x=2.5, w=5):
        ax.add_patch(FancyBboxPatch((x, y), w, 0.8, boxstyle="round,pad=0.05", fc=color, ec="k"))
        ax.text(x + w / 2, y + 0.4, text, ha="center", va="center", fontsize=8)

    def arrow(y0, y1, x=5):
        ax.annotate("", (x, y1), (x, y0), arrowprops=dict(arrowstyle="->"))

    box(0.2, f"tokens [batch pos]  (ids < {v:,})", "#eeeeee")
    box(1.5, f"W_E [{v:,} {d}] (token) + W_pos [{cfg.n_ctx} {d}] (position)", "#cfe2f3")
    arrow(1.0, 1.5)
    ax.add_patch(
        FancyBboxPatch(
            (1.2, 2.9), 7.6, 7.4, boxstyle="round,pad=0.1", fc="none", ec="gray", ls="--"
        )
    )
    ax.text(1.3, 10.1, f"block x {cfg.n_layers}", fontsize=9, color="gray")
    box(3.2, f"LayerNorm ln1  ({d})", "#fff2cc")
    box(
        4.4,
        f"attention: {h} heads x d_head {e};  W_Q, W_K, W_V [{h} {d} {e}],\n"
        f"causal softmax(q k / sqrt({e})) v;  W_O [{h} {e} {d}]",
        "#f4cccc",
        x=1.8,
        w=6.4,
    )
    box(5.7, "resid_mid = resid_pre + attn_out", "#d9ead3")
    box(6.9, f"LayerNorm ln2  ({d})", "#fff2cc")
    box(8.1, f"MLP: W_in [{d} {m}] -> GELU -> W_out [{m} {d}]", "#f4cccc")
    box(9.3, "resid_post = resid_mid + mlp_out", "#d9ead3")
    for y0, y1 in [(2.3, 3.2), (4.0, 4.4), (5.2, 5.7), (6.5, 6.9), (7.7, 8.1), (8.9, 9.3)]:
        arrow(y0, y1)
    box(11.0, f"final LayerNorm ({d})", "#fff2cc")
    arrow(10.1, 11.0)
    box(12.3, f"unembed W_U = W_E^T [{d} {v:,}]", "#cfe2f3")
    arrow(11.8, 12.3)
    box(13.6, f"logits [batch pos {v:,}]", "#eeeeee")
    arrow(13.1, 13.6)
    ax.set_title(f"{cfg.name}: the residual stream, bottom to top", fontsize=10)
    fig.tight_layout()
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
        metrics = {}
        for name, cfg in GPT2_CONFIGS.items():
            metrics[f"n_params_{name}"] = sum(counts[name].values())
            metrics[f"n_params_{name}_hf"] = hf_count(cfg)
        run.save_fig(counts_figure(counts), "param_counts")
        run.save_fig(architecture_figure(GPT2_CONFIGS["gpt2"]), "architecture")

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
