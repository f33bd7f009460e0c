"""A TransformerLens `HookedTransformer` holding our model's weights, for side-by-side checks.

TransformerLens is the independent reference for our hook names and activations (tests) and the
peer in the benchmarks. The twin is built from a `HookedTransformerConfig` (offline, no hub) and
loaded with our state dict *without* TL's weight processing (no LayerNorm folding, no centring),
so every activation should equal ours. Keyword overrides go straight to the TL config, which lets
a test spell out the architecture itself. A configuration TL cannot express (linear-scaled RoPE,
biases inside a gated MLP) raises `UnsupportedConfigError`.

A bidirectional model maps to TL's `attention_dir="bidirectional"`. TL applies no padding mask
there (it masks only causally), so `pad_key_mask_hooks` gives hooks that mask pad keys, as ours
does.
"""

from typing import Any

import torch

from arena_core.transformer.config import UnsupportedConfigError
from arena_core.transformer.weights import transformer_lens_state_dict


def transformer_lens_config_kwargs(model: torch.nn.Module) -> dict[str, Any]:
    """The `HookedTransformerConfig` arguments describing our GPT-2 or Llama-style model."""
    from arena_core.transformer.llama import Llama

    c = model.cfg
    kwargs: dict[str, Any] = dict(
        d_model=c.d_model, n_layers=c.n_layers, n_heads=c.n_heads, d_head=c.d_head,
        d_mlp=c.d_mlp, d_vocab=c.d_vocab, n_ctx=min(c.n_ctx, 2048), eps=c.eps,
        use_attn_scale=c.use_attn_scale,
        scale_attn_by_inverse_layer_idx=c.scale_attn_by_inverse_layer_idx,
        attention_dir=c.attention_dir, d_vocab_out=c.n_out,
    )  # fmt: skip
    if isinstance(model, Llama):
        if c.mlp_bias and not c.attn_only:  # TL adds its gated b_in after the product
            raise UnsupportedConfigError("mlp_bias=True has no TransformerLens counterpart")
        kwargs |= dict(
            act_fn=_tl_act(c.act_fn or "silu"), normalization_type="RMS",
            positional_embedding_type="rotary", rotary_dim=c.d_head,
            rotary_base=int(c.rotary_base), rotary_adjacent_pairs=False,
            gated_mlp=True, final_rms=True, attn_only=c.attn_only,
            n_key_value_heads=c.kv_heads if c.kv_heads != c.n_heads else None,
        )  # fmt: skip
        if c.rope_type == "llama3":
            kwargs |= dict(
                use_NTK_by_parts_rope=True, NTK_by_parts_factor=c.rope_factor,
                NTK_by_parts_low_freq_factor=c.rope_low_freq_factor,
                NTK_by_parts_high_freq_factor=c.rope_high_freq_factor,
                NTK_original_ctx_len=c.rope_original_n_ctx,
            )  # fmt: skip
        elif c.rope_type != "default":
            raise UnsupportedConfigError(
                f"rope_type={c.rope_type!r} has no TransformerLens counterpart"
            )
    else:
        kwargs |= dict(
            act_fn=_tl_act(c.act_fn or "gelu_new"), normalization_type="LN", attn_only=c.attn_only
        )
    return kwargs


def _tl_act(name: str) -> str:
    """TransformerLens' name for one of our activations (TL knows SiLU only as "silu")."""
    return "silu" if name == "swish" else name


def transformer_lens_twin(
    model: torch.nn.Module, dtype: torch.dtype | None = None, **overrides: Any
):
    """A `HookedTransformer` on the CPU with `model`'s weights; raises if a weight is unmatched."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    kwargs = transformer_lens_config_kwargs(model) | overrides
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("dtype", dtype or next(model.parameters()).dtype)
    tl = HookedTransformer(HookedTransformerConfig(**kwargs))
    sd = transformer_lens_state_dict(model)
    if model.cfg.kv_heads != model.cfg.n_heads:  # TL keeps grouped K/V as _W_K, _W_V, _b_K, _b_V
        grouped = ("attn.W_K", "attn.W_V", "attn.b_K", "attn.b_V")
        sd = {_rename_grouped(k, grouped): v for k, v in sd.items()}
    missing, unexpected = tl.load_state_dict(sd, strict=False)
    # whatever TL has that we do not must be a (zero) bias or a buffer, never a weight matrix
    odd = [
        k
        for k in missing
        if not (
            ".b_" in k or "._b_" in k or k.endswith(("mask", "IGNORE", "rotary_sin", "rotary_cos"))
        )
    ]
    if unexpected or odd:
        raise ValueError(
            f"weights do not map onto TransformerLens: unexpected {unexpected}, missing {odd}"
        )
    return tl.eval()


def _rename_grouped(key: str, grouped: tuple[str, ...]) -> str:
    for name in grouped:
        key = key.replace(name, name.replace("attn.", "attn._"))
    return key


def pad_key_mask_hooks(tl_model, attention_mask: torch.Tensor) -> list[tuple[str, Any]]:
    """(name, hook) pairs for `tl_model.hooks(fwd_hooks=...)`: set the scores of pad keys
    (`attention_mask == 0`) to -inf in every layer, the padding mask of a bidirectional model."""
    pad = ~attention_mask.bool()[:, None, None, :]

    def hook(scores: torch.Tensor, hook: Any) -> torch.Tensor:
        return scores.masked_fill(pad, float("-inf"))

    return [(f"blocks.{i}.attn.hook_attn_scores", hook) for i in range(tl_model.cfg.n_layers)]
