"""Our conv2d (as_strided + custom backward) vs torch.nn.functional.conv2d and gradcheck."""

import pytest
import torch
import torch.nn.functional as F
from jaxtyping import TypeCheckError

from arena_core.nn import Conv2d, conv2d
from arena_core.nn.conv import conv2d_autograd

# (batch, in_ch, out_ch, height, width, kernel, stride, padding): odd sizes, non-square kernels,
# strides that do not divide the size, padding larger than needed, 1x1 and 7x7 kernels.
SHAPES = [
    (2, 3, 4, 9, 7, (3, 2), (2, 1), (1, 2)),
    (1, 1, 1, 5, 5, 3, 1, 0),
    (3, 2, 5, 11, 8, 3, 1, 1),
    (2, 4, 3, 10, 13, (1, 1), 2, 0),
    (1, 3, 2, 17, 15, 7, 2, 3),
    (2, 2, 2, 6, 9, (2, 4), (3, 2), (0, 1)),
    (1, 5, 3, 4, 4, 4, 1, 3),  # padding larger than kernel - 1: exercises the fold path
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_forward_backward_match_torch(shape, bias, device):
    b, cin, cout, h, w, k, s, p = shape
    k2 = k if isinstance(k, tuple) else (k, k)
    x = torch.randn(b, cin, h, w, dtype=torch.float64, device=device, requires_grad=True)
    weight = torch.randn(cout, cin, *k2, dtype=torch.float64, device=device, requires_grad=True)
    bias_t = (
        torch.randn(cout, dtype=torch.float64, device=device, requires_grad=True) if bias else None
    )
    ours = conv2d(x, weight, bias_t, s, p)
    ref = F.conv2d(x, weight, bias_t, s, p)
    # float64: both sum the same few hundred products, so agreement is near machine precision
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(ref)
    inputs = (x, weight) + ((bias_t,) if bias else ())
    g_ours = torch.autograd.grad(ours, inputs, grad)
    g_ref = torch.autograd.grad(ref, inputs, grad)
    for a, r in zip(g_ours, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), ((1, 2), (2, 0)), (1, 0)])
def test_conv2d_gradcheck(stride, padding):
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv2d(x, w, b, stride, padding), (x, weight, bias)
    )


def test_naive_einsum_conv_matches_torch():
    x = torch.randn(2, 3, 8, 9, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(
        conv2d_autograd(x, weight, None, 2, 1), F.conv2d(x, weight, None, 2, 1)
    )


def test_conv2d_module_matches_torch_module_in_float32():
    torch_conv = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
    ours = Conv2d(8, 16, 3, stride=2, padding=1)
    ours.load_state_dict(torch_conv.state_dict())
    x = torch.randn(4, 8, 15, 15)
    # float32 with 72-term sums: differences of a few ulps of the outputs (~1e-6) are expected
    torch.testing.assert_close(ours(x), torch_conv(x), rtol=1e-5, atol=1e-5)
    assert ours.weight.shape == torch_conv.weight.shape


def test_conv2d_init_scale_matches_torch():
    # torch's default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); compare spreads (74k samples)
    ours, ref = Conv2d(64, 128, 3), torch.nn.Conv2d(64, 128, 3)
    assert abs(ours.weight.std().item() / ref.weight.std().item() - 1) < 0.02
    assert ours.weight.abs().max() <= 1 / (64 * 9) ** 0.5


def test_conv2d_rejects_bad_shapes():
    # under the test suite's jaxtyping checks, the channel mismatch is caught by the annotation
    with pytest.raises((ValueError, TypeCheckError)):
        conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(torch.randn(1, 3, 2, 2), torch.randn(2, 3, 3, 3))
