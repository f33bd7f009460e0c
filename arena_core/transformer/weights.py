"""Converting HuggingFace checkpoints into our TransformerLens-layout state dicts (day 32).

GPT-2: HF stores its projections as `Conv1D` (y = x @ W + b, W `[in out]`), with Q, K and V
side by side in `c_attn`. Llama: HF stores `nn.Linear` weights (`[out in]`, y = x @ W.T).
Both become `W_Q [n_heads d_model d_head]`, `W_O [n_heads d_head d_model]`, ...
Conversion is pure reshaping: no weight processing (no LayerNorm folding, no centring), so our
model computes exactly what the HF model computes.
"""

import einops
import torch
from torch import Tensor

from arena_core.transformer.config import TransformerConfig


def gpt2_config_from_hf(hf_cfg, name: str = "custom") -> TransformerConfig:
    """TransformerConfig from a `transformers.GPT2Config`."""
    d_mlp = hf_cfg.n_inner if getattr(hf_cfg, "n_inner", None) else 4 * hf_cfg.n_embd
    return TransformerConfig(
        d_model=hf_cfg.n_embd,
        n_layers=hf_cfg.n_layer,
        n_heads=hf_cfg.n_head,
        d_head=hf_cfg.n_embd // hf_cfg.n_head,
        d_mlp=d_mlp,
        d_vocab=hf_cfg.vocab_size,
        n_ctx=hf_cfg.n_positions,
        eps=hf_cfg.layer_norm_epsilon,
        tie_embeddings=getattr(hf_cfg, "tie_word_embeddings", True),
        init_range=hf_cfg.initializer_range,
        name=name,
    )


def gpt2_state_dict_from_hf(sd: dict[str, Tensor], cfg: TransformerConfig) -> dict[str, Tensor]:
    """Our GPT2 state dict from a `GPT2LMHeadModel` (or `GPT2Model`) state dict."""
    sd = {k.removeprefix("transformer."): v for k, v in sd.items()}
    h, d = cfg.n_heads, cfg.d_model
    out = {"embed.W_E": sd["wte.weight"], "pos_embed.W_pos": sd["wpe.weight"]}
    for i in range(cfg.n_layers):
        p, o = f"h.{i}.", f"blocks.{i}."
        out[o + "ln1.w"], out[o + "ln1.b"] = sd[p + "ln_1.weight"], sd[p + "ln_1.bias"]
        out[o + "ln2.w"], out[o + "ln2.b"] = sd[p + "ln_2.weight"], sd[p + "ln_2.bias"]
        W_qkv = sd[p + "attn.c_attn.weight"]  # [d_model, 3 * n_heads * d_head]
        b_qkv = sd[p + "attn.c_attn.bias"]
        for name, W, b in zip("QKV", W_qkv.chunk(3, dim=1), b_qkv.chunk(3), strict=True):
            out[o + f"attn.W_{name}"] = einops.rearrange(W, "d (h e) -> h d e", h=h)
            out[o + f"attn.b_{name}"] = einops.rearrange(b, "(h e) -> h e", h=h)
        out[o + "attn.W_O"] = einops.rearrange(
            sd[p + "attn.c_proj.weight"], "(h e) d -> h e d", h=h
        )
        out[o + "attn.b_O"] = sd[p + "attn.c_proj.bias"]
        out[o + "mlp.W_in"], out[o + "mlp.b_in"] = (
            sd[p + "mlp.c_fc.weight"],
            sd[p + "mlp.c_fc.bias"],
        )
        out[o + "mlp.W_out"] = sd[p + "mlp.c_proj.weight"]
        out[o + "mlp.b_out"] = sd[p + "mlp.c_proj.bias"]
    out["ln_final.w"], out["ln_final.b"] = sd["ln_f.weight"], sd["ln_f.bias"]
    if not cfg.tie_embeddings:
        out["unembed.W_U"] = sd["lm_head.weight"].T
    assert d == out["embed.W_E"].shape[1]
    return {k: v.contiguous() for k, v in out.items()}


def llama_config_from_hf(hf_cfg, name: str = "custom") -> TransformerConfig:
    """TransformerConfig from a `transformers.LlamaConfig`."""
    rope = getattr(hf_cfg, "rope_parameters", None) or {}
    theta = rope.get("rope_theta", getattr(hf_cfg, "rope_theta", 10000.0))
    d_head = getattr(hf_cfg, "head_dim", None) or hf_cfg.hidden_size // hf_cfg.num_attention_heads
    return TransformerConfig(
        d_model=hf_cfg.hidden_size,
        n_layers=hf_cfg.num_hidden_layers,
        n_heads=hf_cfg.num_attention_heads,
        n_kv_heads=hf_cfg.num_key_value_heads,
        d_head=d_head,
        d_mlp=hf_cfg.intermediate_size,
        d_vocab=hf_cfg.vocab_size,
        n_ctx=hf_cfg.max_position_embeddings,
        eps=hf_cfg.rms_norm_eps,
        rotary_base=float(theta),
        tie_embeddings=bool(getattr(hf_cfg, "tie_word_embeddings", False)),
        init_range=hf_cfg.initializer_range,
        name=name,
    )


def llama_state_dict_from_hf(sd: dict[str, Tensor], cfg: TransformerConfig) -> dict[str, Tensor]:
    """Our Llama state dict from a `LlamaForCausalLM` state dict (Linear weights: [out in])."""
    sd = {k.removeprefix("model."): v for k, v in sd.items()}
    out = {"embed.W_E": sd["embed_tokens.weight"]}
    for i in range(cfg.n_layers):
        p, o = f"layers.{i}.", f"blocks.{i}."
        out[o + "ln1.w"] = sd[p + "input_layernorm.weight"]
        out[o + "ln2.w"] = sd[p + "post_attention_layernorm.weight"]
        for name, proj in zip("QKV", ("q_proj", "k_proj", "v_proj"), strict=True):
            W = sd[p + f"self_attn.{proj}.weight"]  # [(heads d_head), d_model]
            out[o + f"attn.W_{name}"] = einops.rearrange(W, "(h e) d -> h d e", e=cfg.d_head)
        W_O = sd[p + "self_attn.o_proj.weight"]  # [d_model, (heads d_head)]
        out[o + "attn.W_O"] = einops.rearrange(W_O, "d (h e) -> h e d", e=cfg.d_head)
        out[o + "mlp.W_gate"] = sd[p + "mlp.gate_proj.weight"].T
        out[o + "mlp.W_in"] = sd[p + "mlp.up_proj.weight"].T
        out[o + "mlp.W_out"] = sd[p + "mlp.down_proj.weight"].T
    out["ln_final.w"] = sd["norm.weight"]
    if not cfg.tie_embeddings:
        out["unembed.W_U"] = sd["lm_head.weight"].T
    return {k: v.contiguous() for k, v in out.items()}


def transformer_lens_state_dict(model: torch.nn.Module) -> dict[str, Tensor]:
    """Our state dict in the form `HookedTransformer.load_state_dict` expects: an explicit
    `unembed.W_U` (TL never ties) and a zero `unembed.b_U` when we have none."""
    sd = dict(model.state_dict())
    sd["unembed.W_U"] = model.unembed.W_U.detach().clone()
    if "unembed.b_U" not in sd:
        sd["unembed.b_U"] = torch.zeros(model.cfg.d_vocab, dtype=model.dtype, device=model.device)
    return sd
