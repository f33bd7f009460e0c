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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logsumexp_of_four_thousands_is_1000_plus_log4(dtype):
    x = torch.full((4,), 1000.0, dtype=dtype)
    expected = 1000 + math.log(4)  # exact: log(4 e^1000) = 1000 + log 4
    assert abs(logsumexp(x).item() - expected) < (1e-4 if dtype == torch.float32 else 1e-12)
    assert torch.isinf(torch.log(torch.exp(x).sum()))  # the naive formula overflows


@pytest.mark.parametrize("requires_grad", [False, True])  # in-place vs autograd-safe path
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_and_infinite_rows(dtype, requires_grad, device):
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
        requires_grad=requires_grad,
    )
    assert softmax(x).requires_grad == requires_grad
    torch.testing.assert_close(logsumexp(x), torch.logsumexp(x, -1), **TOL[dtype])
    assert logsumexp(x)[3] == -INF
    # torch gives NaN for softmax / log_softmax of an all -inf row and of a +inf row; so do we
    torch.testing.assert_close(softmax(x), torch.softmax(x, -1), equal_nan=True, **TOL[dtype])
    torch.testing.assert_close(
        log_softmax(x), torch.log_softmax(x, -1), equal_nan=True, **TOL[dtype]
    )
    assert softmax(x)[2, 0] == 0 and log_softmax(x)[2, 0] == -INF
    # cross-entropy on the same rows: NaN for the all -inf and the +inf row, +inf for a -inf target
    for targets in (torch.tensor([0, 1, 1, 2, 1]), torch.tensor([1, 0, 0, 0, 0])):
        targets = targets.to(device)
        ours = cross_entropy(x, targets, reduction="none")
        ref = F.cross_entropy(x, targets, reduction="none")
        torch.testing.assert_close(ours, ref, equal_nan=True, **TOL[dtype])


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
    scale=st.sampled_from([1.0, 30.0, 1000.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_cross_entropy_index_targets_match_torch(batch, classes, scale, dtype):
    logits = torch.randn(*batch, classes, dtype=dtype) * scale
    targets = torch.randint(0, classes, batch)
    # torch wants classes in dim 1: move our last dim there
    ref_logits = logits.movedim(-1, 1) if len(batch) > 1 else logits
    for reduction in ("mean", "sum", "none"):
        ref = F.cross_entropy(ref_logits, targets, reduction=reduction)
        ours = cross_entropy(logits, targets, reduction=reduction)
        torch.testing.assert_close(ours, ref, **TOL[dtype])


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


# --- The fast paths: exp as exp2, in-place passes on our own intermediates -----------------------
# softmax normalises in place unless autograd records it; every function works in place only on
# tensors it allocated. These tests pin down what that must not change.


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 30.0, 1000.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    data=st.data(),
)
def test_forward_and_gradient_match_torch_autograd(shape, scale, dtype, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(shape, dtype=dtype) * scale
    pairs = [
        (softmax, torch.softmax, x.shape),
        (log_softmax, torch.log_softmax, x.shape),
        (logsumexp, torch.logsumexp, x.sum(dim).shape),
    ]
    for ours, ref, out_shape in pairs:
        # without autograd: the in-place fast paths
        torch.testing.assert_close(ours(x, dim), ref(x, dim), **TOL[dtype])
        # with autograd: the out-of-place branches, and their gradients
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        out_a, out_b = ours(a, dim), ref(b, dim)
        torch.testing.assert_close(out_a, out_b, **TOL[dtype])
        # a random upstream gradient: with sum() the gradient of softmax would be exactly 0
        upstream = torch.randn(out_shape, dtype=dtype)
        (grad_a,) = torch.autograd.grad(out_a, a, upstream)
        (grad_b,) = torch.autograd.grad(out_b, b, upstream)
        torch.testing.assert_close(grad_a, grad_b, **TOL[dtype])
        assert torch.equal(a.detach(), x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cross_entropy_gradient_matches_torch(dtype, device):
    logits = (torch.randn(9, 13, dtype=dtype, device=device) * 30).requires_grad_()
    targets = torch.randint(0, 13, (9,), device=device)
    targets[2] = -100
    probs = torch.softmax(torch.randn(9, 13, dtype=dtype, device=device), -1)
    for tgt in (targets, probs):
        for reduction in ("mean", "sum"):
            ours = cross_entropy(logits, tgt, reduction=reduction)
            ref = F.cross_entropy(logits, tgt, reduction=reduction)
            torch.testing.assert_close(ours, ref, **TOL[dtype])
            (g1,) = torch.autograd.grad(ours, logits)
            (g2,) = torch.autograd.grad(ref, logits)
            torch.testing.assert_close(g1, g2, **TOL[dtype])


def test_gradcheck_of_logsumexp_and_cross_entropy():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: logsumexp(t, 1), (x,))
    assert torch.autograd.gradcheck(lambda t: cross_entropy(t, torch.tensor([0, 5, 2, 2])), (x,))


@pytest.mark.parametrize("grad_mode", ["enabled", "no_grad", "inference_mode"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_input_is_never_modified_and_never_aliased(requires_grad, grad_mode, device):
    x = torch.randn(6, 11, dtype=torch.float64, device=device) * 50
    x[0, 3] = -INF
    x[1] = -INF  # an all -inf row: the in-place fix-ups of the max must not leak into x
    x[2, 5] = INF
    x.requires_grad_(requires_grad)
    before, version = x.detach().clone(), x._version
    targets = torch.randint(0, 11, (6,), device=device)
    probs = torch.softmax(torch.randn(6, 11, dtype=torch.float64, device=device), -1)
    mode = {
        "enabled": torch.enable_grad,
        "no_grad": torch.no_grad,
        "inference_mode": torch.inference_mode,
    }[grad_mode]
    with mode():
        outs = [
            softmax(x),
            softmax(x, 0),
            log_softmax(x),
            log_softmax(x.T, 0),  # a non-contiguous view of the input
            logsumexp(x),
            logsumexp(x, 0, keepdim=True),
            cross_entropy(x, targets, reduction="none"),
            cross_entropy(x, probs, reduction="none"),
        ]
    assert x._version == version  # no in-place op ever touched x (or a view of it)
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0, equal_nan=True)
    for out in outs:
        assert out.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
    torch.testing.assert_close(outs[0], torch.softmax(before, -1), equal_nan=True, **TOL[x.dtype])
    torch.testing.assert_close(outs[1], torch.softmax(before, 0), equal_nan=True, **TOL[x.dtype])


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("scale", [1.0, 5.0, 30.0, 1000.0])
def test_float32_accuracy_against_a_float64_reference(scale, requires_grad):
    """exp(y) is computed as exp2(y * log2 e); the product's rounding is the one extra error.

    Bound for a probability p = exp(y) >= 1e-30 (so |y| <= ~70): rounding x - m and y * log2 e
    each perturb the exponent by <= 2^-24 |y| (relative error of p: 2 * 70 * 6e-8 = 8.4e-6), plus
    a few ulps from exp2, the row sum and the normalisation: 2e-5 leaves a margin. torch's own
    float32 kernel is held to the same bound. log_softmax only uses the exponentials inside
    log(sum), which is O(1), so its error must stay that of torch's float32 log_softmax + 1e-5.
    """
    x = torch.randn(64, 1000) * scale
    x64 = x.double()
    p_ref, logp_ref = torch.softmax(x64, -1), torch.log_softmax(x64, -1)
    x = x.requires_grad_(requires_grad)
    normal = p_ref >= 1e-30  # float32 loses relative precision near its subnormal range
    for p in (softmax(x).detach().double(), torch.softmax(x.detach(), -1).double()):
        rel = ((p - p_ref).abs() / p_ref)[normal]
        assert rel.max() < 2e-5
        assert ((p - p_ref)[~normal].abs() < 1e-30).all()
    ours = (log_softmax(x).detach().double() - logp_ref).abs()
    theirs = (torch.log_softmax(x.detach(), -1).double() - logp_ref).abs()
    assert (ours <= theirs + 1e-5).all()
    lse_err = (logsumexp(x).detach().double() - torch.logsumexp(x64, -1)).abs()
    assert (lse_err <= 1e-6 * torch.logsumexp(x64, -1).abs().clamp(min=1)).all()


def test_cross_entropy_keeps_small_losses_exact_on_large_float32_logits():
    # logits ~1000 whose differences are O(1): the loss is O(1), but logsumexp ~1000 holds it only
    # to ulp(1000) = 6e-5. Computing (max - logit_t) + log_norm, as torch's log_softmax does
    # ((x_t - max) - log_norm), keeps float32's ~1e-7 relative accuracy.
    logits = 1000 + torch.randn(256, 10)
    targets = logits.argmax(-1)  # the most likely class: the smallest losses
    ref = F.cross_entropy(logits.double(), targets, reduction="none")
    ours = cross_entropy(logits, targets, reduction="none").double()
    torch.testing.assert_close(ours, ref, rtol=2e-6, atol=0)
    # the bound is fair: torch's own float32 cross-entropy meets it
    torch_32 = F.cross_entropy(logits, targets, reduction="none").double()
    torch.testing.assert_close(torch_32, ref, rtol=2e-6, atol=0)
