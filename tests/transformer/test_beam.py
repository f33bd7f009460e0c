"""Beam search vs exhaustive search over every sequence of a tiny vocabulary, and vs greedy.

The language model is a deterministic lookup table: the next-token logits depend on the last two
tokens and the position, drawn once from a seeded normal in float64 (ties have probability 0).
With vocabulary 4 and at most 4 new tokens there are only 4 + 16 + 64 + 256 sequences, so the
exhaustive reference enumerates them all with `itertools.product`.
"""

import itertools
import math

import pytest
import torch

from arena_core.transformer.beam import banned_ngram_tokens, beam_search

V, L = 4, 4


class TableLM:
    def __init__(self, seed=0, scale=2.0):
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.randn(V, V, 16, V, generator=gen, dtype=torch.float64) * scale

    def __call__(self, tokens):
        b, n = tokens.shape
        prev2 = torch.cat([torch.zeros(b, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
        pos = torch.arange(n).expand(b, n)
        return self.table[tokens, prev2, pos]

    def logprob(self, prompt, continuation):
        """Total log-probability of `continuation` after `prompt`, one token at a time."""
        seq, total = list(prompt), 0.0
        for tok in continuation:
            logits = self(torch.tensor([seq]))[0, -1]
            total += float(logits.log_softmax(-1)[tok])
            seq.append(tok)
        return total


def has_repeated_ngram(seq, n):
    if n <= 0:
        return False
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    return len(grams) != len(set(grams))


def exhaustive(lm, prompt, stops, alpha, n_return, ngram):
    """All complete sequences (ended by a stop token or by reaching L), ranked by score."""
    scored = []
    for length in range(1, L + 1):
        for cont in itertools.product(range(V), repeat=length):
            if any(t in stops for t in cont[:-1]):
                continue  # generation would have stopped earlier
            if cont[-1] not in stops and length < L:
                continue  # not finished
            if has_repeated_ngram(list(prompt) + list(cont), ngram):
                continue
            lp = lm.logprob(prompt, cont)
            scored.append((lp / length**alpha, lp, cont))
    scored.sort(reverse=True)
    return scored[:n_return]


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("stops", [(), (0,)])
@pytest.mark.parametrize("ngram", [0, 2])
def test_wide_beam_equals_exhaustive(alpha, stops, ngram):
    # 2 * num_beams >= V**L: no extension is ever pruned, so beam search must be exact.
    lm = TableLM(seed=int(alpha * 10) + len(stops))
    prompt = [1, 2]
    got = beam_search(
        lm,
        prompt,
        num_beams=128,
        max_new_tokens=L,
        num_return=5,
        length_penalty=alpha,
        no_repeat_ngram_size=ngram,
        stop_tokens=stops,
    )
    expected = exhaustive(lm, prompt, set(stops), alpha, 5, ngram)
    assert [h.tokens for h in got] == [cont for _, _, cont in expected]
    for h, (score, lp, _) in zip(got, expected, strict=True):
        # float64 sums of <= 4 log-probs: agreement to 1e-9 is generous
        assert math.isclose(h.score, score, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(h.logprob, lp, rel_tol=1e-9, abs_tol=1e-9)


def test_single_beam_is_greedy():
    lm = TableLM(seed=3)
    prompt = [2]
    seq = list(prompt)
    for _ in range(L):
        seq.append(int(lm(torch.tensor([seq]))[0, -1].argmax()))
    (best,) = beam_search(lm, prompt, num_beams=1, max_new_tokens=L, length_penalty=0.0)
    assert list(best.tokens) == seq[len(prompt) :]


@pytest.mark.parametrize("num_beams", [2, 3, 5])
def test_narrow_beam_scores_are_true_scores_and_beat_greedy(num_beams):
    lm = TableLM(seed=11, scale=1.0)
    prompt = [3, 1]
    hyps = beam_search(
        lm, prompt, num_beams=num_beams, max_new_tokens=L, num_return=2, length_penalty=0.0
    )
    assert hyps[0].score >= hyps[1].score
    for h in hyps:
        assert math.isclose(h.logprob, lm.logprob(prompt, h.tokens), rel_tol=1e-9)
    (greedy,) = beam_search(lm, prompt, num_beams=1, max_new_tokens=L, length_penalty=0.0)
    assert hyps[0].logprob >= greedy.logprob - 1e-12  # a wider beam never does worse here
    best = exhaustive(lm, prompt, set(), 0.0, 1, 0)[0]
    assert hyps[0].logprob <= best[1] + 1e-12  # and never beats the true optimum


def test_early_stopping_returns_finished_hypotheses():
    lm = TableLM(seed=5)
    hyps = beam_search(
        lm, [1], num_beams=3, max_new_tokens=L, num_return=3, early_stopping=True, stop_tokens=(0,)
    )
    assert len(hyps) == 3
    for h in hyps:
        assert h.tokens[-1] == 0 or len(h.tokens) == L
        assert 0 not in h.tokens[:-1]
        assert math.isclose(h.score, lm.logprob([1], h.tokens) / len(h.tokens), rel_tol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_banned_ngram_tokens_brute_force(n):
    gen = torch.Generator().manual_seed(n)
    for _ in range(20):
        seq = torch.randint(
            0, 3, (int(torch.randint(0, 9, (1,), generator=gen)),), generator=gen
        ).tolist()
        expected = {
            t
            for t in range(3)
            if has_repeated_ngram(seq + [t], n) and not has_repeated_ngram(seq, n)
        }
        if not has_repeated_ngram(seq, n):
            assert banned_ngram_tokens(seq, n) == expected


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        beam_search(TableLM(), [1], num_beams=2, max_new_tokens=2, num_return=3)
    with pytest.raises(ValueError):
        beam_search(TableLM(), [], num_beams=2, max_new_tokens=2)


def test_kv_cache_beam_equals_recomputed_beam():
    from arena_core.transformer import GPT2, TransformerConfig
    from arena_core.transformer.generate import default_cache_factory

    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, d_vocab=13, n_ctx=32
    )
    model = GPT2(cfg).double()
    with torch.no_grad():  # larger weights: peakier, more varied next-token distributions
        for p in model.parameters():
            p.mul_(5.0)
    kwargs = dict(
        num_beams=3, max_new_tokens=6, num_return=3, no_repeat_ngram_size=2, stop_tokens=(0,)
    )
    plain = beam_search(model, [4, 7, 1], **kwargs)
    cached = beam_search(model, [4, 7, 1], make_cache=default_cache_factory(model), **kwargs)
    assert [h.tokens for h in cached] == [h.tokens for h in plain]
    for a, b in zip(cached, plain, strict=True):
        assert math.isclose(a.score, b.score, rel_tol=1e-9)  # float64, same arithmetic regrouped
