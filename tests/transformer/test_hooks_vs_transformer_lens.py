"""Every hook activation of our models against TransformerLens' HookedTransformer, built from a
config (offline) and loaded with our weights (no weight processing, so activations are equal)."""

import pytest
import torch

from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(
    d_model=40, n_layers=2, n_heads=4, d_head=10, d_mlp=56, d_vocab=71, n_ctx=24
)


def tl_twin(ours, **extra):
    """TransformerLens twin in float64; the tests spell out the TL architecture arguments."""
    return transformer_lens_twin(ours, dtype=torch.float64, **extra)


def compare_caches(ours, tl, tokens, expect_at_least: int, tol: float = 1e-10):
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
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=name)
    torch.testing.assert_close(our_logits, tl_logits, atol=tol, rtol=tol)
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


@pytest.mark.parametrize("family", ["gpt2", "llama-gqa"])
def test_default_twin_config_reproduces_the_logits(family):
    """`transformer_lens_twin` with no overrides (as the benchmarks use it) describes our model."""
    if family == "gpt2":
        ours = GPT2(CFG).double().eval()
    else:
        ours = Llama(CFG.with_(n_kv_heads=2, rotary_base=300.0)).double().eval()
    tl = transformer_lens_twin(ours)
    tokens = torch.randint(0, CFG.d_vocab, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(ours(tokens), tl(tokens), rtol=0, atol=1e-9)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_attention_only_models_match_transformer_lens(family):
    """`attn_only=True` drops the MLPs; TL's attn_only twin has exactly our hook points."""
    cfg = CFG.with_(attn_only=True, n_kv_heads=2 if family == "llama" else None)
    ours = (GPT2 if family == "gpt2" else Llama)(cfg).double().eval()
    assert not any("mlp" in name or "ln2" in name for name, _ in ours.named_parameters())
    tl = tl_twin(ours)
    tokens = torch.randint(0, CFG.d_vocab, (2, 9))
    shared = compare_caches(ours, tl, tokens, expect_at_least=8 * CFG.n_layers)
    _, tl_cache = tl.run_with_cache(tokens)
    tl_fired = {n for n in tl_cache if not n.startswith("unembed.")}  # TL 3.9 wraps W_U in hooks
    assert set(shared) == tl_fired == set(ours.hook_dict)  # the same hooks fire in both


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_start_at_layer_matches_transformer_lens(family):
    """Running the tail from a cached `resid_pre` gives the full forward's logits, as TL's own
    `start_at_layer` does on the same weights; hooks of the skipped blocks do not fire."""
    cfg = CFG.with_(n_layers=3, n_kv_heads=2 if family == "llama" else None)
    ours = (GPT2 if family == "gpt2" else Llama)(cfg).double().eval()
    tl = tl_twin(ours)
    tokens = torch.randint(0, CFG.d_vocab, (2, 9))
    with torch.no_grad():
        full, cache = ours.run_with_cache(tokens)
        for layer in range(cfg.n_layers):
            resid = cache[f"blocks.{layer}.hook_resid_pre"]
            fired: list[str] = []
            hooks = [(n, lambda x, hook: fired.append(hook.name)) for n in ours.hook_dict]
            ours_tail = ours.run_with_hooks(resid, start_at_layer=layer, fwd_hooks=hooks)
            tl_tail = tl(resid, start_at_layer=layer)
            torch.testing.assert_close(ours_tail, full, atol=1e-10, rtol=1e-10)
            torch.testing.assert_close(ours_tail, tl_tail, atol=1e-10, rtol=1e-10)
            assert fired and all(int(n.split(".")[1]) >= layer for n in fired if "blocks" in n)
            assert not any(n.startswith("hook_embed") or "pos_embed" in n for n in fired)
        with pytest.raises(ValueError, match="start_at_layer"):
            ours(tokens, start_at_layer=1)  # tokens, not a residual
        with pytest.raises(ValueError, match="start_at_layer"):
            ours(cache["blocks.0.hook_resid_pre"], start_at_layer=cfg.n_layers)


def _randomise_non_matrices(model):
    """Norm gains and biases away from 1 / 0, so that they are really compared."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.rsplit(".", 1)[-1].startswith("W_"):
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("out_bias", [True, False], ids=["llama-attention-bias", "qwen2"])
def test_llama_attention_biases_match_transformer_lens(out_bias):
    """b_Q, b_K, b_V (grouped: TL's _b_K, _b_V) and optionally b_O load into the twin by name."""
    cfg = CFG.with_(n_kv_heads=2, attn_qkv_bias=True, attn_out_bias=out_bias)
    ours = _randomise_non_matrices(Llama(cfg).double().eval())
    assert (ours.blocks[0].attn.b_O is not None) == out_bias
    tl = tl_twin(ours)
    torch.testing.assert_close(tl.blocks[1].attn._b_K, ours.blocks[1].attn.b_K, atol=0, rtol=0)
    tokens = torch.randint(0, cfg.d_vocab, (2, 9))
    compare_caches(ours, tl, tokens, expect_at_least=1 + 18 * cfg.n_layers + 2)


@pytest.mark.parametrize(
    "family,changes",
    [
        ("gpt2", dict(act_fn="relu", use_attn_scale=False, scale_attn_by_inverse_layer_idx=True)),
        ("gpt2", dict(act_fn="gelu", scale_attn_by_inverse_layer_idx=True)),
        ("llama", dict(act_fn="gelu_pytorch_tanh", n_kv_heads=2)),
        (
            "llama",
            dict(rope_type="llama3", rope_factor=8.0, rope_original_n_ctx=16, rotary_base=1e4),
        ),
    ],
)
def test_config_variants_twin_matches(family, changes):
    """The default twin config carries our activation, attention scaling and llama3 RoPE."""
    cfg = CFG.with_(**changes)
    ours = _randomise_non_matrices((GPT2 if family == "gpt2" else Llama)(cfg).double().eval())
    tl = tl_twin(ours)
    tokens = torch.randint(0, cfg.d_vocab, (2, 20))  # 20 positions: llama3's long wavelengths
    # TL computes llama3 ("NTK-by-parts") frequencies in float32 even in a float64 model
    tol = 1e-6 if cfg.rope_type == "llama3" else 1e-10
    compare_caches(ours, tl, tokens, expect_at_least=18 * cfg.n_layers, tol=tol)


@pytest.mark.parametrize(
    "changes,option",
    [(dict(mlp_bias=True), "mlp_bias"), (dict(rope_type="linear", rope_factor=2.0), "rope_type")],
)
def test_twin_refuses_what_transformer_lens_cannot_express(changes, option):
    from arena_core.transformer.config import UnsupportedConfigError

    with pytest.raises(UnsupportedConfigError, match=option):
        tl_twin(Llama(CFG.with_(**changes)).double())
