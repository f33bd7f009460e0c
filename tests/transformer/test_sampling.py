"""Logit processors vs HuggingFace's warpers, penalties vs their definitions, sampling frequencies.

References: `transformers.generation.logits_process` (TemperatureLogitsWarper, TopKLogitsWarper,
TopPLogitsWarper, RepetitionPenaltyLogitsProcessor); OpenAI's frequency/presence penalty formula
computed with plain Python loops; numpy for the intended sampling distributions and scipy's
chi-square quantile for the goodness-of-fit bound.
"""

import numpy as np
import pytest
import torch
from scipy.stats import chi2
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from arena_core.transformer.sampling import (
    SamplingConfig,
    apply_frequency_presence_penalty,
    apply_repetition_penalty,
    apply_temperature,
    process_logits,
    sample_from_logits,
    token_counts,
    top_k_filter,
    top_p_filter,
)

SHAPES = [(1, 1), (1, 7), (3, 50), (5, 257)]


def _logits(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * 3


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_temperature_matches_hf(shape, temperature):
    logits = _logits(shape)
    expected = TemperatureLogitsWarper(temperature)(None, logits.clone())
    torch.testing.assert_close(apply_temperature(logits, temperature), expected)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 5, 300])
def test_top_k_matches_hf(shape, k):
    logits = _logits(shape, seed=k)
    expected = TopKLogitsWarper(top_k=k)(None, logits.clone())
    torch.testing.assert_close(top_k_filter(logits, k), expected)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.999])
def test_top_p_matches_hf(shape, p):
    # float64 logits: the cumulative sums of both implementations agree far below the distance
    # between `p` and any partial sum of random probabilities, so the kept sets are identical.
    logits = _logits(shape, seed=int(p * 1000))
    expected = TopPLogitsWarper(top_p=p)(None, logits.clone())
    torch.testing.assert_close(top_p_filter(logits, p), expected)


@pytest.mark.parametrize("penalty", [0.7, 1.3, 2.0])
def test_repetition_penalty_matches_hf(penalty):
    logits = _logits((4, 30), seed=3)
    gen = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 30, (4, 9), generator=gen)
    expected = RepetitionPenaltyLogitsProcessor(penalty)(input_ids, logits.clone())
    counts = token_counts(input_ids, 30)
    torch.testing.assert_close(apply_repetition_penalty(logits, counts, penalty), expected)


def test_token_counts_with_mask():
    tokens = torch.tensor([[0, 2, 2, 5], [1, 1, 1, 0]])
    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 1]])
    counts = token_counts(tokens, 6, mask)
    expected = torch.zeros(2, 6, dtype=torch.long)
    for b in range(2):
        for t in range(4):
            expected[b, tokens[b, t]] += int(mask[b, t])
    assert torch.equal(counts, expected)


@pytest.mark.parametrize("alpha_f,alpha_p", [(0.0, 0.0), (0.5, 0.0), (0.0, 1.2), (0.8, 0.3)])
def test_frequency_presence_penalty_definition(alpha_f, alpha_p):
    # OpenAI: mu[j] -> mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence
    vocab = 12
    logits = _logits((3, vocab), seed=5)
    generated = [[1, 1, 4], [], [11, 0, 11, 11, 3]]
    expected = logits.clone()
    for b, tokens in enumerate(generated):
        for j in range(vocab):
            c = tokens.count(j)
            expected[b, j] = logits[b, j] - c * alpha_f - float(c > 0) * alpha_p
    counts = torch.zeros(3, vocab, dtype=torch.long)
    for b, tokens in enumerate(generated):
        for t in tokens:
            counts[b, t] += 1
    got = apply_frequency_presence_penalty(logits, counts, alpha_f, alpha_p)
    torch.testing.assert_close(got, expected)


def test_process_logits_chain_matches_hf_chain():
    logits = _logits((3, 40), seed=9)
    input_ids = torch.randint(0, 40, (3, 6))
    cfg = SamplingConfig(temperature=0.7, top_k=10, top_p=0.8, repetition_penalty=1.4)
    expected = logits.clone()
    for proc in (
        RepetitionPenaltyLogitsProcessor(1.4),
        TemperatureLogitsWarper(0.7),
        TopKLogitsWarper(10),
        TopPLogitsWarper(0.8),
    ):
        expected = proc(input_ids, expected)
    counts = token_counts(input_ids, 40)
    got = process_logits(logits, cfg, torch.zeros_like(counts), counts)
    torch.testing.assert_close(got, expected)


def _intended(logits: np.ndarray, temperature=1.0, top_k=None, top_p=None) -> np.ndarray:
    """The distribution a sampler should draw from, computed directly with numpy."""
    z = logits / temperature
    keep = np.ones_like(z, dtype=bool)
    if top_k is not None:
        keep &= z >= np.sort(z)[::-1][top_k - 1]
    probs = np.exp(z - z[keep].max()) * keep
    probs /= probs.sum()
    if top_p is not None:
        order = np.argsort(-probs)
        mass, nucleus = 0.0, np.zeros_like(keep)
        for idx in order:
            nucleus[idx] = True
            mass += probs[idx]
            if mass >= top_p:
                break
        probs = probs * nucleus
        probs /= probs.sum()
    return probs


@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [
        (1.0, None, None),
        (0.5, None, None),
        (2.0, None, None),
        (1.0, 3, None),
        (1.0, None, 0.7),
        (1.5, 4, 0.9),
    ],
)
def test_sampling_frequencies_chi_square(temperature, top_k, top_p):
    logits = np.array([1.0, 0.2, -0.5, 2.0, 0.0, -1.5, 0.9])
    n = 20_000
    cfg = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    row = torch.tensor(logits)[None].expand(n, -1)
    processed = process_logits(row, cfg)
    draws = sample_from_logits(processed, generator=torch.Generator().manual_seed(123))
    observed = np.bincount(draws.numpy(), minlength=len(logits))
    probs = _intended(logits, temperature, top_k, top_p)
    assert observed[probs == 0].sum() == 0, "a filtered-out token was sampled"
    support = probs > 0
    expected = n * probs[support]
    stat = ((observed[support] - expected) ** 2 / expected).sum()
    # With a fixed seed this is deterministic; the bound is the 99.9% quantile of chi2(df), so
    # a correct sampler passes for all but ~1 in 1000 seeds and a wrong distribution fails badly.
    assert stat < chi2.ppf(0.999, df=support.sum() - 1)


def test_greedy_is_argmax_and_ignores_temperature_filters():
    logits = _logits((6, 33), seed=2)
    processed = process_logits(logits, SamplingConfig(temperature=0.0, top_k=1))
    assert torch.equal(sample_from_logits(processed, greedy=True), logits.argmax(-1))


def test_config_validation():
    with pytest.raises(ValueError):
        SamplingConfig(temperature=-1.0)
    with pytest.raises(ValueError):
        SamplingConfig(top_k=0)
    with pytest.raises(ValueError):
        SamplingConfig(top_p=0.0)
    with pytest.raises(ValueError):
        process_logits(_logits((1, 4)), SamplingConfig(frequency_penalty=1.0))
