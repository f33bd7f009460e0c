"""Logit lens against TransformerLens' `accumulated_resid(apply_ln=True)` (which recomputes the
final norm per layer) @ W_U on the twin, against the model's own logits, and the helpers against
explicit loops. float64 random models: 1e-10 leaves room for summation order only."""

import math

import pytest
import torch

from arena_core.interp.cache import run_with_cache
from arena_core.interp.logit_lens import (
    answer_rank_and_prob,
    apply_final_norm_recomputed,
    kl_to_final,
    logit_lens,
    top_k_tokens,
)
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=40)
TOL = dict(atol=1e-10, rtol=0)


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    torch.manual_seed(1)
    model = GPT2(CFG) if request.param == "gpt2" else Llama(CFG.with_(n_kv_heads=2))
    model = model.double().eval()
    with torch.no_grad():  # non-trivial norms and biases, and a residual that grows over layers
        for name, p in model.named_parameters():
            p.mul_(4.0) if name.rsplit(".", 1)[-1].startswith("W_") else p.add_(
                0.2 * torch.randn_like(p)
            )
    return model, transformer_lens_twin(model, dtype=torch.float64)


def test_last_layer_is_the_models_own_output(pair):
    model, _ = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 8))
    logits, cache = run_with_cache(model, tokens)
    for batch in (0, 1):
        lens = logit_lens(model, cache, batch=batch)
        assert lens.logits.shape == (CFG.n_layers + 1, 8, CFG.d_vocab)
        torch.testing.assert_close(lens.logits[-1], logits[batch], **TOL)


def test_matches_transformer_lens_accumulated_resid(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (1, 10))
    _, cache = run_with_cache(model, tokens)
    with torch.no_grad():
        _, tl_cache = tl.run_with_cache(tokens)
        stack = tl_cache.accumulated_resid(apply_ln=True)  # [layer+1 batch pos d_model]
        expected = stack[:, 0] @ tl.W_U + tl.b_U
    ours = logit_lens(model, cache)
    torch.testing.assert_close(ours.logits, expected, **TOL)
    # the same on the TL model with its own cache (our code reading TL's objects)
    tl_lens = logit_lens(tl, run_with_cache(tl, tokens)[1])
    torch.testing.assert_close(tl_lens.logits, expected, **TOL)


def test_recomputed_norm_equals_running_the_norm_module(pair):
    """Independent: the model's own ln_final module on each residual (not the cached scale)."""
    model, _ = pair
    resid = 10 * torch.randn(3, 5, CFG.d_model, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(
            apply_final_norm_recomputed(model, resid), model.ln_final(resid), **TOL
        )


def test_helpers_against_explicit_loops():
    log_probs = torch.randn(4, 3, 11, dtype=torch.float64).log_softmax(-1)
    probs, ids = top_k_tokens(log_probs, k=3)
    rank, prob = answer_rank_and_prob(log_probs, answer=5, pos=1)
    kl = kl_to_final(log_probs)
    for layer in range(4):
        row = log_probs[layer, 1].tolist()
        order = sorted(range(11), key=lambda t: -row[t])
        assert ids[layer, 1].tolist() == order[:3]
        assert abs(probs[layer, 1, 0] - math.exp(row[order[0]])) < 1e-12
        assert rank[layer] == order.index(5)
        assert abs(prob[layer] - math.exp(row[5])) < 1e-12
        for pos in range(3):
            p, q = log_probs[-1, pos].exp(), log_probs[layer, pos].exp()
            expected = sum(float(p[t] * (p[t] / q[t]).log()) for t in range(11))
            assert abs(kl[layer, pos] - expected) < 1e-10
    assert torch.all(kl[-1] == 0)
