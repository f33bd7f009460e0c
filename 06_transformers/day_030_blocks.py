"""Day 30 — Transformer blocks: LayerNorm / RMSNorm, the two MLPs, and the residual stream.

Checks each part against an independent implementation (torch's norms, HuggingFace's GPT-2 and
Llama MLPs, HF's per-layer hidden states of SmolLM2) and measures how the residual stream grows
through the 30 blocks of SmolLM2-135M-Instruct on a Shakespeare passage, and how large each
block's write is next to the stream it is added to. The mechanism diagram shows a pre-norm block
and RMSNorm on a 4-number example (the same output for x and 100 x).

Run:  arena run 30 [--smoke] [--publish]   (or python 06_transformers/day_030_blocks.py)
Full run: ~1 min on 2 CPU cores (loads HF's SmolLM2 from the GGUF as the reference, ~15 s).
Smoke: ~5 s (random tiny Llama).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch
from transformers import GPT2Config, LlamaConfig, LlamaForCausalLM
from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

from arena_core.data.shakespeare import shakespeare_text
from arena_core.models import load_hf_smollm2, load_smollm2, smollm2_tokenizer
from arena_core.transformer import GeluMLP, LayerNorm, Llama, RMSNorm, TransformerConfig
from arena_core.transformer.weights import llama_config_from_hf, llama_state_dict_from_hf
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix


@dataclass
class Args(DayArgs):
    chars: int = 1200  # characters of the Richard III passage fed to the model


def passage(chars: int) -> tuple[str, str]:
    text, source = shakespeare_text()
    start = text.find("Now is the winter of our discontent")
    return text[start : start + chars], source


def norm_and_mlp_parity() -> dict[str, float]:
    """Max |ours - reference| for the building blocks, float64, random weights."""
    torch.manual_seed(0)
    x = torch.randn(4, 9, 48, dtype=torch.float64) * 2 + 0.5
    ln = LayerNorm(48).double()
    ln.hook_scale.add_hook(lambda t, hook: None)  # use our explicit maths, not the fused kernel
    rms = RMSNorm(48).double()
    with torch.no_grad():
        for p in [*ln.parameters(), *rms.parameters()]:
            p.normal_()
    cfg = TransformerConfig(d_model=48, d_mlp=80, n_heads=4, d_head=12, n_layers=1, d_vocab=10)
    ours_mlp = GeluMLP(cfg).double()
    for p in ours_mlp.parameters():
        torch.nn.init.normal_(p, std=0.2)
    hf_mlp = GPT2MLP(80, GPT2Config(n_embd=48, resid_pdrop=0.0)).double().eval()
    with torch.no_grad():  # HF Conv1D stores [in out], exactly our layout
        hf_mlp.c_fc.weight.copy_(ours_mlp.W_in), hf_mlp.c_fc.bias.copy_(ours_mlp.b_in)
        hf_mlp.c_proj.weight.copy_(ours_mlp.W_out), hf_mlp.c_proj.bias.copy_(ours_mlp.b_out)
        return {
            "layernorm_vs_torch": (ln(x) - F.layer_norm(x, (48,), ln.w, ln.b, 1e-5)).abs().max(),
            "rmsnorm_vs_torch": (rms(x) - F.rms_norm(x, (48,), rms.w, 1e-5)).abs().max(),
            "gelu_mlp_vs_hf_gpt2": (ours_mlp(x) - hf_mlp(x)).abs().max(),
        }


def models(smoke: bool):
    if smoke:
        hf_cfg = LlamaConfig(
            hidden_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=96,
            vocab_size=49152,
            bos_token_id=0,
            eos_token_id=0,
            pad_token_id=0,
        )
        hf = LlamaForCausalLM(hf_cfg).eval()
        cfg = llama_config_from_hf(hf_cfg, name="tiny random Llama")
        ours = Llama(cfg, init=False)
        ours.load_state_dict(llama_state_dict_from_hf(hf.state_dict(), cfg))
        return ours.eval(), hf, "tiny random Llama (smoke) vs HF LlamaForCausalLM, same weights"
    ours, source = load_smollm2()
    return ours, load_hf_smollm2(), source + " vs HF LlamaForCausalLM from the same GGUF"


#: The worked example of the post: one token's residual vector with d_model = 4.
EXAMPLE = [1.0, 3.0, 5.0, 1.0]


def rmsnorm_example() -> dict[str, list[float]]:
    """Our RMSNorm (gain w = 1) on the example and on 100 times the example."""
    norm = RMSNorm(len(EXAMPLE), eps=1e-5)
    x = torch.tensor([[EXAMPLE]])  # [batch pos d_model]
    with torch.no_grad():
        return {
            "x": EXAMPLE,
            "norm_x": norm(x)[0, 0].tolist(),
            "100x": (100 * x)[0, 0].tolist(),
            "norm_100x": norm(100 * x)[0, 0].tolist(),
        }


def mechanism_figure() -> Figure:
    """A pre-norm block on the residual stream, and RMSNorm on the worked example."""
    ex = rmsnorm_example()
    fig, ax = canvas(width=10.5, height=14.5, scale=0.55)
    # top: the residual stream, read through a norm and written to by addition
    box(ax, (0, 5.4), "embedding", width=2.4, height=0.8, role="input")
    box(ax, (0, 13.4), "unembed", width=2.4, height=0.8, role="output")
    sx = 1.2
    arrow(ax, (sx, 6.2), (sx, 13.4))
    label(ax, (sx - 0.3, 8.0), "residual stream", rotation=90, fontsize=9.5, color="0.3")
    ax.add_patch(
        FancyBboxPatch(
            (0.55, 6.45),
            7.9,
            6.1,
            boxstyle="round,pad=0.05",
            fill=False,
            ls="--",
            ec="0.55",
        )
    )
    label(ax, (6.6, 13.8), "one block\n(SmolLM2 stacks 30)", fontsize=9.5, color="0.3")
    for y, name, plus in [(6.8, "attention", 9.0), (9.8, "MLP", 12.0)]:
        arrow(ax, (sx, y + 0.4), (3.0, y + 0.4), "read")
        box(ax, (3.0, y), "RMSNorm", width=2.0, height=0.8, role="op")
        arrow(ax, (5.0, y + 0.4), (5.9, y + 0.4))
        box(ax, (5.9, y), name, width=2.0, height=0.8, role="param")
        arrow(ax, (6.9, y + 0.8), (sx + 0.25, plus), curve=0.3)
        label(ax, (3.6, plus - 0.1), "add the output", fontsize=9.5, color="0.25")
        ax.add_patch(Circle((sx, plus), 0.22, fc="white", ec="0.25", lw=1.2, zorder=3))
        label(ax, (sx, plus), "+", fontsize=12, zorder=4)
    # bottom: RMSNorm on the example, and on 100 times the example
    for y, key, out, title, rms in [
        (2.9, "x", "norm_x", "x", "3"),
        (0.6, "100x", "norm_100x", "100 x", "300"),
    ]:
        matrix(ax, [ex[key]], xy=(0, y), title=title, fmt="{:g}", cell=0.95)
        arrow(ax, (4.0, y + 0.48), (5.5, y + 0.48), f"/ {rms}")
        matrix(
            ax,
            [ex[out]],
            xy=(5.6, y),
            title=f"RMSNorm({title})",
            fmt="{:.3f}",
            cmap="Greens",
            cell=1.2,
        )
    label(
        ax,
        (5.2, -0.2),
        r"$\mathrm{rms}(x) = \sqrt{(1 + 9 + 25 + 1)\,/\,4} = 3$",
        fontsize=10.5,
    )
    finish(ax)
    return fig


def residual_figure(norms: dict[str, torch.Tensor], update: torch.Tensor, title: str) -> Figure:
    fig = Figure(figsize=(8, 6.4))
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    layers = torch.arange(len(norms["resid_pre"]))
    ax.plot(layers, norms["resid_pre"], "k-o", ms=3, label="residual stream entering the block")
    ax.plot(layers, norms["attn_out"], "-s", ms=3, label="what attention adds")
    ax.plot(layers, norms["mlp_out"], "-^", ms=3, label="what the MLP adds")
    ax.set_yscale("log")
    ax.set_ylabel("mean L2 norm per token (log)")
    ax.set_title(title)
    ax.legend(loc="best")
    ax2.plot(layers, update, "-o", ms=3, color="C2")
    ax2.set_ylabel("block's change / stream\n(relative size, log)")
    ax2.set_xlabel("block")
    ax2.set_yscale("log")
    ax2.axhline(1.0, ls="--", lw=1, color="0.5")
    ax2.text(len(update) - 1, 1.1, "as large as the stream", ha="right", va="bottom", fontsize=9)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=30, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        metrics = {k: float(v) for k, v in norm_and_mlp_parity().items()}
        ours, hf, source = models(args.smoke)
        run.record_source("model", source)
        if args.smoke:
            ids = torch.randint(0, ours.cfg.d_vocab, (1, 40))
            run.record_source("data", "40 random token ids (smoke)")
        else:
            text, text_source = passage(args.chars)
            run.record_source("data", f"Richard III, opening soliloquy ({text_source})")
            ids = torch.tensor([smollm2_tokenizer()(text).input_ids])
        with torch.no_grad():
            hidden = hf(ids, output_hidden_states=True).hidden_states
            logits, cache = ours.run_with_cache(
                ids,
                names_filter=lambda n: (
                    n.startswith("blocks")
                    and n.endswith(("resid_pre", "attn_out", "mlp_out", "resid_post"))
                ),
            )
            # SwiGLU MLP vs HF's LlamaMLP with layer 0's weights
            block = ours.blocks[0]
            hf_mlp = hf.model.layers[0].mlp
            x = torch.randn(2, 5, ours.cfg.d_model)
            ref = hf_mlp(x)
            swiglu_err = ((block.mlp(x) - ref).abs().max() / ref.abs().max()).item()
        n = ours.cfg.n_layers
        # hidden_states[i] is the input of block i; the last one is after the final norm
        per_layer = [(cache["resid_pre", i] - hidden[i]).abs().max().item() for i in range(n)]
        scale = [hidden[i].abs().max().item() for i in range(n)]
        metrics.update(
            swiglu_mlp_vs_hf_llama_rel=swiglu_err,
            resid_vs_hf_max_abs_diff=max(per_layer),
            resid_vs_hf_max_rel_diff=max(d / s for d, s in zip(per_layer, scale, strict=True)),
            n_tokens=ids.shape[1],
        )
        norms = {
            k: torch.stack([cache[k, i][0, 1:].norm(dim=-1).mean() for i in range(n)])
            for k in ("resid_pre", "attn_out", "mlp_out")
        }
        # how big is a block's write next to the stream it is added to? |post - pre| / |pre|
        update = torch.stack(
            [
                (
                    (cache["resid_post", i][0, 1:] - cache["resid_pre", i][0, 1:]).norm(dim=-1)
                    / cache["resid_pre", i][0, 1:].norm(dim=-1)
                ).mean()
                for i in range(n)
            ]
        )
        # position 0 is the attention sink in Llama models: its residual norm is huge; show it
        sink = torch.stack([cache["resid_post", i][0, 0].norm() for i in range(n)])
        metrics.update(
            resid_norm_first_block=float(norms["resid_pre"][0]),
            resid_norm_last_block=float(cache["resid_post", n - 1][0, 1:].norm(dim=-1).mean()),
            resid_norm_position0_max=float(sink.max()),
            relative_update_block0=float(update[0]),
            relative_update_median_later_blocks=float(update[1:].median()),
            relative_update_max_later_blocks=float(update[1:].max()),
            relative_update_argmax_later_blocks=int(update[1:].argmax()) + 1,
            rmsnorm_example=rmsnorm_example(),
        )
        title = (
            "tiny random Llama on random tokens"
            if args.smoke
            else "SmolLM2-135M-Instruct on Richard III (position 0 left out)"
        )
        run.save_fig(residual_figure(norms, update, title), "residual_stream")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
