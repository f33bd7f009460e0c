"""Our GPT-2 against HuggingFace's GPT2LMHeadModel holding the same random weights."""

import pytest
import torch

from tests.transformer._refs import hf_gpt2_pair, hf_positions, left_pad_mask

CONFIGS = [
    dict(n_embd=48, n_layer=2, n_head=4, vocab_size=97, n_positions=32),
    dict(n_embd=30, n_layer=3, n_head=5, vocab_size=61, n_positions=21),  # odd sizes, d_head=6
    dict(n_embd=64, n_layer=1, n_head=1, vocab_size=50, n_positions=16, n_inner=37),
]


@pytest.mark.parametrize("hf_cfg", CONFIGS)
def test_logits_match_hf_fp32(hf_cfg, device):
    hf, ours = hf_gpt2_pair(device=device, **hf_cfg)
    tokens = torch.randint(0, hf_cfg["vocab_size"], (3, hf_cfg["n_positions"] - 2), device=device)
    with torch.no_grad():
        expected = hf(tokens).logits
        got = ours(tokens)
    # fp32 with different op orders (fused qkv, SDPA): ~1e-6 relative to O(1) logits.
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("hf_cfg", CONFIGS[:2])
def test_logits_match_hf_float64_with_hooks(hf_cfg):
    """float64 makes rounding negligible; caching patterns forces the explicit attention path."""
    hf, ours = hf_gpt2_pair(dtype=torch.float64, **hf_cfg)
    tokens = torch.randint(0, hf_cfg["vocab_size"], (2, 11))
    with torch.no_grad():
        expected = hf(tokens).logits
        fast = ours(tokens)
        hooked, cache = ours.run_with_cache(tokens)
    torch.testing.assert_close(fast, expected, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(hooked, expected, atol=1e-10, rtol=1e-10)
    assert "blocks.0.attn.hook_pattern" in cache


def test_left_padding_matches_hf():
    hf, ours = hf_gpt2_pair(dtype=torch.float64, **CONFIGS[1])
    tokens = torch.randint(0, 61, (3, 9))
    mask = left_pad_mask(3, 9, [0, 4, 8])
    with torch.no_grad():
        expected = hf(tokens, attention_mask=mask, position_ids=hf_positions(mask)).logits
        got = ours(tokens, attention_mask=mask)
        got_bool = ours(tokens, attention_mask=mask.bool())  # bool masks are accepted too
        # and a padded row equals the same tokens without padding
        alone = ours(tokens[1:2, 4:])
    real = mask.bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(got[1, 4:], alone[0], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(got_bool, got, atol=0, rtol=0)


def test_parameter_counts_match_hf_for_all_sizes():
    """Counts from configs alone (meta device: no memory). GPT-2 small must be 124,439,808."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from arena_core.transformer import GPT2, GPT2_CONFIGS

    hf_sizes = {
        "gpt2": dict(),
        "gpt2-medium": dict(n_embd=1024, n_layer=24, n_head=16),
        "gpt2-large": dict(n_embd=1280, n_layer=36, n_head=20),
        "gpt2-xl": dict(n_embd=1600, n_layer=48, n_head=25),
    }
    for name, kwargs in hf_sizes.items():
        with torch.device("meta"):
            hf_count = GPT2LMHeadModel(GPT2Config(**kwargs)).num_parameters()
            ours = GPT2(GPT2_CONFIGS[name], init=False).n_params()
        assert ours == hf_count, name
    # The count OpenAI's GPT-2 small is known by (tied embeddings).
    assert GPT2(GPT2_CONFIGS["gpt2"].with_(n_layers=12), init=False).n_params() == 124_439_808
