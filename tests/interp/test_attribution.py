"""Residual decomposition and direct logit attribution against TransformerLens' cache methods on
the twin (`stack_head_results`, `decompose_resid`, `apply_ln_to_stack`) and against two identities
computed directly: the components sum to the final residual, and the normalised components
projected on W_U sum to the model's logits. float64 random models: 1e-10 covers summation order.
"""

import pytest
import torch

from arena_core.interp.attribution import (
    apply_final_norm_to_stack,
    dla,
    head_dla_grid,
    head_results,
    layer_dla,
    logit_diff_direction,
    residual_components,
)
from arena_core.interp.cache import run_with_cache
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=40)
TOL = dict(atol=1e-10, rtol=0)


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa", "gpt2-attn-only"])
def pair(request):
    torch.manual_seed(2)
    if request.param == "llama-gqa":
        model = Llama(CFG.with_(n_kv_heads=2))
    else:
        model = GPT2(CFG.with_(attn_only=request.param.endswith("attn-only")))
    model = model.double().eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.rsplit(".", 1)[-1].startswith("W_"):
                p.add_(0.2 * torch.randn_like(p))
    tl = transformer_lens_twin(model, dtype=torch.float64)
    tokens = torch.randint(0, CFG.d_vocab, (2, 7))
    logits, cache = run_with_cache(model, tokens)
    with torch.no_grad():
        _, tl_cache = tl.run_with_cache(tokens)
    return model, tl, logits, cache, tl_cache


def test_components_sum_to_the_final_residual(pair):
    model, _, _, cache, _ = pair
    stack, labels = residual_components(model, cache)
    assert stack.shape[0] == len(labels) == len(set(labels))
    torch.testing.assert_close(stack.sum(0), cache["resid_post", CFG.n_layers - 1], **TOL)
    for layer in range(CFG.n_layers):  # and to every intermediate resid_pre
        part, _ = residual_components(model, cache, layer=layer)
        torch.testing.assert_close(part.sum(0), cache["resid_pre", layer], **TOL)


def test_normalised_components_give_the_logits(pair):
    model, _, logits, cache, _ = pair
    stack, labels = residual_components(model, cache)
    normed, labels = apply_final_norm_to_stack(model, cache, stack, labels)
    assert normed.shape[0] == len(labels)
    b_U = model.unembed.b_U if model.unembed.b_U is not None else 0.0
    torch.testing.assert_close((normed @ model.unembed.W_U).sum(0) + b_U, logits, **TOL)
    # DLA along one direction = logit difference (the unembedding bias differences aside)
    a, b = 3, 17
    attr, _ = dla(model, cache, logit_diff_direction(model, a, b))
    bias = 0.0 if model.unembed.b_U is None else float(model.unembed.b_U[a] - model.unembed.b_U[b])
    torch.testing.assert_close(attr.sum(0) + bias, logits[..., a] - logits[..., b], **TOL)


def test_head_results_match_transformer_lens(pair):
    model, _, _, cache, tl_cache = pair
    tl_heads, tl_labels = tl_cache.stack_head_results(layer=-1, return_labels=True)
    ours = torch.cat([head_results(model, cache, layer) for layer in range(CFG.n_layers)], dim=2)
    torch.testing.assert_close(ours.permute(2, 0, 1, 3), tl_heads, **TOL)
    _, labels = residual_components(model, cache)
    assert [x for x in labels if "H" in x] == tl_labels


def test_decomposition_and_norm_match_transformer_lens(pair):
    model, _, _, cache, tl_cache = pair
    stack, labels = residual_components(model, cache)
    tl_stack, tl_labels = tl_cache.decompose_resid(return_labels=True)
    # TL groups by layer (attention output incl. bias, MLP output): regroup ours the same way
    grouped = {}
    for comp, name in zip(stack, labels, strict=True):
        key = name  # embed, pos_embed
        if name[0] == "L":  # L2H1, L2 attn bias -> 2_attn_out; L2 MLP -> 2_mlp_out
            layer = name[1:].split("H")[0].split()[0]
            key = f"{layer}_mlp_out" if "MLP" in name else f"{layer}_attn_out"
        grouped[key] = grouped.get(key, 0) + comp
    assert len(grouped) == len(tl_labels)
    for comp, name in zip(tl_stack, tl_labels, strict=True):
        torch.testing.assert_close(grouped[name], comp, **TOL)
    # TL's apply_ln_to_stack (cached scale) centres and divides but leaves out w and b
    normed, _ = apply_final_norm_to_stack(model, cache, stack, labels)
    tl_normed = tl_cache.apply_ln_to_stack(stack, layer=-1, recompute_ln=False)
    torch.testing.assert_close(normed[: len(stack)], tl_normed * model.ln_final.w, **TOL)


def test_grid_and_layer_sums():
    labels = ["embed", "L0H0", "L0H1", "L0 attn bias", "L0 MLP", "L1H0", "L1H1", "L1 MLP"]
    attr = torch.arange(8.0)
    torch.testing.assert_close(head_dla_grid(attr, labels, 2, 2), torch.tensor([[1.0, 2], [5, 6]]))
    assert layer_dla(attr, labels) == {
        "embed": 0.0, "L0 attn": 6.0, "L0 MLP": 4.0, "L1 attn": 11.0, "L1 MLP": 7.0,
    }  # fmt: skip
