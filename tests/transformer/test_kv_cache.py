"""KV cache: a full forward equals a prefix forward followed by cached incremental steps.

The reference for the full forward is HuggingFace (same weights), so the cached path is checked
against an independent model, not only against itself."""

import pytest
import torch

from arena_core.transformer import KVCache
from tests.transformer._refs import hf_gpt2_pair, hf_llama_pair, hf_positions, left_pad_mask

PAIRS = {
    "gpt2": lambda: hf_gpt2_pair(n_embd=32, n_layer=2, n_head=4, vocab_size=53, n_positions=32),
    "llama": lambda: hf_llama_pair(
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=6,
        num_key_value_heads=2,
        intermediate_size=40,
        vocab_size=53,
        rope_theta=1000.0,
    ),
}


@pytest.mark.parametrize("family", PAIRS)
@pytest.mark.parametrize("pads", [[0, 0], [3, 0], [0, 5]])
@pytest.mark.parametrize("chunks", [[6, 1, 1, 1, 1], [4, 3, 3]])
def test_cached_steps_equal_full_forward(family, pads, chunks):
    hf, ours = PAIRS[family]()
    total = sum(chunks)
    tokens = torch.randint(0, 53, (2, total))
    mask = left_pad_mask(2, total, pads)  # padding only inside the first (prompt) chunk
    with torch.no_grad():
        expected = hf(tokens, attention_mask=mask, position_ids=hf_positions(mask)).logits
        full = ours(tokens, attention_mask=mask)
        cache = KVCache.empty(ours.cfg, batch=2)
        pieces, start = [], 0
        for i, n in enumerate(chunks):
            # first call passes the prompt's mask; later calls pass only the new tokens' mask
            # (or nothing), exercising both conventions
            step_mask = mask[:, :n] if i == 0 else (mask[:, : start + n] if i % 2 else None)
            pieces.append(
                ours(tokens[:, start : start + n], attention_mask=step_mask, kv_cache=cache)
            )
            start += n
            assert cache.length == start
    stepped = torch.cat(pieces, dim=1)
    real = mask.bool()
    # fp32; op order differs between one pass and incremental passes: ~1e-6 on O(1) logits
    torch.testing.assert_close(stepped[real], full[real], atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(stepped[real], expected[real], atol=2e-5, rtol=1e-5)


def test_cache_select_reorders_rows():
    _, ours = PAIRS["llama"]()
    tokens = torch.randint(0, 53, (3, 7))
    with torch.no_grad():
        cache = KVCache.empty(ours.cfg, batch=3)
        ours(tokens[:, :5], kv_cache=cache)
        picked = cache.select(torch.tensor([2, 2, 0]))
        got = ours(tokens[[2, 2, 0], 5:], kv_cache=picked)
        expected = ours(tokens[[2, 2, 0]])[:, 5:]
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)
    assert picked.length == 7 and cache.length == 5  # the original cache is untouched


def test_cache_rejects_a_mask_of_the_wrong_length():
    _, ours = PAIRS["gpt2"]()
    cache = KVCache.empty(ours.cfg, batch=1)
    ours(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="attention_mask"):
        ours(
            torch.zeros(1, 1, dtype=torch.long),
            attention_mask=torch.ones(1, 2, dtype=torch.long),
            kv_cache=cache,
        )
