"""Day 30 — Transformer blocks: LayerNorm / RMSNorm, the two MLPs, and the residual stream.

Checks each part against an independent implementation (torch's norms, HuggingFace's GPT-2 and
Llama MLPs, HF's per-layer hidden states of SmolLM2) and measures how the residual stream grows
through the 30 blocks of SmolLM2-135M on a Shakespeare passage.

Run:  arena run 30 [--smoke] [--publish]   (or python 06_transformers/day_030_blocks.py)
Full run: ~1 min on 2 CPU cores (loads HF's SmolLM2 from the GGUF as the reference, ~15 s).
Smoke: ~5 s (random tiny Llama).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from transformers import GPT2Config, LlamaConfig, LlamaForCausalLM
from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

from arena_core.data.shakespeare import shakespeare_text
from arena_core.models import load_hf_smollm2, load_smollm2, smollm2_tokenizer
from arena_core.transformer import GeluMLP, LayerNorm, Llama, RMSNorm, TransformerConfig
from arena_core.transformer.weights import llama_config_from_hf, llama_state_dict_from_hf
from arena_core.utils import DayArgs, Run, run_script


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


def residual_figure(norms: dict[str, torch.Tensor], name: str) -> Figure:
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    layers = torch.arange(len(norms["resid_pre"]))
    ax.plot(layers, norms["resid_pre"], "k-o", ms=3, label="residual stream (block input)")
    ax.plot(layers, norms["attn_out"], "-s", ms=3, label="attention output (written)")
    ax.plot(layers, norms["mlp_out"], "-^", ms=3, label="MLP output (written)")
    ax.set_yscale("log")
    ax.set_xlabel("block")
    ax.set_ylabel("mean L2 norm per token (log)")
    ax.set_title(f"{name}: what each block reads and writes (position 0 excluded)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=30, args=args) as run:
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
        # position 0 is the attention sink in Llama models: its residual norm is huge; show it
        sink = torch.stack([cache["resid_post", i][0, 0].norm() for i in range(n)])
        metrics.update(
            resid_norm_first_block=float(norms["resid_pre"][0]),
            resid_norm_last_block=float(cache["resid_post", n - 1][0, 1:].norm(dim=-1).mean()),
            resid_norm_position0_max=float(sink.max()),
        )
        run.save_fig(residual_figure(norms, ours.cfg.name), "residual_stream")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
