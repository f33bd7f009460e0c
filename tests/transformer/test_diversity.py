"""distinct-n against hand counts, and generated-token log-probs against a direct log-softmax."""

import math

import torch

from arena_core.transformer.diversity import distinct_n, generated_logprobs, mean_logprob


def test_distinct_n_hand_counts():
    samples = [[1, 2, 3, 1, 2], [1, 2, 4]]
    # unigrams: 1 2 3 1 2 1 2 4 -> 4 unique of 8; bigrams: 12 23 31 12 12 24 -> 4 unique of 6
    assert distinct_n(samples, 1) == 4 / 8
    assert distinct_n(samples, 2) == 4 / 6
    assert distinct_n([[5]], 2) == 0.0
    assert distinct_n([[7, 7, 7, 7]] * 3, 1) == 1 / 12


def test_mean_logprob_with_ragged_rows():
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    samples = [[4, 0, 2], [1]]
    expected = []
    for row, toks in enumerate(samples):
        for t, tok in enumerate(toks):
            probs = logits[row, t].exp() / logits[row, t].exp().sum()
            expected.append(math.log(float(probs[tok])))
    assert math.isclose(mean_logprob(logits, samples), sum(expected) / 4, rel_tol=1e-6)
    got = generated_logprobs(logits[:1], torch.tensor([samples[0]]))
    torch.testing.assert_close(
        got[0].double(), torch.tensor(expected[:3], dtype=torch.float64), atol=1e-6, rtol=1e-6
    )
