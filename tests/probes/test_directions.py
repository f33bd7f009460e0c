"""Mass-mean directions on data where the right direction is known, and the logistic probe
against scikit-learn's `LogisticRegression` on the same data, same C, same intercept handling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from arena_core.probes.directions import (
    ProbeInputError,
    covariance_corrected_direction,
    fit_mass_mean,
    mass_mean_direction,
)
from arena_core.probes.logistic import fit_logistic
from arena_core.probes.metrics import accuracy, auroc


def planted(n=2000, d=32, shift=1.0, seed=0, anisotropic=False):
    """Gaussian data whose classes differ by ±shift/2 along a known unit direction v."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(d, generator=g, dtype=torch.float64)
    v /= v.norm()
    y = torch.rand(n, generator=g) < 0.5
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    if anisotropic:  # large shared noise along a few directions (one of them overlaps v)
        mix = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
        mix[:, :3] *= 6.0
        x = x @ mix.T
    x = x + (y.double()[:, None] - 0.5) * shift * v
    return x, y, v


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def test_mass_mean_recovers_planted_direction():
    # the mean's estimation noise: |error|² ≈ d·4/n = 0.013 vs |shift|² = 9, cos ≈ 0.9993
    x, y, v = planted(n=10_000, shift=3.0)
    assert cos(mass_mean_direction(x, y), v) > 0.99
    probe = fit_mass_mean(x, y)
    assert accuracy(probe.scores(x), y) > 0.7


def test_covariance_correction_recovers_fisher_direction_under_correlated_noise():
    # With shared covariance Σ, the Bayes-optimal direction is Σ⁻¹ shift·v, computed here from
    # the *true* Σ (= mix mixᵀ + 0), independently of the estimate inside our function.
    g = torch.Generator().manual_seed(3)
    d, n = 16, 20000
    v = torch.randn(d, generator=g, dtype=torch.float64)
    v /= v.norm()
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    sigma = a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)
    y = torch.rand(n, generator=g) < 0.5
    noise = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(sigma).T
    x = noise + (y.double()[:, None] - 0.5) * 2.0 * v
    fisher = torch.linalg.solve(sigma, v)
    assert cos(covariance_corrected_direction(x, y, ridge=1e-6), fisher) > 0.99
    # and it classifies better than the plain mass-mean direction under this noise
    plain, iid = fit_mass_mean(x, y), fit_mass_mean(x, y, covariance_correction=True)
    assert auroc(iid.scores(x), y) > auroc(plain.scores(x), y)


def test_logistic_recovers_planted_direction():
    x, y, v = planted(n=10_000, shift=3.0)
    probe = fit_logistic(x, y, C=1.0)
    assert probe.converged
    assert cos(probe.coef, v) > 0.99


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C, anisotropic", [(1.0, False), (0.01, True), (100.0, True)])
def test_logistic_matches_sklearn(C, anisotropic, fit_intercept):
    x, y, _ = planted(n=600, d=20, shift=1.0, seed=1, anisotropic=anisotropic)
    x = x + 0.7  # an offset so that the intercept matters
    xn, yn = x.numpy(), y.numpy()
    ref = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-12, max_iter=10_000)
    ref.fit(xn, yn)
    ours = fit_logistic(x, y, C=C, fit_intercept=fit_intercept)
    assert ours.converged
    ref_scores = ref.decision_function(xn)
    our_scores = ours.scores(x)
    assert accuracy(our_scores, y) == pytest.approx(ref.score(xn, yn), abs=1e-4)
    assert auroc(our_scores, y) == pytest.approx(roc_auc_score(yn, ref_scores), abs=1e-4)
    # both minimise the same strictly convex objective: same minimiser up to lbfgs' own stopping
    # point (measured: coefficients agree to ~1e-6 relative, intercepts to ~7e-6 at C=100)
    np.testing.assert_allclose(ours.coef.numpy(), ref.coef_[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(ours.intercept), float(ref.intercept_[0]), atol=1e-4)
    # optimality checked by autograd on the objective written with torch's own BCE: our Newton
    # solution is the exact minimiser (gradient ~1e-11), tighter than lbfgs' (~1e-2 at C=100)
    w = ours.coef.clone().requires_grad_()
    b = ours.intercept.clone().requires_grad_()
    logits = x @ w + (b if fit_intercept else 0.0)
    f = C * F.binary_cross_entropy_with_logits(logits, y.double(), reduction="sum")
    (f + 0.5 * w.square().sum()).backward()
    assert w.grad.abs().max() < 1e-7
    if fit_intercept:
        assert b.grad.abs() < 1e-7


def test_separable_data_still_converges():
    x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    ref = LogisticRegression(C=1e4, tol=1e-12, max_iter=10_000).fit(x.numpy(), y.numpy())
    ours = fit_logistic(x, y, C=1e4)
    assert ours.converged
    np.testing.assert_allclose(ours.coef.numpy(), ref.coef_[0], rtol=1e-4)


def test_one_class_is_a_user_error():
    with pytest.raises(ProbeInputError, match="both classes"):
        fit_logistic(torch.zeros(4, 2), torch.ones(4))
    with pytest.raises(ProbeInputError, match="both classes"):
        fit_mass_mean(torch.zeros(4, 2), torch.zeros(4))
