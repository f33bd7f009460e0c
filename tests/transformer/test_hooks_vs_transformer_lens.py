"""Every hook activation of our models against TransformerLens' HookedTransformer, built from a
config (offline) and loaded with our weights (no weight processing, so activations are equal)."""

import pytest
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.weights import transformer_lens_state_dict

CFG = TransformerConfig(
    d_model=40, n_layers=2, n_heads=4, d_head=10, d_mlp=56, d_vocab=71, n_ctx=24
)


def tl_twin(ours, **extra) -> HookedTransformer:
    c = ours.cfg
    tl_cfg = HookedTransformerConfig(
        d_model=c.d_model,
        n_layers=c.n_layers,
        n_heads=c.n_heads,
        d_head=c.d_head,
        d_mlp=c.d_mlp,
        d_vocab=c.d_vocab,
        n_ctx=c.n_ctx,
        eps=c.eps,
        dtype=torch.float64,
        device="cpu",
        **extra,
    )
    tl = HookedTransformer(tl_cfg)
    sd = transformer_lens_state_dict(ours)
    if c.kv_heads != c.n_heads:  # TL stores grouped K/V as _W_K, _W_V, _b_K, _b_V
        sd = {
            k.replace("attn.W_K", "attn._W_K").replace("attn.W_V", "attn._W_V"): v
            for k, v in sd.items()
        }
    missing, unexpected = tl.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    # whatever TL has that we do not must be a zero bias or a buffer, never a weight matrix
    odd = [
        k
        for k in missing
        if not (
            ".b_" in k or "._b_" in k or k.endswith(("mask", "IGNORE", "rotary_sin", "rotary_cos"))
        )
    ]
    assert not odd, odd
    return tl.eval()


def compare_caches(ours, tl, tokens, expect_at_least: int):
    with torch.no_grad():
        our_logits, our_cache = ours.run_with_cache(tokens)
        tl_logits, tl_cache = tl.run_with_cache(tokens)
    shared = [name for name in our_cache if name in tl_cache]
    assert len(shared) >= expect_at_least, (len(shared), sorted(set(our_cache) - set(tl_cache)))
    for name in shared:
        a, b = our_cache[name], tl_cache[name]
        # TL masks scores with -inf too; compare finite entries and the mask itself
        if name.endswith("attn_scores"):
            assert torch.equal(a.isinf(), b.isinf()), name
            a, b = a[a.isfinite()], b[b.isfinite()]
        # float64 throughout; 1e-10 leaves room only for op-order rounding
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=name)
    torch.testing.assert_close(our_logits, tl_logits, atol=1e-10, rtol=1e-10)
    return shared


def test_gpt2_every_hook_matches_transformer_lens():
    ours = GPT2(CFG.with_(eps=1e-5)).double().eval()
    with torch.no_grad():  # non-trivial norms and biases
        for name, p in ours.named_parameters():
            if not name.rsplit(".", 1)[-1].startswith("W_"):
                p.add_(0.1 * torch.randn_like(p))
    tl = tl_twin(ours, act_fn="gelu_new", normalization_type="LN")
    tokens = torch.randint(0, CFG.d_vocab, (2, 9))
    shared = compare_caches(ours, tl, tokens, expect_at_least=2 + 17 * CFG.n_layers + 2)
    # every hook name we expose exists in TransformerLens
    missing = set(ours.hook_dict) - set(tl.hook_dict)
    assert not missing, missing
    assert "ln_final.hook_normalized" in shared and "blocks.1.mlp.hook_post" in shared


@pytest.mark.parametrize("n_kv_heads", [4, 2])
def test_llama_every_hook_matches_transformer_lens(n_kv_heads):
    cfg = CFG.with_(n_kv_heads=n_kv_heads, rotary_base=300.0)
    ours = Llama(cfg).double().eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.endswith(".w"):
                p.add_(0.1 * torch.randn_like(p))
    tl = tl_twin(
        ours,
        act_fn="silu",
        normalization_type="RMS",
        positional_embedding_type="rotary",
        rotary_dim=cfg.d_head,
        rotary_base=int(cfg.rotary_base),
        rotary_adjacent_pairs=False,
        gated_mlp=True,
        final_rms=True,
        n_key_value_heads=n_kv_heads if n_kv_heads != cfg.n_heads else None,
    )
    tokens = torch.randint(0, cfg.d_vocab, (2, 9))
    compare_caches(ours, tl, tokens, expect_at_least=1 + 18 * cfg.n_layers + 2)
