"""HF config options beyond plain GPT-2 / Llama: each one we implement matches HuggingFace with the
same random weights, and each one we don't is refused by name (`UnsupportedConfigError`) instead
of being loaded into a model that would quietly compute different logits.

References: HF `GPT2LMHeadModel`, `LlamaForCausalLM` and `Qwen2ForCausalLM` built from small
configs (2 layers, d_model 32-48) in float64. GPT-2 agrees to op-order rounding (1e-10). The
Llama family agrees to 1e-6 because HF computes its RoPE angles in float32 even in a float64
model (the same tolerance as test_llama_vs_hf.py).
"""

import pytest
import torch
from transformers import GPT2Config, LlamaConfig, MistralConfig, Qwen2Config, Qwen2ForCausalLM

from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.config import UnsupportedConfigError
from arena_core.transformer.mlp import ACTIVATIONS, GeluMLP
from arena_core.transformer.weights import (
    gpt2_config_from_hf,
    gpt2_state_dict_from_hf,
    llama_config_from_hf,
    llama_state_dict_from_hf,
)
from tests.transformer._refs import hf_gpt2_pair, hf_llama_pair

GPT2_BASE = dict(n_embd=32, n_layer=2, n_head=4, vocab_size=61, n_positions=24)
LLAMA_BASE = dict(
    hidden_size=48,
    num_hidden_layers=2,
    num_attention_heads=6,
    num_key_value_heads=2,
    intermediate_size=40,
    vocab_size=67,
    max_position_embeddings=128,
)
GPT2_TOL = dict(atol=1e-10, rtol=1e-10)  # float64, op order only
LLAMA_TOL = dict(atol=1e-6, rtol=1e-6)  # HF's float32 RoPE angles


def check_against_hf(hf, ours, vocab: int, pos: int, tol: dict) -> torch.Tensor:
    """Fast (SDPA) and hooked (explicit softmax) paths both equal HF's logits."""
    tokens = torch.randint(0, vocab, (2, pos))
    with torch.no_grad():
        expected = hf(tokens).logits
        fast = ours(tokens)
        hooked, _ = ours.run_with_cache(tokens)
    torch.testing.assert_close(fast, expected, **tol)
    torch.testing.assert_close(hooked, expected, **tol)
    return tokens


def assert_option_matters(ours, tokens, tol: dict, **plain) -> None:
    """The same weights in a model without the option give logits that differ by more than
    1000x the parity tolerance, so the parity could not have held by accident. Weights the
    plain model lacks are dropped."""
    plain_model = type(ours)(ours.cfg.with_(**plain), init=False).to(torch.float64)
    plain_model.load_state_dict(ours.state_dict(), strict=False)
    with torch.no_grad():
        gap = (plain_model.eval()(tokens) - ours(tokens)).abs().max().item()
    assert gap > 1000 * tol["atol"], gap


# --- GPT-2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_gpt2_activation_functions_match_hf(act):
    hf, ours = hf_gpt2_pair(dtype=torch.float64, activation_function=act, **GPT2_BASE)
    assert ours.cfg.act_fn == (None if act == "gelu_new" else act)
    # HF's "gelu_fast" writes sqrt(2/pi) to 10 digits (0.7978845608): ~3e-11 relative.
    tokens = check_against_hf(hf, ours, 61, 11, GPT2_TOL)
    if act in ("gelu", "relu", "relu2", "silu", "swish"):  # the tanh GELUs equal the default
        assert_option_matters(ours, tokens, GPT2_TOL, act_fn=None)


@pytest.mark.parametrize(
    "options",
    [
        dict(scale_attn_weights=False),
        dict(scale_attn_by_inverse_layer_idx=True),
        dict(scale_attn_weights=False, scale_attn_by_inverse_layer_idx=True),
    ],
)
def test_gpt2_attention_scaling_options_match_hf(options):
    hf, ours = hf_gpt2_pair(dtype=torch.float64, **(GPT2_BASE | options | dict(n_layer=3)))
    assert ours.cfg.use_attn_scale == options.get("scale_attn_weights", True)
    tokens = check_against_hf(hf, ours, 61, 11, GPT2_TOL)
    assert_option_matters(
        ours, tokens, GPT2_TOL, use_attn_scale=True, scale_attn_by_inverse_layer_idx=False
    )


def test_gpt2_reorder_and_upcast_attn_is_accepted():
    """HF's `reorder_and_upcast_attn` (eager attention only) computes the scores in float32 by
    another op order: the same function. In float32 our logits equal HF's to fp32 rounding."""
    hf, ours = hf_gpt2_pair(
        reorder_and_upcast_attn=True,
        attn_implementation="eager",
        scale_attn_by_inverse_layer_idx=True,
        **GPT2_BASE,
    )
    assert hf.config._attn_implementation == "eager"
    tokens = torch.randint(0, 61, (2, 13))
    with torch.no_grad():
        # fp32 with different op orders: ~1e-6 on O(1) logits (as test_gpt2_vs_hf.py)
        torch.testing.assert_close(ours(tokens), hf(tokens).logits, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "hf_cfg,option",
    [
        (GPT2Config(activation_function="quick_gelu", **GPT2_BASE), "activation_function"),
        (GPT2Config(activation_function="tanh", **GPT2_BASE), "activation_function"),
        (GPT2Config(add_cross_attention=True, **GPT2_BASE), "add_cross_attention"),
        (LlamaConfig(**LLAMA_BASE), "model_type"),
    ],
)
def test_gpt2_refuses_what_it_does_not_implement(hf_cfg, option):
    with pytest.raises(UnsupportedConfigError, match=f"{option}=.*not supported by arena_core"):
        gpt2_config_from_hf(hf_cfg)


# --- Llama family --------------------------------------------------------------------------


def test_llama_attention_bias_matches_hf():
    """HF Llama's `attention_bias=True` puts biases on q, k, v *and* o_proj."""
    hf, ours = hf_llama_pair(dtype=torch.float64, attention_bias=True, **LLAMA_BASE)
    assert ours.cfg.attn_qkv_bias and ours.cfg.attn_out_bias
    attn = ours.blocks[0].attn
    # TransformerLens names and shapes (grouped K/V: 2 key/value heads)
    assert attn.b_Q.shape == (6, 8) and attn.b_K.shape == (2, 8) and attn.b_V.shape == (2, 8)
    assert attn.b_O.shape == (48,)
    torch.testing.assert_close(attn.b_O, hf.model.layers[0].self_attn.o_proj.bias)
    tokens = check_against_hf(hf, ours, 67, 13, LLAMA_TOL)
    assert_option_matters(ours, tokens, LLAMA_TOL, attn_qkv_bias=False, attn_out_bias=False)


def test_llama_attention_bias_matches_hf_fp32(device):
    hf, ours = hf_llama_pair(device=device, attention_bias=True, **LLAMA_BASE)
    tokens = torch.randint(0, 67, (2, 17), device=device)
    with torch.no_grad():
        # fp32, different op order (fused qkv with bias, SDPA): ~1e-6 on O(1) logits
        torch.testing.assert_close(ours(tokens), hf(tokens).logits, atol=2e-5, rtol=1e-5)


def test_qwen2_biases_on_qkv_only_match_hf():
    """Qwen2: biases on q, k, v but none on o_proj; otherwise a Llama."""
    hf, ours = hf_llama_pair(
        dtype=torch.float64, config_class=Qwen2Config, model_class=Qwen2ForCausalLM, **LLAMA_BASE
    )
    assert ours.cfg.attn_qkv_bias and not ours.cfg.attn_out_bias
    assert ours.blocks[0].attn.b_O is None and ours.blocks[0].attn.b_K is not None
    tokens = check_against_hf(hf, ours, 67, 13, LLAMA_TOL)
    assert_option_matters(ours, tokens, LLAMA_TOL, attn_qkv_bias=False)


def test_llama_mlp_bias_matches_hf():
    hf, ours = hf_llama_pair(dtype=torch.float64, mlp_bias=True, **LLAMA_BASE)
    mlp = ours.blocks[1].mlp
    assert mlp.b_gate.shape == mlp.b_in.shape == (40,) and mlp.b_out.shape == (48,)
    tokens = check_against_hf(hf, ours, 67, 13, LLAMA_TOL)
    assert_option_matters(ours, tokens, LLAMA_TOL, mlp_bias=False)


@pytest.mark.parametrize("act", ["gelu", "gelu_pytorch_tanh", "relu"])
def test_llama_hidden_act_matches_hf(act):
    hf, ours = hf_llama_pair(dtype=torch.float64, hidden_act=act, **LLAMA_BASE)
    assert ours.cfg.act_fn == act
    tokens = check_against_hf(hf, ours, 67, 13, LLAMA_TOL)
    assert_option_matters(ours, tokens, LLAMA_TOL, act_fn=None)


ROPE_CASES = {
    "linear": dict(rope_parameters=dict(rope_type="linear", factor=4.0, rope_theta=500.0)),
    # base 10000, original context 64: wavelengths below 64/4 = 16 are kept, above 64/1 divided
    # by 8, in between blended. d_head 8 has wavelengths 6.3, 63, 628, 6283: one in each band.
    "llama3": dict(
        rope_parameters=dict(
            rope_type="llama3",
            factor=8.0,
            low_freq_factor=1.0,
            high_freq_factor=4.0,
            original_max_position_embeddings=64,
            rope_theta=10000.0,
        )
    ),
    # pre-transformers-5 spelling: `rope_scaling` with "type"
    "legacy rope_scaling": dict(rope_scaling=dict(type="linear", factor=2.0)),
}


@pytest.mark.parametrize("case", sorted(ROPE_CASES))
def test_llama_scaled_rope_matches_hf(case):
    hf, ours = hf_llama_pair(dtype=torch.float64, **(LLAMA_BASE | ROPE_CASES[case]))
    assert ours.cfg.rope_type in ("linear", "llama3")
    tokens = check_against_hf(hf, ours, 67, 40, LLAMA_TOL)  # 40 positions: long wavelengths matter
    assert_option_matters(ours, tokens, LLAMA_TOL, rope_type="default")


def test_llama3_frequencies_match_hf_rotary_embedding():
    """Per frequency, in all three bands: our float64 table vs HF's float32 buffer."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    from arena_core.transformer.rotary import rotary_frequencies

    heads = dict(num_attention_heads=3, num_key_value_heads=3)  # d_head 16: 8 frequencies
    hf_cfg = LlamaConfig(**(LLAMA_BASE | ROPE_CASES["llama3"] | heads))
    cfg = llama_config_from_hf(hf_cfg)
    ours, plain = rotary_frequencies(cfg), rotary_frequencies(cfg.with_(rope_type="default"))
    expected = LlamaRotaryEmbedding(hf_cfg).inv_freq.double()
    torch.testing.assert_close(ours, expected, atol=0, rtol=1e-6)  # float32 rounding
    kept, divided = ours == plain, torch.isclose(ours, plain / 8, rtol=1e-12, atol=0)
    blended = ~(kept | divided)
    assert kept.any() and divided.any() and blended.any(), ours / plain


@pytest.mark.parametrize(
    "config_class,kwargs,option",
    [
        (LlamaConfig, dict(hidden_act="quick_gelu"), "hidden_act"),
        (LlamaConfig, dict(rope_parameters=dict(rope_type="dynamic", factor=2.0)), "rope_type"),
        (
            LlamaConfig,
            dict(
                rope_parameters=dict(
                    rope_type="yarn", factor=2.0, original_max_position_embeddings=64
                )
            ),
            "rope_type",
        ),
        (
            LlamaConfig,
            dict(rope_parameters=dict(rope_type="linear", factor=2.0, partial_rotary_factor=0.5)),
            "partial_rotary_factor",
        ),
        (
            Qwen2Config,
            dict(use_sliding_window=True, sliding_window=8, max_window_layers=1),
            "use_sliding_window",
        ),
        (MistralConfig, dict(), "model_type"),
    ],
)
def test_llama_refuses_what_it_does_not_implement(config_class, kwargs, option):
    hf_cfg = config_class(**(LLAMA_BASE | kwargs))
    with pytest.raises(UnsupportedConfigError, match=f"{option}=.*not supported by arena_core"):
        llama_config_from_hf(hf_cfg)


def test_state_dict_converters_refuse_leftover_tensors():
    """A tensor the config did not announce (here: biases) is an error, never dropped."""
    hf, _ = hf_llama_pair(dtype=torch.float64, attention_bias=True, **LLAMA_BASE)
    no_bias = llama_config_from_hf(hf.config).with_(attn_qkv_bias=False, attn_out_bias=False)
    with pytest.raises(UnsupportedConfigError, match="no place in our model.*q_proj.bias"):
        llama_state_dict_from_hf(hf.state_dict(), no_bias)
    hf, _ = hf_gpt2_pair(dtype=torch.float64, **GPT2_BASE)
    sd = hf.state_dict() | {"transformer.h.0.attn.q_norm.weight": torch.ones(8)}
    with pytest.raises(UnsupportedConfigError, match="q_norm"):
        gpt2_state_dict_from_hf(sd, gpt2_config_from_hf(hf.config))


def test_our_config_and_layers_refuse_unknown_variants():
    with pytest.raises(UnsupportedConfigError, match="rope_type='yarn'"):
        TransformerConfig(rope_type="yarn")
    with pytest.raises(UnsupportedConfigError, match="act_fn='quick_gelu'"):
        GeluMLP(TransformerConfig(d_model=8, d_mlp=16, act_fn="quick_gelu"))
    with pytest.raises(UnsupportedConfigError, match="act_fn='mish'"):
        Llama(TransformerConfig(d_model=8, n_heads=2, d_head=4, d_vocab=5, act_fn="mish"))
    # GPT-2 builds the same way (smoke: the layer index reaches each attention's scale)
    model = GPT2(TransformerConfig(d_model=8, n_heads=2, d_head=4, d_mlp=8, d_vocab=5, n_ctx=4,
                                   n_layers=3, scale_attn_by_inverse_layer_idx=True))  # fmt: skip
    assert [b.attn.attn_scale for b in model.blocks] == [2.0, 4.0, 6.0]
