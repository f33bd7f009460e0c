"""Max, average and adaptive average pooling vs torch.nn.functional."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.nn import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    GlobalAvgPool,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool2d,
)

# (height, width, kernel, stride, padding); stride None = kernel size (torch's default)
CASES = [
    (7, 9, 3, 2, 1),
    (8, 8, 2, None, 0),
    (11, 6, (3, 2), (2, 1), (1, 0)),
    (5, 13, 3, 1, 1),
    (112, 112, 3, 2, 1),  # ResNet's stem pool
    (9, 10, (2, 4), (3, 3), (1, 2)),
]


def _check(ours_fn, ref_fn, shape, device):
    h, w, k, s, p = shape
    x = torch.randn(2, 3, h, w, dtype=torch.float64, device=device, requires_grad=True)
    ours, ref = ours_fn(x, k, s, p), ref_fn(x, k, s, p)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(ref)
    # float64 sums of at most kh*kw terms: agreement to ~1e-15 relative
    torch.testing.assert_close(
        torch.autograd.grad(ours, x, grad)[0],
        torch.autograd.grad(ref, x, grad)[0],
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("shape", CASES)
def test_max_pool2d_matches_torch(shape, device):
    _check(max_pool2d, F.max_pool2d, shape, device)


@pytest.mark.parametrize("shape", CASES)
def test_avg_pool2d_matches_torch(shape, device):
    _check(avg_pool2d, F.avg_pool2d, shape, device)


def test_pool_gradchecks():
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: avg_pool2d(x, 3, 2, 1), (x,))
    assert torch.autograd.gradcheck(lambda x: max_pool2d(x, (2, 3), 1, 1), (x,))


@pytest.mark.parametrize(
    "size,out", [((7, 7), 1), ((10, 7), (3, 2)), ((5, 9), (5, 4)), ((6, 6), 4)]
)
def test_adaptive_avg_pool_matches_torch(size, out):
    x = torch.randn(2, 3, *size, dtype=torch.float64, requires_grad=True)
    ours, ref = adaptive_avg_pool2d(x, out), F.adaptive_avg_pool2d(x, out)
    torch.testing.assert_close(ours, ref)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(
        torch.autograd.grad(ours, x, grad)[0], torch.autograd.grad(ref, x, grad)[0]
    )


def test_pool_modules_and_global_pool():
    x = torch.randn(3, 4, 9, 9)
    torch.testing.assert_close(MaxPool2d(3, 2, 1)(x), torch.nn.MaxPool2d(3, 2, 1)(x))
    torch.testing.assert_close(AvgPool2d(3)(x), torch.nn.AvgPool2d(3)(x))
    torch.testing.assert_close(AdaptiveAvgPool2d(2)(x), torch.nn.AdaptiveAvgPool2d(2)(x))
    torch.testing.assert_close(GlobalAvgPool()(x), torch.nn.AdaptiveAvgPool2d(1)(x).flatten(1))


def test_pool_rejects_large_padding():
    with pytest.raises(ValueError, match="half the kernel"):
        max_pool2d(torch.randn(1, 1, 8, 8), 2, 2, 2)


# torch's pools also take one unbatched image (C, H, W) and return an unbatched result
UNBATCHED = [
    ("max_pool2d", lambda x: max_pool2d(x, 3, 2, 1), lambda x: F.max_pool2d(x, 3, 2, 1)),
    ("avg_pool2d", lambda x: avg_pool2d(x, (2, 3), 1, 1), lambda x: F.avg_pool2d(x, (2, 3), 1, 1)),
    (
        "adaptive",
        lambda x: adaptive_avg_pool2d(x, (3, 2)),
        lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    ),
    ("adaptive-1", lambda x: adaptive_avg_pool2d(x, 1), lambda x: F.adaptive_avg_pool2d(x, 1)),
    ("MaxPool2d", MaxPool2d(2), torch.nn.MaxPool2d(2)),
    ("AvgPool2d", AvgPool2d(3, 1), torch.nn.AvgPool2d(3, 1)),
    ("AdaptiveAvgPool2d", AdaptiveAvgPool2d(2), torch.nn.AdaptiveAvgPool2d(2)),
    ("GlobalAvgPool", GlobalAvgPool(), lambda x: F.adaptive_avg_pool2d(x, 1).flatten(-3)),
]


@pytest.mark.parametrize("name,ours_fn,ref_fn", UNBATCHED, ids=[c[0] for c in UNBATCHED])
def test_unbatched_input_matches_torch(name, ours_fn, ref_fn, device):
    x = torch.randn(3, 7, 6, dtype=torch.float64, device=device, requires_grad=True)
    ours, ref = ours_fn(x), ref_fn(x)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(
        torch.autograd.grad(ours, x, grad)[0], torch.autograd.grad(ref, x, grad)[0]
    )
