"""Inverse-CDF categorical sampling: chi-square goodness of fit (scipy) and edge cases."""

import pytest
import torch
from scipy import stats

from arena_core.tensors.sampling import chi_square_statistic, sample_categorical, sample_from_logits


def test_chi_square_statistic_matches_scipy():
    counts = torch.tensor([12, 30, 8, 50])
    probs = torch.tensor([0.1, 0.3, 0.1, 0.5], dtype=torch.float64)
    ref = stats.chisquare(counts.numpy(), probs.numpy() * counts.sum().item()).statistic
    assert chi_square_statistic(counts, probs) == pytest.approx(ref, rel=1e-12)


def test_samples_follow_the_distribution():
    probs = torch.tensor([0.05, 0.0, 0.25, 0.1, 0.6, 0.0])  # includes impossible categories
    gen = torch.Generator().manual_seed(1234)
    draws = sample_categorical(probs, 20_000, generator=gen)
    counts = torch.bincount(draws, minlength=6)
    assert counts[1] == 0 and counts[5] == 0  # p = 0 is never drawn
    x2 = chi_square_statistic(counts, probs)
    # 4 categories with p > 0 -> 3 degrees of freedom; with this fixed seed a correct sampler
    # passes at the 0.1% level (a false failure has probability 1e-3 for a random seed).
    assert stats.chi2.sf(x2, df=3) > 1e-3
    # a wrong distribution is rejected decisively by the same test
    assert stats.chi2.sf(chi_square_statistic(counts, torch.full((6,), 1 / 6)), df=5) < 1e-10


def test_batched_rows_and_unnormalised_weights():
    weights = torch.tensor([[1.0, 3.0], [0.0, 2.0], [5.0, 0.0]])  # rows need not sum to 1
    draws = sample_categorical(weights, 4000, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (3, 4000)
    assert (draws[1] == 1).all() and (draws[2] == 0).all()
    frac = (draws[0] == 1).double().mean().item()
    assert abs(frac - 0.75) < 4 * (0.75 * 0.25 / 4000) ** 0.5  # within 4 standard errors


def test_sample_from_logits_handles_huge_logits():
    logits = torch.tensor([1000.0, 1000.0, -float("inf"), 990.0])
    draws = sample_from_logits(logits, 5000, generator=torch.Generator().manual_seed(0))
    assert set(draws.tolist()) <= {0, 1, 3} and (draws != 2).all()
    with pytest.raises(ValueError):
        sample_categorical(torch.tensor([0.5, -0.1]), 3)
