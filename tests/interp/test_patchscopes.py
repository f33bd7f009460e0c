"""Patchscopes on small random models: the patched forward against a hand-written
TransformerLens hook, left padding, the KV cache, the controls and bad input."""

import pytest
import torch

from arena_core.interp.patchscopes import (
    PatchscopeError,
    derangement,
    first_segment,
    is_hit,
    patched_logits,
    patchscope_generate,
    same_norm_random,
)
from arena_core.transformer import GPT2, TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=48)
HOOK = "blocks.1.hook_resid_post"


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    return scaled_tl_pair(request.param, CFG, seed=7)


@pytest.mark.parametrize("hook", [HOOK, "blocks.0.hook_resid_pre", "blocks.2.hook_resid_mid"])
def test_patched_logits_match_transformer_lens(pair, hook):
    model, tl = pair
    tokens = torch.randint(1, CFG.d_vocab, (3, 9))
    vecs = torch.randn(3, CFG.d_model, dtype=torch.float64) * 5
    place = [4, 2, -1]

    def tl_hook(x, hook):  # the TL convention by hand: overwrite one column per row
        x = x.clone()
        for b, p in enumerate(place):
            x[b, p] = vecs[b]
        return x

    with torch.no_grad():
        expected = tl.run_with_hooks(tokens, fwd_hooks=[(hook, tl_hook)])
        plain = tl(tokens)
    ours, _ = patched_logits(model, tokens.tolist(), place, hook, vecs)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    assert (ours - plain).abs().max() > 1e-2  # the patch did something
    unpatched, _ = patched_logits(model, tokens.tolist(), place, hook, None)
    torch.testing.assert_close(unpatched, plain, atol=1e-6, rtol=0)


def test_left_padding_and_batch_size_do_not_change_the_decode(pair):
    model, _ = pair
    rows = [torch.randint(1, CFG.d_vocab, (n,)).tolist() for n in (5, 9, 3, 7)]
    place = [1, -2, 0, 4]  # real-token indices, so the padded column differs per row
    vecs = torch.randn(4, CFG.d_model, dtype=torch.float64) * 5
    batched = patchscope_generate(model, rows, place, HOOK, vecs, max_new_tokens=5, batch_size=4)
    alone = [
        patchscope_generate(model, [r], [p], HOOK, v[None], max_new_tokens=5)[0]
        for r, p, v in zip(rows, place, vecs, strict=True)
    ]
    assert batched == alone
    # and the single, unpadded case against TL: the first new token is TL's argmax
    _, tl = pair
    for r, p, v, out in zip(rows, place, vecs, alone, strict=True):

        def tl_hook(x, hook, p=p, v=v):
            x = x.clone()
            x[0, p] = v
            return x

        with torch.no_grad():
            logits = tl.run_with_hooks(torch.tensor([r]), fwd_hooks=[(HOOK, tl_hook)])
        assert out[0] == int(logits[0, -1].argmax())


def test_cache_gives_the_same_tokens_as_full_recompute(pair):
    """With the cache, the patch is applied once (prompt pass); without, in every pass."""
    model, _ = pair
    rows = [torch.randint(1, CFG.d_vocab, (n,)).tolist() for n in (6, 4)]
    vecs = torch.randn(2, CFG.d_model, dtype=torch.float64) * 5
    cached = patchscope_generate(model, rows, [2, 1], HOOK, vecs, max_new_tokens=6)
    full = patchscope_generate(model, rows, [2, 1], HOOK, vecs, max_new_tokens=6, use_cache=False)
    plain = patchscope_generate(model, rows, [2, 1], HOOK, None, max_new_tokens=6)
    assert cached == full
    assert cached != plain


def test_planted_vector_is_read_out():
    """A toy where the answer is known: a 1-layer model whose unembedding reads the residual.
    Patching the embedding of token t at the last position makes the first decode depend on t
    exactly as feeding t itself would (the patch at hook_embed is a token substitution)."""
    torch.manual_seed(1)
    model = GPT2(CFG).double().eval()
    rows = [[3, 4, 5, 6]] * 4
    targets = [10, 20, 30, 40]
    emb = model.embed.W_E[targets].detach()
    patched = patchscope_generate(model, rows, -1, "hook_embed", emb, max_new_tokens=3)
    direct = patchscope_generate(model, [[3, 4, 5, t] for t in targets], -1, "hook_embed", None,
                                 max_new_tokens=3)  # fmt: skip
    assert patched == direct


def test_controls():
    g = torch.Generator().manual_seed(123)
    v = torch.randn(6, 8, generator=torch.Generator().manual_seed(5)) * torch.arange(1, 7)[:, None]
    r = same_norm_random(v, g)
    torch.testing.assert_close(r.norm(dim=1), v.norm(dim=1))
    assert (torch.nn.functional.cosine_similarity(r, v).abs() < 0.99).all()
    for n in (2, 3, 10):
        perm = derangement(n, torch.Generator().manual_seed(n))
        assert sorted(perm.tolist()) == list(range(n))
        assert (perm != torch.arange(n)).all()


def test_answer_matching():
    assert first_segment(" Paris; hello -> hello") == "Paris"
    assert is_hit("the Netherlands", "Netherlands")
    assert is_hit("Washington, D.C.", "Washington")
    assert not is_hit("New", "New Delhi")
    assert not is_hit("", "Paris")


def test_bad_input_is_a_user_error(pair):
    model, _ = pair
    rows = [[1, 2, 3], [4, 5]]
    vecs = torch.zeros(2, CFG.d_model, dtype=torch.float64)
    with pytest.raises(PatchscopeError, match="unknown hook"):
        patchscope_generate(model, rows, 0, "blocks.9.hook_resid_post", vecs)
    with pytest.raises(PatchscopeError, match="outside"):
        patchscope_generate(model, rows, 2, HOOK, vecs)  # row 2 has only 2 tokens
    with pytest.raises(PatchscopeError, match="vectors must be"):
        patchscope_generate(model, rows, 0, HOOK, vecs[:1])
    with pytest.raises(PatchscopeError, match="width"):
        patched_logits(model, rows, 0, HOOK, torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(PatchscopeError, match="positions"):
        patchscope_generate(model, rows, [0, 0, 0], HOOK, vecs)
    with pytest.raises(PatchscopeError, match="2 cases"):
        derangement(1)
