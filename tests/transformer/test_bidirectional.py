"""Bidirectional attention (`attention_dir="bidirectional"`, day 59) against TransformerLens'
bidirectional HookedTransformer with the same weights: logits and every shared cached activation,
with and without right padding. TL masks no pad keys in bidirectional mode, so the reference gets
hooks that set pad keys' scores to -inf (`pad_key_mask_hooks`), the masking ours does itself."""

import pytest
import torch

from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.config import UnsupportedConfigError
from arena_core.transformer.tl_twin import pad_key_mask_hooks, transformer_lens_twin

# the day-59 classifier's shape: GPT-2 style, d_model 56, 3 layers, 2 heads, d_mlp 56, 2 outputs
CFG = TransformerConfig(
    d_model=56, n_layers=3, n_heads=2, d_head=28, d_mlp=56, d_vocab=5, d_vocab_out=2, n_ctx=42,
    tie_embeddings=False, attention_dir="bidirectional",
)  # fmt: skip


@pytest.fixture
def models():
    ours = GPT2(CFG).double().eval()
    with torch.no_grad():  # non-trivial norms and biases
        for name, p in ours.named_parameters():
            p.add_(0.1 * torch.randn_like(p))
    tl = transformer_lens_twin(ours, dtype=torch.float64)
    assert tl.cfg.attention_dir == "bidirectional" and tl.cfg.d_vocab_out == 2
    return ours, tl


def right_padded(lengths: list[int], n_ctx: int) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = torch.randint(0, 5, (len(lengths), n_ctx))
    mask = (torch.arange(n_ctx)[None, :] < torch.tensor(lengths)[:, None]).long()
    return torch.where(mask.bool(), tokens, 1), mask


def compare(ours, tl, tokens, mask, tol=1e-10):
    with torch.no_grad():
        our_logits, our_cache = ours.run_with_cache(tokens, attention_mask=mask)
        hooks = pad_key_mask_hooks(tl, mask) if mask is not None else []
        with tl.hooks(fwd_hooks=hooks):
            tl_logits, tl_cache = tl.run_with_cache(tokens)
    assert our_logits.shape == (*tokens.shape, 2)
    shared = [n for n in our_cache if n in tl_cache]
    assert len(shared) >= 2 + 17 * CFG.n_layers + 2
    for name in shared:
        a, b = our_cache[name], tl_cache[name]
        if name.endswith("attn_scores"):
            assert torch.equal(a.isinf(), b.isinf()), name
            a, b = a[a.isfinite()], b[b.isfinite()]
        # float64 throughout; 1e-10 leaves room only for op-order rounding
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=name)
    torch.testing.assert_close(our_logits, tl_logits, atol=tol, rtol=tol)
    return our_cache


def test_bidirectional_matches_transformer_lens_without_padding(models):
    ours, tl = models
    tokens = torch.randint(0, 5, (3, 11))
    cache = compare(ours, tl, tokens, None)
    # no causal mask: the first query attends to the last key
    assert (cache["blocks.0.attn.hook_pattern"][:, :, 0, -1] > 0).all()


def test_bidirectional_matches_transformer_lens_with_right_padding(models):
    ours, tl = models
    tokens, mask = right_padded([42, 17, 3, 30], 42)
    cache = compare(ours, tl, tokens, mask)
    pattern = cache["blocks.2.attn.hook_pattern"]
    assert (pattern[1, :, :, 17:] == 0).all() and (pattern[1, :, :, :17] > 0).all()
    # the real positions do not depend on what the pad positions hold
    other = torch.where(mask.bool(), tokens, 3)
    with torch.no_grad():
        a = ours(tokens, attention_mask=mask)[:, 0]
        b = ours(other, attention_mask=mask)[:, 0]
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_causal_model_still_masks_the_future(models):
    ours, _ = models
    causal = GPT2(CFG.with_(attention_dir="causal")).double().eval()
    causal.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 5, (2, 9))
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 5
    with torch.no_grad():
        torch.testing.assert_close(causal(tokens)[:, 0], causal(changed)[:, 0])
        assert not torch.allclose(ours(tokens)[:, 0], ours(changed)[:, 0])


def test_bad_options_are_refused(models):
    ours, _ = models
    with pytest.raises(UnsupportedConfigError):
        CFG.with_(attention_dir="sideways")
    with pytest.raises(ValueError, match="tie_embeddings"):
        CFG.with_(tie_embeddings=True)
    from arena_core.transformer.kv_cache import KVCache

    cache = KVCache.empty(ours.cfg, batch=1, device="cpu", dtype=torch.float64)
    with pytest.raises(ValueError, match="KV cache"):
        ours(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)
