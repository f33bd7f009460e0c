"""Spurious features on synthetic data where the planted label direction and the planted confound
are known: a probe trained with a perfect confound picks the confound (below-chance accuracy on
the anti-confounded set, weights along the confound), one trained without it picks the label.
The probes are our own and scikit-learn's `LogisticRegression` (same objective), side by side."""

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from arena_core.probes.confounds import (
    ConfoundInputError,
    balanced_direction,
    confound_masks,
    cosine,
    mix_confounded,
)
from arena_core.probes.logistic import fit_logistic
from arena_core.probes.metrics import accuracy

D = 20


def planted(n=4000, seed=0):
    """y moves x a little along e0 (a weak, noisy feature); z moves it a lot along e1 (a clean
    surface feature). y and z are independent here: the confound comes from how we subsample."""
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, generator=g) < 0.5).long()
    z = (torch.rand(n, generator=g) < 0.5).long()
    x = torch.randn(n, D, generator=g, dtype=torch.float64)
    x[:, 0] += 1.0 * (2 * y - 1)  # label: d' = 2 against unit noise
    x[:, 1] = 3.0 * (2 * z - 1) + 0.1 * x[:, 1]  # confound: nearly noise-free
    return x, y, z


def test_confound_masks_partition():
    y = torch.tensor([1, 1, 0, 0, 1])
    z = torch.tensor([1, 0, 0, 1, 1])
    agree, disagree = confound_masks(y, z)
    assert agree.tolist() == [True, False, True, False, True]
    assert (agree ^ disagree).all()


@pytest.mark.parametrize("rho", [0.5, 0.8, 1.0])
def test_mix_confounded_has_requested_strength_and_balance(rho):
    x, y, z = planted()
    idx = mix_confounded(y, z, rho, n=200, seed=3)
    assert len(idx) == 200 and len(set(idx.tolist())) == 200
    assert y[idx].sum() == 100  # label-balanced
    assert (y[idx] == z[idx]).double().mean() == pytest.approx(rho)
    assert torch.equal(idx, mix_confounded(y, z, rho, n=200, seed=3))  # reproducible


def test_perfect_confound_makes_probe_read_the_confound():
    x, y, z = planted()
    agree, disagree = confound_masks(y, z)
    train = mix_confounded(y, z, 1.0, n=400, seed=0)
    test_anti = torch.nonzero(disagree).flatten()
    ours = fit_logistic(x[train], y[train], C=1.0)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x[train], y[train])
    acc_ref = ref.score(x[test_anti], y[test_anti])
    acc_ours = accuracy(ours.scores(x[test_anti]), y[test_anti])
    # both probes read z: on examples where z = 1 − y they are wrong nearly always
    assert acc_ours < 0.2 and acc_ref < 0.2
    assert abs(acc_ours - acc_ref) < 0.02
    e1 = torch.zeros(D, dtype=torch.float64)
    e1[1] = 1.0
    assert abs(cosine(ours.coef, e1)) > 0.9
    # and on data drawn like the training set it looks excellent
    test_same = torch.nonzero(agree).flatten()
    assert accuracy(ours.scores(x[test_same]), y[test_same]) > 0.95


def test_no_confound_makes_probe_read_the_label():
    x, y, z = planted()
    train = mix_confounded(y, z, 0.5, n=1000, seed=0)
    probe = fit_logistic(x[train], y[train], C=1.0)
    _, disagree = confound_masks(y, z)
    test_anti = torch.nonzero(disagree).flatten()
    # Bayes accuracy with d' = 2 is Φ(1) = 0.84; anti-confounded data are no harder now
    assert accuracy(probe.scores(x[test_anti]), y[test_anti]) > 0.75
    e0 = torch.zeros(D, dtype=torch.float64)
    e0[0] = 1.0
    assert cosine(probe.coef, e0) > 0.8


def test_balanced_direction_ignores_label_imbalance():
    # z shifts x by +2 along e1; y by +5 along e0; y is heavily skewed towards z = 1, so the plain
    # mean difference over z leaks e0, the balanced one does not
    g = torch.Generator().manual_seed(1)
    n = 2000
    z = (torch.rand(n, generator=g) < 0.5).long()
    y = torch.where(z == 1, torch.rand(n, generator=g) < 0.9, torch.rand(n, generator=g) < 0.1)
    y = y.long()
    x = 0.1 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    x[:, 0] += 5.0 * y
    x[:, 1] += 2.0 * z
    plain = x[z == 1].mean(0) - x[z == 0].mean(0)
    v = balanced_direction(x, z, y)
    assert abs(plain[0]) > 3.0  # the leak
    torch.testing.assert_close(v, torch.tensor([0.0, 2.0, 0.0, 0.0], dtype=torch.float64),
                               atol=0.03, rtol=0)  # fmt: skip


def test_bad_inputs_raise_user_errors():
    y = torch.tensor([1, 0, 1, 0])
    z = torch.tensor([1, 1, 0, 0])
    with pytest.raises(ConfoundInputError, match="0/1"):
        confound_masks(y, torch.tensor([2, 0, 1, 0]))
    with pytest.raises(ConfoundInputError, match="rho"):
        mix_confounded(y, z, 1.5, n=2)
    with pytest.raises(ConfoundInputError, match="only 1 exist"):
        mix_confounded(y, z, 1.0, n=4)
    with pytest.raises(ConfoundInputError, match="on and off"):
        balanced_direction(
            torch.zeros(4, 3), torch.tensor([1, 1, 0, 0]), torch.tensor([1, 1, 0, 0])
        )
    with pytest.raises(ConfoundInputError, match="zero vector"):
        cosine(torch.zeros(3), torch.ones(3))
