"""Converting HuggingFace checkpoints into our TransformerLens-layout state dicts (day 32).

GPT-2: HF stores its projections as `Conv1D` (y = x @ W + b, W `[in out]`), with Q, K and V
side by side in `c_attn`. Llama: HF stores `nn.Linear` weights (`[out in]`, y = x @ W.T).
Both become `W_Q [n_heads d_model d_head]`, `W_O [n_heads d_head d_model]`, ...
Conversion is pure reshaping: no weight processing (no LayerNorm folding, no centring), so our
model computes exactly what the HF model computes.

The config converters read every HF option that changes what the model computes. An option we
implement becomes a config field; one we don't raises `UnsupportedConfigError` naming it, since
ignoring it would give a model with silently different logits. The state-dict converters also
refuse HF tensors that have no place in our model (a bias the config did not announce, say).
"""

import einops
import torch
from torch import Tensor

from arena_core.transformer.config import ROPE_TYPES, TransformerConfig, UnsupportedConfigError
from arena_core.transformer.mlp import ACTIVATIONS


def _refuse(family: str, option: str, value, why: str) -> UnsupportedConfigError:
    return UnsupportedConfigError(
        f"{family} config option {option}={value!r} is not supported by arena_core ({why}); "
        "loading this checkpoint would compute a different model"
    )


def _check_activation(family: str, option: str, name: str) -> None:
    if name not in ACTIVATIONS:
        raise _refuse(family, option, name, f"known activations: {sorted(ACTIVATIONS)}")


def gpt2_config_from_hf(hf_cfg, name: str = "custom") -> TransformerConfig:
    """TransformerConfig from a `transformers.GPT2Config`.

    `reorder_and_upcast_attn` is accepted: it only changes the precision of HF's eager attention
    scores (float32 for a half-precision model), not the function computed."""
    model_type = getattr(hf_cfg, "model_type", "gpt2")
    if model_type != "gpt2":
        raise _refuse("GPT-2", "model_type", model_type, "this converter reads GPT-2 configs")
    act = getattr(hf_cfg, "activation_function", "gelu_new")
    _check_activation("GPT-2", "activation_function", act)
    if getattr(hf_cfg, "add_cross_attention", False):
        raise _refuse("GPT-2", "add_cross_attention", True, "our models are decoder-only")
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
        act_fn=None if act == "gelu_new" else act,
        use_attn_scale=bool(getattr(hf_cfg, "scale_attn_weights", True)),
        scale_attn_by_inverse_layer_idx=bool(
            getattr(hf_cfg, "scale_attn_by_inverse_layer_idx", False)
        ),
        name=name,
    )


def gpt2_state_dict_from_hf(sd: dict[str, Tensor], cfg: TransformerConfig) -> dict[str, Tensor]:
    """Our GPT2 state dict from a `GPT2LMHeadModel` (or `GPT2Model`) state dict."""
    sd = {k.removeprefix("transformer."): v for k, v in sd.items()}
    take = _Taker(sd)
    h, d = cfg.n_heads, cfg.d_model
    out = {"embed.W_E": take("wte.weight"), "pos_embed.W_pos": take("wpe.weight")}
    for i in range(cfg.n_layers):
        p, o = f"h.{i}.", f"blocks.{i}."
        out[o + "ln1.w"], out[o + "ln1.b"] = take(p + "ln_1.weight"), take(p + "ln_1.bias")
        out[o + "ln2.w"], out[o + "ln2.b"] = take(p + "ln_2.weight"), take(p + "ln_2.bias")
        W_qkv = take(p + "attn.c_attn.weight")  # [d_model, 3 * n_heads * d_head]
        b_qkv = take(p + "attn.c_attn.bias")
        for name, W, b in zip("QKV", W_qkv.chunk(3, dim=1), b_qkv.chunk(3), strict=True):
            out[o + f"attn.W_{name}"] = einops.rearrange(W, "d (h e) -> h d e", h=h)
            out[o + f"attn.b_{name}"] = einops.rearrange(b, "(h e) -> h e", h=h)
        out[o + "attn.W_O"] = einops.rearrange(
            take(p + "attn.c_proj.weight"), "(h e) d -> h e d", h=h
        )
        out[o + "attn.b_O"] = take(p + "attn.c_proj.bias")
        out[o + "mlp.W_in"], out[o + "mlp.b_in"] = (
            take(p + "mlp.c_fc.weight"),
            take(p + "mlp.c_fc.bias"),
        )
        out[o + "mlp.W_out"] = take(p + "mlp.c_proj.weight")
        out[o + "mlp.b_out"] = take(p + "mlp.c_proj.bias")
    out["ln_final.w"], out["ln_final.b"] = take("ln_f.weight"), take("ln_f.bias")
    if not cfg.tie_embeddings:
        out["unembed.W_U"] = take("lm_head.weight").T
    # old checkpoints store the causal mask as buffers `attn.bias` / `attn.masked_bias`
    take.check_all_used("GPT-2", ignore=("lm_head.weight", ".attn.bias", ".attn.masked_bias"))
    assert d == out["embed.W_E"].shape[1]
    return {k: v.contiguous() for k, v in out.items()}


def _rope_fields(hf_cfg, family: str) -> dict:
    """Our RoPE config fields from HF's `rope_parameters` (transformers 5; older configs call
    it `rope_scaling` and may keep `rope_theta` beside it)."""
    rope = getattr(hf_cfg, "rope_parameters", None) or getattr(hf_cfg, "rope_scaling", None) or {}
    if any(isinstance(v, dict) for v in rope.values()):  # one RoPE per layer type
        raise _refuse(family, "rope_parameters", rope, "per-layer-type RoPE")
    theta = rope.get("rope_theta", getattr(hf_cfg, "rope_theta", 10000.0))
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    fields = dict(rotary_base=float(theta))
    if rope_type not in ROPE_TYPES:
        raise _refuse(family, "rope_type", rope_type, f"implemented RoPE types: {ROPE_TYPES}")
    if rope_type == "default":
        return fields  # HF's default Llama RoPE ignores every other key (partial_rotary_factor too)
    partial = rope.get("partial_rotary_factor", getattr(hf_cfg, "partial_rotary_factor", None))
    if partial not in (None, 1, 1.0):
        raise _refuse(family, "partial_rotary_factor", partial, "RoPE covers the whole head")
    fields |= dict(rope_type=rope_type, rope_factor=float(rope["factor"]))
    if rope_type == "llama3":
        fields |= dict(
            rope_low_freq_factor=float(rope["low_freq_factor"]),
            rope_high_freq_factor=float(rope["high_freq_factor"]),
            rope_original_n_ctx=int(rope["original_max_position_embeddings"]),
        )
    return fields


def llama_config_from_hf(hf_cfg, name: str = "custom") -> TransformerConfig:
    """TransformerConfig from a `transformers.LlamaConfig` or `Qwen2Config`.

    Llama's `attention_bias` puts biases on Q, K, V *and* O; Qwen2 always has Q, K, V biases
    and no O bias (and may use sliding-window attention, which we refuse)."""
    model_type = getattr(hf_cfg, "model_type", "llama")
    family = {"llama": "Llama", "qwen2": "Qwen2"}.get(model_type)
    if family is None:
        raise _refuse("Llama", "model_type", model_type, "this converter reads llama and qwen2")
    act = getattr(hf_cfg, "hidden_act", "silu")
    _check_activation(family, "hidden_act", act)
    if model_type == "qwen2":
        qkv_bias, out_bias = True, False
        layer_types = getattr(hf_cfg, "layer_types", None) or []
        if getattr(hf_cfg, "sliding_window", None) is not None and any(
            t != "full_attention" for t in layer_types
        ):
            raise _refuse(family, "use_sliding_window", True, "attention is always full")
    else:
        qkv_bias = out_bias = bool(getattr(hf_cfg, "attention_bias", False))
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
        tie_embeddings=bool(getattr(hf_cfg, "tie_word_embeddings", False)),
        init_range=hf_cfg.initializer_range,
        act_fn=None if act == "silu" else act,
        attn_qkv_bias=qkv_bias,
        attn_out_bias=out_bias,
        mlp_bias=bool(getattr(hf_cfg, "mlp_bias", False)),
        name=name,
        **_rope_fields(hf_cfg, family),
    )


def llama_state_dict_from_hf(sd: dict[str, Tensor], cfg: TransformerConfig) -> dict[str, Tensor]:
    """Our Llama state dict from a `LlamaForCausalLM` (or `Qwen2ForCausalLM`) state dict
    (Linear weights: [out in])."""
    sd = {k.removeprefix("model."): v for k, v in sd.items()}
    take = _Taker(sd)
    e = cfg.d_head
    out = {"embed.W_E": take("embed_tokens.weight")}
    for i in range(cfg.n_layers):
        p, o = f"layers.{i}.", f"blocks.{i}."
        out[o + "ln1.w"] = take(p + "input_layernorm.weight")
        out[o + "ln2.w"] = take(p + "post_attention_layernorm.weight")
        for name, proj in zip("QKV", ("q_proj", "k_proj", "v_proj"), strict=True):
            W = take(p + f"self_attn.{proj}.weight")  # [(heads d_head), d_model]
            out[o + f"attn.W_{name}"] = einops.rearrange(W, "(h e) d -> h d e", e=e)
            if cfg.attn_qkv_bias:
                b = take(p + f"self_attn.{proj}.bias")
                out[o + f"attn.b_{name}"] = einops.rearrange(b, "(h e) -> h e", e=e)
        W_O = take(p + "self_attn.o_proj.weight")  # [d_model, (heads d_head)]
        out[o + "attn.W_O"] = einops.rearrange(W_O, "d (h e) -> h e d", e=e)
        if cfg.attn_out_bias:
            out[o + "attn.b_O"] = take(p + "self_attn.o_proj.bias")
        for ours, theirs in (("gate", "gate_proj"), ("in", "up_proj"), ("out", "down_proj")):
            out[o + f"mlp.W_{ours}"] = take(p + f"mlp.{theirs}.weight").T
            if cfg.mlp_bias:
                out[o + f"mlp.b_{ours}"] = take(p + f"mlp.{theirs}.bias")
    out["ln_final.w"] = take("norm.weight")
    if not cfg.tie_embeddings:
        out["unembed.W_U"] = take("lm_head.weight").T
    take.check_all_used("Llama", ignore=("lm_head.weight", "rotary_emb.inv_freq"))
    return {k: v.contiguous() for k, v in out.items()}


class _Taker:
    """Reads tensors from a state dict and remembers which ones were read, so that a tensor
    left over (e.g. a bias the config did not announce) is an error, not silently dropped."""

    def __init__(self, sd: dict[str, Tensor]):
        self.sd, self.used = sd, set()

    def __call__(self, key: str) -> Tensor:
        self.used.add(key)
        return self.sd[key]

    def check_all_used(self, model: str, ignore: tuple[str, ...]) -> None:
        left = [k for k in self.sd if k not in self.used and not k.endswith(ignore)]
        if left:
            raise UnsupportedConfigError(
                f"{model}: checkpoint tensors with no place in our model: {left[:6]}"
                + (f" (+{len(left) - 6} more)" if len(left) > 6 else "")
            )


def transformer_lens_state_dict(model: torch.nn.Module) -> dict[str, Tensor]:
    """Our state dict in the form `HookedTransformer.load_state_dict` expects: an explicit
    `unembed.W_U` (TL never ties) and a zero `unembed.b_U` when we have none."""
    sd = dict(model.state_dict())
    sd["unembed.W_U"] = model.unembed.W_U.detach().clone()
    if "unembed.b_U" not in sd:
        sd["unembed.b_U"] = torch.zeros(model.cfg.n_out, dtype=model.dtype, device=model.device)
    return sd
