"""Our Llama against HuggingFace's LlamaForCausalLM holding the same random weights."""

import pytest
import torch

from tests.transformer._refs import hf_llama_pair, hf_positions, left_pad_mask

CONFIGS = [
    # grouped-query attention: 6 query heads share 2 key/value heads; non-default RoPE theta
    dict(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        intermediate_size=70,
        vocab_size=83,
        max_position_embeddings=64,
        rope_theta=500.0,
        tie_word_embeddings=True,
    ),
    # plain multi-head, untied unembedding, odd MLP width
    dict(
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=45,
        vocab_size=50,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    ),
    # one key/value head (multi-query attention)
    dict(
        hidden_size=40,
        num_hidden_layers=1,
        num_attention_heads=5,
        num_key_value_heads=1,
        intermediate_size=24,
        vocab_size=31,
        max_position_embeddings=64,
        rope_theta=1e5,
    ),
]


@pytest.mark.parametrize("hf_cfg", CONFIGS)
def test_logits_match_hf_fp32(hf_cfg, device):
    hf, ours = hf_llama_pair(device=device, **hf_cfg)
    tokens = torch.randint(0, hf_cfg["vocab_size"], (2, 19), device=device)
    with torch.no_grad():
        expected = hf(tokens).logits
        got = ours(tokens)
    # fp32, different op order (fused qkv, SDPA with GQA): errors ~1e-6 on O(1) logits.
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("hf_cfg", CONFIGS)
def test_logits_match_hf_float64_explicit_path_and_padding(hf_cfg):
    hf, ours = hf_llama_pair(dtype=torch.float64, **hf_cfg)
    tokens = torch.randint(0, hf_cfg["vocab_size"], (3, 13))
    mask = left_pad_mask(3, 13, [0, 3, 7])
    real = mask.bool()
    # HF computes the RoPE angles in float32 even for a float64 model (we use float64), so
    # agreement is ~1e-7 rather than ~1e-12: the tolerance reflects that one fp32 step.
    tol = dict(atol=1e-6, rtol=1e-6)
    with torch.no_grad():
        expected = hf(tokens, attention_mask=mask, position_ids=hf_positions(mask)).logits
        got = ours(tokens, attention_mask=mask)
        hooked, _ = ours.run_with_cache(tokens, attention_mask=mask)
    torch.testing.assert_close(got[real], expected[real], **tol)
    torch.testing.assert_close(hooked[real], expected[real], **tol)
    torch.testing.assert_close(hooked, got, atol=1e-12, rtol=1e-12)  # SDPA vs explicit path


def test_hidden_states_per_layer_match_hf():
    """resid_post of block i is HF's hidden_states[i + 1] (the last one before the final norm)."""
    hf, ours = hf_llama_pair(dtype=torch.float64, **CONFIGS[0])
    tokens = torch.randint(0, 83, (2, 10))
    with torch.no_grad():
        hidden = hf(tokens, output_hidden_states=True).hidden_states
        _, cache = ours.run_with_cache(tokens, names_filter=lambda n: n.endswith("resid_post"))
    n = ours.cfg.n_layers
    for i in range(n - 1):
        # tolerance: HF's float32 RoPE angles (see above)
        torch.testing.assert_close(cache["resid_post", i], hidden[i + 1], atol=1e-6, rtol=1e-6)
