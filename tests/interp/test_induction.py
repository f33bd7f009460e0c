"""Induction scores and repeated-token losses against TransformerLens and explicit loops.

References: the attention patterns and logits of the TL twin of a small random model (GPT-2
family attention-only, and Llama with grouped-query attention), an explicit loop over queries for
the induction score, `torch.nn.functional.cross_entropy` position by position for the losses, and
for ablation a TL copy whose W_O rows of the ablated heads are zeroed (zero-ablating z_h is the
same as removing the head's output matrix; b_O stays). float64: 1e-10 covers summation order.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from arena_core.interp.induction import (
    ablated_repeated_loss,
    induction_score_grid,
    repeated_loss,
    repeated_random_tokens,
)
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=50, n_ctx=40)
BLOCK = 9


@pytest.fixture(scope="module", params=["gpt2-attn-only", "llama-gqa"])
def pair(request):
    torch.manual_seed(11)
    if request.param == "gpt2-attn-only":
        model = GPT2(CFG.with_(attn_only=True, d_mlp=0))
    else:
        model = Llama(CFG.with_(n_kv_heads=2))
    model = model.double().eval()
    with torch.no_grad():  # sharper attention than the small init gives
        for p in model.parameters():
            p.mul_(4.0)
    return model, transformer_lens_twin(model, dtype=torch.float64)


def test_repeated_random_tokens_layout():
    g = torch.Generator().manual_seed(0)
    t = repeated_random_tokens(3, 6, 20, g, bos=99, low=2)
    assert t.shape == (3, 13) and (t[:, 0] == 99).all()
    assert torch.equal(t[:, 1:7], t[:, 7:]) and t[:, 1:].min() >= 2 and t[:, 1:].max() < 20
    assert repeated_random_tokens(2, 5, 20, g).shape == (2, 10)


@pytest.mark.parametrize("bos", [None, 0])
def test_induction_grid_matches_loop_over_tl_patterns(pair, bos):
    model, tl = pair
    tokens = repeated_random_tokens(3, BLOCK, CFG.d_vocab, torch.Generator().manual_seed(1), bos)
    ours = induction_score_grid(model, tokens, BLOCK)
    _, cache = tl.run_with_cache(tokens)
    pos = tokens.shape[1]
    for layer in range(CFG.n_layers):
        pattern = cache["pattern", layer]
        for head in range(CFG.n_heads):
            vals = []
            for b in range(tokens.shape[0]):
                for q in range(pos - BLOCK, pos):  # second copy
                    # the key holding the token that followed the earlier occurrence of tokens[q]
                    vals.append(float(pattern[b, head, q, q - BLOCK + 1]))
            assert abs(float(ours[layer, head]) - sum(vals) / len(vals)) < 1e-10


def _loop_losses(logits, tokens, first_positions, second_positions):
    per = [
        [float(F.cross_entropy(logits[b, p - 1][None], tokens[b, p][None])) for p in positions]
        for positions in (first_positions, second_positions)
        for b in range(tokens.shape[0])
    ]
    n = tokens.shape[0]
    mean = lambda rows: sum(sum(r) for r in rows) / sum(len(r) for r in rows)  # noqa: E731
    return mean(per[:n]), mean(per[n:])


@pytest.mark.parametrize("bos", [None, 0])
def test_repeated_loss_matches_cross_entropy_loop(pair, bos):
    model, tl = pair
    tokens = repeated_random_tokens(2, BLOCK, CFG.d_vocab, torch.Generator().manual_seed(2), bos)
    off = 0 if bos is None else 1
    got = repeated_loss(model, tokens, BLOCK)
    with torch.no_grad():
        logits = tl(tokens)
    # predicted tokens: r_2..r_L of each copy (r_1 of either copy cannot be predicted)
    first = range(off + 1, off + BLOCK)
    second = range(off + BLOCK + 1, off + 2 * BLOCK)
    want_first, want_second = _loop_losses(logits, tokens, first, second)
    assert abs(got.first_half - want_first) < 1e-10
    assert abs(got.repeated_half - want_second) < 1e-10
    assert got.per_token.shape == (2, tokens.shape[1] - 1)


def test_ablated_loss_matches_tl_with_zeroed_output_weights(pair):
    model, tl = pair
    tokens = repeated_random_tokens(2, BLOCK, CFG.d_vocab, torch.Generator().manual_seed(3), 0)
    heads = [(0, 1), (1, 3), (1, 0)]
    got = ablated_repeated_loss(model, tokens, BLOCK, heads)
    clean = repeated_loss(model, tokens, BLOCK)
    ablated_tl = copy.deepcopy(tl)
    with torch.no_grad():
        for layer, head in heads:
            ablated_tl.blocks[layer].attn.W_O[head].zero_()
        logits = ablated_tl(tokens)
    want_first, want_second = _loop_losses(
        logits, tokens, range(2, 1 + BLOCK), range(2 + BLOCK, 1 + 2 * BLOCK)
    )
    assert abs(got.repeated_half - want_second) < 1e-10
    assert abs(got.first_half - want_first) < 1e-10
    assert abs(got.repeated_half - clean.repeated_half) > 1e-6  # the ablation did something


def test_bad_block_raises(pair):
    model, _ = pair
    tokens = repeated_random_tokens(1, 5, CFG.d_vocab)
    with pytest.raises(ValueError):
        induction_score_grid(model, tokens, 4)


@pytest.mark.slow
def test_smollm2_has_an_induction_head_around_layer_18():
    from arena_core.models import load_model

    lm = load_model("smollm2-135m")
    tokens = repeated_random_tokens(
        2, 30, lm.model.cfg.d_vocab, torch.Generator().manual_seed(0), 0
    )
    grid = induction_score_grid(lm.model, tokens, 30)
    assert grid.shape == (30, 9)
    layer, head = divmod(int(grid.argmax()), 9)
    assert 16 <= layer <= 20 and float(grid.max()) > 0.7  # earlier measurement: L18H6 ~ 0.9
    loss = repeated_loss(lm.model, tokens, 30)
    assert loss.repeated_half < loss.first_half - 5
