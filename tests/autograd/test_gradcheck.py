"""Our finite-difference gradcheck: it agrees with analytic derivatives and with torch's own
gradcheck, and it catches a deliberately broken backward function."""

import math

import numpy as np
import pytest
import torch

from arena_core.autograd import ops
from arena_core.autograd.gradcheck import (
    finite_difference_errors,
    gradcheck_tensor,
    gradcheck_value,
    numeric_grad,
)


def test_numeric_grad_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    (g,) = numeric_grad(lambda arrs: float(np.sum(np.sin(arrs[0]))), [x], eps=1e-6)
    np.testing.assert_allclose(g, np.cos(x), atol=1e-9)  # central differences: error ~eps^2


def test_tensor_gradcheck_passes_on_correct_ops():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    result = gradcheck_tensor(lambda x, y: ((x @ y).tanh() * 2.0).exp(), [a, b])
    assert result.ok and result.max_rel_error < 1e-6
    t_ok = torch.autograd.gradcheck(
        lambda x, y: ((x @ y).tanh() * 2.0).exp(),
        (torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)),
    )
    assert t_ok


def test_tensor_gradcheck_catches_a_wrong_backward(monkeypatch):
    def wrong_exp_backward(g, saved, meta):
        return (g * saved[0] * 1.01,)  # 1% off

    monkeypatch.setattr(ops, "_exp_backward", wrong_exp_backward)
    result = gradcheck_tensor(lambda x: x.exp(), [np.array([0.1, 0.5, -0.3])])
    assert not result.ok and result.max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-4)


def test_tensor_gradcheck_catches_a_wrong_unbroadcast(monkeypatch):
    # right shape, wrong values: takes one column instead of summing over the broadcast dim
    monkeypatch.setattr(ops, "_add_backward", lambda g, saved, shapes: (g, g[:, :1]))
    result = gradcheck_tensor(lambda x, y: x + y, [np.ones((3, 4)), np.ones((3, 1))])
    assert not result.ok


def test_engine_rejects_a_gradient_of_the_wrong_shape(monkeypatch):
    monkeypatch.setattr(ops, "_add_backward", lambda g, saved, shapes: (g, g.sum(axis=0)))
    with pytest.raises(RuntimeError, match=r"gradient of shape \(4,\) for an input of shape"):
        gradcheck_tensor(lambda x, y: x + y, [np.ones((3, 4)), np.ones((3, 1))])


def test_value_gradcheck():
    result = gradcheck_value(lambda a, b: (a * b).tanh() + (a**2 + 1).log() / b, [0.7, -1.3])
    assert result.ok and result.max_abs_error < 1e-8


def test_finite_difference_error_curve_has_the_textbook_shape():
    eps = np.logspace(-14, -1, 27)
    errs = finite_difference_errors(math.exp, math.exp, 1.0, eps)
    best_forward = eps[np.argmin(errs["forward"])]
    best_central = eps[np.argmin(errs["central"])]
    # optimal eps ~ sqrt(machine eps) ~ 1e-8 for forward and ~ cbrt(machine eps) ~ 1e-5 for central
    assert 1e-10 < best_forward < 1e-6 and 1e-7 < best_central < 1e-3
    assert errs["central"].min() < errs["forward"].min()
