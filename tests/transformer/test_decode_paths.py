"""Decoding shortcuts must not change results: `last_only` logits, a KV cache that grows past its
preallocated capacity, and mask-free cached steps vs a full recomputation.
References are the plain full-sequence forward (an independent code path: no cache, no shortcut)."""

import torch

from arena_core.transformer import GPT2, KVCache, Llama, TransformerConfig


def tiny(cls):
    cfg = TransformerConfig(
        d_model=24,
        n_layers=2,
        n_heads=4,
        d_head=6,
        d_mlp=40,
        d_vocab=37,
        n_ctx=32,
        n_kv_heads=2 if cls is Llama else None,
    )
    return cls(cfg).double().eval()


def test_last_only_and_growing_cache_match_full_forward():
    for cls in (GPT2, Llama):
        model = tiny(cls)
        tokens = torch.randint(0, 37, (2, 11))
        with torch.no_grad():
            full = model(tokens)
            last = model(tokens, last_only=True)
            assert last.shape == (2, 1, 37)
            torch.testing.assert_close(last[:, 0], full[:, -1])  # float64: rounding only
            # capacity 3 < 11 positions: append must grow the buffers (doubling) on the way
            cache = KVCache.empty(model.cfg, batch=2, dtype=torch.float64, capacity=3)
            steps = [model(tokens[:, :4], kv_cache=cache)]
            for i in range(4, 11):
                steps.append(model(tokens[:, i : i + 1], kv_cache=cache, last_only=True))
            assert cache.length == 11 and cache[0].k.shape[2] == 11
            torch.testing.assert_close(torch.cat(steps, dim=1), full)
