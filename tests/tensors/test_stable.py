"""Stable logsumexp / softmax / log_softmax / cross_entropy / sigmoid vs torch and scipy."""

import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.tensors.stable import (
    cross_entropy,
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
)

INF = float("inf")
# float64 results agree with torch to rounding (~1e-15 relative); float32 to a few ulps of values
# of size ~1000 (ulp(1000) = 6e-5), hence these tolerances.
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 30.0, 1000.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    data=st.data(),
)
def test_random_shapes_match_torch(shape, scale, dtype, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(shape, dtype=dtype) * scale
    torch.testing.assert_close(logsumexp(x, dim), torch.logsumexp(x, dim), **TOL[dtype])
    torch.testing.assert_close(softmax(x, dim), torch.softmax(x, dim), **TOL[dtype])
    torch.testing.assert_close(log_softmax(x, dim), torch.log_softmax(x, dim), **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logsumexp_of_four_thousands_is_1000_plus_log4(dtype):
    x = torch.full((4,), 1000.0, dtype=dtype)
    expected = 1000 + math.log(4)  # exact: log(4 e^1000) = 1000 + log 4
    assert abs(logsumexp(x).item() - expected) < (1e-4 if dtype == torch.float32 else 1e-12)
    assert torch.isinf(torch.log(torch.exp(x).sum()))  # the naive formula overflows


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_and_infinite_rows(dtype, device):
    x = torch.tensor(
        [
            [1000.0, -1000.0, 0.0],
            [-1000.0, -1000.0, -1000.0],
            [-INF, 3.0, 1.0],  # mixed -inf
            [-INF, -INF, -INF],  # all -inf
            [INF, 0.0, -INF],
        ],
        dtype=dtype,
        device=device,
    )
    torch.testing.assert_close(logsumexp(x), torch.logsumexp(x, -1), **TOL[dtype])
    assert logsumexp(x)[3] == -INF
    # torch gives NaN for softmax / log_softmax of an all -inf row and of a +inf row; so do we
    torch.testing.assert_close(softmax(x), torch.softmax(x, -1), equal_nan=True, **TOL[dtype])
    torch.testing.assert_close(
        log_softmax(x), torch.log_softmax(x, -1), equal_nan=True, **TOL[dtype]
    )
    assert softmax(x)[2, 0] == 0 and log_softmax(x)[2, 0] == -INF


def test_empty_and_size_one_dims():
    e = torch.empty(3, 0)
    torch.testing.assert_close(logsumexp(e), torch.logsumexp(e, -1))  # log of empty sum = -inf
    assert softmax(e).shape == (3, 0) and log_softmax(e).shape == (3, 0)
    assert logsumexp(torch.empty(0, 5)).shape == (0,)
    one = torch.randn(4, 1, 3)
    torch.testing.assert_close(logsumexp(one, 1), one.squeeze(1))
    torch.testing.assert_close(softmax(one, 1), torch.ones_like(one))
    torch.testing.assert_close(logsumexp(one, 1, keepdim=True), torch.logsumexp(one, 1, True))


def test_logsumexp_gradient_is_softmax():
    x = (torch.randn(5, 9, dtype=torch.float64) * 50).requires_grad_()
    (g,) = torch.autograd.grad(logsumexp(x).sum(), x)
    torch.testing.assert_close(g, torch.softmax(x.detach(), -1), rtol=1e-12, atol=1e-14)
    # and our function passes torch's finite-difference gradient check
    y = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: log_softmax(t, 0), (y,))
    assert torch.autograd.gradcheck(lambda t: softmax(t, -1), (y,))


@settings(max_examples=20, deadline=None)
@given(
    batch=st.lists(st.integers(1, 5), min_size=1, max_size=2),
    classes=st.integers(1, 9),
    scale=st.sampled_from([1.0, 1000.0]),
)
def test_cross_entropy_index_targets_match_torch(batch, classes, scale):
    logits = torch.randn(*batch, classes, dtype=torch.float64) * scale
    targets = torch.randint(0, classes, batch)
    # torch wants classes in dim 1: move our last dim there
    ref_logits = logits.movedim(-1, 1) if len(batch) > 1 else logits
    for reduction in ("mean", "sum", "none"):
        ref = F.cross_entropy(ref_logits, targets, reduction=reduction)
        torch.testing.assert_close(cross_entropy(logits, targets, reduction=reduction), ref)


def test_cross_entropy_ignore_index_and_gradient():
    logits = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, -100, 4, 2, -100, 1, 3])
    ours = cross_entropy(logits, targets)
    ref = F.cross_entropy(logits, targets, ignore_index=-100)
    torch.testing.assert_close(ours, ref)
    (g1,) = torch.autograd.grad(ours, logits)
    (g2,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g1, g2)
    t2 = torch.tensor([0, 3, 3, 2, 3, 1, 3])
    torch.testing.assert_close(
        cross_entropy(logits, t2, ignore_index=3), F.cross_entropy(logits, t2, ignore_index=3)
    )
    # every target ignored: 0/0 = NaN, as torch
    allign = torch.full((7,), -100)
    assert torch.isnan(cross_entropy(logits, allign)) and torch.isnan(
        F.cross_entropy(logits, allign)
    )


def test_cross_entropy_probability_targets():
    logits = torch.randn(6, 4, dtype=torch.float64) * 20
    probs = torch.softmax(torch.randn(6, 4, dtype=torch.float64), -1)
    torch.testing.assert_close(cross_entropy(logits, probs), F.cross_entropy(logits, probs))
    # zero-probability targets where the model also says 0: scipy's xlogy uses 0 log 0 = 0
    logits[0, 1] = -INF
    probs[0] = torch.tensor([0.5, 0.0, 0.25, 0.25], dtype=torch.float64)
    logq = scipy.special.log_softmax(logits.numpy(), axis=-1)
    ref = -scipy.special.xlogy(probs.numpy(), np.exp(logq)).sum(-1).mean()
    assert abs(cross_entropy(logits, probs).item() - ref) < 1e-10


def test_cross_entropy_zero_probability_target_is_inf():
    logits = torch.tensor([[0.0, -INF, 2.0]])
    assert cross_entropy(logits, torch.tensor([1])).item() == INF
    assert F.cross_entropy(logits, torch.tensor([1])).item() == INF  # the reference agrees
    # a confidently wrong but finite model: CE = 2000 + log(1 + e^-2000) = 2000 exactly in float
    big = torch.tensor([[1000.0, -1000.0]])
    assert cross_entropy(big, torch.tensor([1])).item() == pytest.approx(2000.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigmoid_and_log_sigmoid(dtype):
    x = torch.cat([torch.linspace(-1000, 1000, 101, dtype=dtype), torch.tensor([-INF, INF])])
    torch.testing.assert_close(sigmoid(x), torch.sigmoid(x), **TOL[dtype])
    torch.testing.assert_close(log_sigmoid(x), F.logsigmoid(x), **TOL[dtype])
    assert log_sigmoid(torch.tensor(-1000.0, dtype=dtype)).item() == -1000.0  # naive: log(0)=-inf
