"""Head detectors against explicit loops over TransformerLens' attention patterns of the twin
model, and against TL's own `head_detector` similarity score (whose "mul" measure is the same
attention mass divided by the number of queries). float64 patterns: 1e-10 covers summation order.
"""

import pytest
import torch
from transformer_lens.head_detector import (
    compute_head_attention_similarity_score,
    get_previous_token_head_detection_pattern,
)

from arena_core.interp.detectors import head_detector_scores, heads_above, top_heads
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=40)
TOL = dict(atol=1e-10, rtol=0)


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    torch.manual_seed(3)
    model = GPT2(CFG) if request.param == "gpt2" else Llama(CFG.with_(n_kv_heads=2))
    model = model.double().eval()
    with torch.no_grad():  # sharper patterns than the 0.02 init gives (near-uniform attention)
        for p in model.parameters():
            p.mul_(5.0)
    return model, transformer_lens_twin(model, dtype=torch.float64)


def loop_scores(pattern, key_of_query, queries):
    """Mean over batch and the given queries of pattern[b, h, q, key_of_query(q)], by loops."""
    batch, heads = pattern.shape[:2]
    out = torch.zeros(heads, dtype=pattern.dtype)
    for h in range(heads):
        total = 0.0
        for b in range(batch):
            for q in queries:
                total += pattern[b, h, q, key_of_query(q)].item()
        out[h] = total / (batch * len(queries))
    return out


def test_scores_match_explicit_loops_over_transformer_lens_patterns(pair):
    model, tl = pair
    block = 7
    rand = torch.randint(1, CFG.d_vocab, (2, block))
    tokens = torch.cat([torch.zeros(2, 1).long(), rand, rand], dim=1)  # [bos, r, r]
    pos = tokens.shape[1]
    ours = head_detector_scores(model, tokens, induction_block=block)
    _, cache = tl.run_with_cache(tokens)
    rules = {
        "prev_token": (lambda q: q - 1, range(1, pos)),
        "current_token": (lambda q: q, range(1, pos)),
        "first_token": (lambda q: 0, range(1, pos)),
        # query in the second copy at i attends to i - block + 1 (the token after the first copy)
        "induction": (lambda q: q - block + 1, range(pos - block, pos)),
    }
    assert set(ours) == set(rules)
    for name, (key, queries) in rules.items():
        ref = torch.stack(
            [loop_scores(cache["pattern", layer], key, queries) for layer in range(CFG.n_layers)]
        )
        assert ours[name].shape == (CFG.n_layers, CFG.n_heads)
        torch.testing.assert_close(ours[name], ref, **TOL, msg=name)


def test_prev_token_matches_transformer_lens_head_detector(pair):
    """TL's "mul" score = sum_i p[i, i-1] / sum_i sum_j p[i, j] = (n-1)/n times our mean over
    queries 1..n-1 (every row sums to 1)."""
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (1, 12))
    n = tokens.shape[1]
    ours = head_detector_scores(model, tokens)["prev_token"]
    _, cache = tl.run_with_cache(tokens)
    detection = get_previous_token_head_detection_pattern(tokens.cpu()).double()
    ref = torch.tensor(
        [
            [
                compute_head_attention_similarity_score(
                    cache["pattern", layer][0, head],
                    detection_pattern=detection,
                    exclude_bos=False,
                    exclude_current_token=False,
                    error_measure="mul",
                )
                for head in range(CFG.n_heads)
            ]
            for layer in range(CFG.n_layers)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(ours * (n - 1) / n, ref, **TOL)


def test_top_heads_and_threshold_against_a_python_sort():
    scores = torch.rand(5, 6)
    ranked = sorted(
        ((layer, head, scores[layer, head].item()) for layer in range(5) for head in range(6)),
        key=lambda t: -t[2],
    )
    assert [s for _, _, s in top_heads(scores, 4)] == pytest.approx([s for *_, s in ranked[:4]])
    assert [(a, b) for a, b, _ in top_heads(scores, 4)] == [(a, b) for a, b, _ in ranked[:4]]
    above = heads_above(scores, 0.7)
    assert [(a, b) for a, b, _ in above] == [(a, b) for a, b, s in ranked if s > 0.7]
    assert len(top_heads(scores, 100)) == 30


def test_induction_block_is_checked(pair):
    with pytest.raises(ValueError, match="induction_block"):
        head_detector_scores(pair[0], torch.zeros(1, 6).long(), induction_block=4)


@pytest.mark.slow
def test_smollm2_induction_head_and_tl_patterns():
    """On the real SmolLM2 weights: scores from our patterns equal the loop over the TL twin's
    patterns (fp32: 1e-5 covers the different attention kernels), and L18H6 — the induction head
    found independently with TransformerLens (offline.md, score 0.93) — ranks among the top 3."""
    from arena_core.models import load_model

    model = load_model("smollm2-135m").model
    block = 20
    rand = torch.randint(100, 20000, (2, block))
    tokens = torch.cat([torch.ones(2, 1).long(), rand, rand], dim=1)
    ours = head_detector_scores(model, tokens, induction_block=block)
    assert (18, 6) in [(a, b) for a, b, _ in top_heads(ours["induction"], 3)]
    assert ours["induction"][18, 6] > 0.7
    tl = transformer_lens_twin(model)
    _, cache = tl.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    pos = tokens.shape[1]
    for layer in (0, 18, 29):
        ref = loop_scores(cache["pattern", layer], lambda q: q - block + 1, range(pos - block, pos))
        torch.testing.assert_close(ours["induction"][layer], ref, atol=1e-5, rtol=0)
