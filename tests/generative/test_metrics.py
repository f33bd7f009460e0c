"""Fréchet distance vs closed forms and a scipy.linalg.sqrtm computation; class coverage."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from arena_core.generative import (
    class_coverage,
    classifier_features,
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
)
from arena_core.nn import ConvNet


def test_diagonal_closed_form():
    # for diagonal covariances FD = |mu1 - mu2|^2 + sum_i (s1_i - s2_i)^2 (s = std devs)
    gen = torch.Generator().manual_seed(0)
    d = 9
    mu1, mu2 = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    s1, s2 = torch.rand(d, generator=gen) + 0.1, torch.rand(d, generator=gen) * 3 + 0.1
    fd = frechet_distance(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    expected = float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())
    assert fd == pytest.approx(expected, rel=1e-6)  # float32 inputs, float64 maths


@pytest.mark.parametrize("d", [1, 4, 17])
def test_full_covariance_vs_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # the textbook formula, tr((S1 S2)^{1/2})
    expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    ours = frechet_distance(*(torch.from_numpy(t) for t in (m1, s1, m2, s2)))
    assert ours == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_identical_distributions_and_stats():
    x = torch.randn(500, 6, dtype=torch.float64)
    mu, cov = gaussian_stats(x)
    torch.testing.assert_close(mu, torch.from_numpy(x.numpy().mean(0)))
    torch.testing.assert_close(cov, torch.from_numpy(np.cov(x.numpy(), rowvar=False)))
    assert abs(frechet_distance_features(x, x)) < 1e-8


def test_class_coverage():
    preds = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = class_coverage(preds, 10)
    assert out["coverage"] == pytest.approx(0.4)
    assert out["entropy"] == pytest.approx(math.log(4))
    assert out["max_entropy"] == pytest.approx(math.log(10))
    collapsed = class_coverage(torch.zeros(50, dtype=torch.long), 10)
    assert collapsed["coverage"] == pytest.approx(0.1) and collapsed["entropy"] == 0


def test_classifier_features_are_penultimate_layer():
    model = ConvNet().eval()
    x = torch.rand(7, 1, 28, 28)
    feats, logits = classifier_features(model, x, batch_size=3)
    assert feats.shape == (7, 128) and (feats >= 0).all()  # post-ReLU
    torch.testing.assert_close(logits, model(x))
