"""Our conv2d (shifted matmuls / im2col, custom backward) vs torch.nn.functional.conv2d, gradcheck,
and the input checks of the Conv2d layer vs torch.nn.Conv2d."""

import re

import pytest
import torch
import torch.nn.functional as F
from jaxtyping import TypeCheckError

from arena_core.nn import Conv2d, conv2d
from arena_core.nn.conv import conv2d_autograd

# (batch, in_ch, out_ch, height, width, kernel, stride, padding, dilation): odd sizes, non-square
# kernels, strides that do not divide the size, padding larger than needed, 1x1 and 7x7 kernels.
SHAPES = [
    (2, 3, 4, 9, 7, (3, 2), (2, 1), (1, 2), 1),
    (1, 1, 1, 5, 5, 3, 1, 0, 1),
    (3, 2, 5, 11, 8, 3, 1, 1, 1),
    (2, 4, 3, 10, 13, (1, 1), 2, 0, 1),
    (1, 3, 2, 17, 15, 7, 2, 3, 1),
    (2, 2, 2, 6, 9, (2, 4), (3, 2), (0, 1), 1),
    (1, 5, 3, 4, 4, 4, 1, 3, 1),  # padding larger than kernel - 1: no shared padding possible
    (2, 9, 4, 8, 8, 3, 1, 1, 1),  # a ResNet-like 3x3 "same" conv
    (2, 9, 4, 8, 7, 3, 2, 1, 1),  # and its stride-2 version (two phases per axis)
    (2, 3, 4, 12, 11, 3, (2, 3), (2, 1), (2, 1)),  # dilation with stride
    (2, 3, 4, 12, 11, (3, 2), (3, 1), (0, 2), (1, 3)),
]
METHODS = ["auto", "shifted", "im2col"]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("method", METHODS)
def test_conv2d_forward_backward_match_torch(shape, bias, method, device):
    b, cin, cout, h, w, k, s, p, d = shape
    x = torch.randn(b, cin, h, w, dtype=torch.float64, device=device, requires_grad=True)
    weight = torch.randn(
        cout, cin, *_pair(k), dtype=torch.float64, device=device, requires_grad=True
    )
    bias_t = (
        torch.randn(cout, dtype=torch.float64, device=device, requires_grad=True) if bias else None
    )
    ours = conv2d(x, weight, bias_t, s, p, d, method=method)
    ref = F.conv2d(x, weight, bias_t, s, p, d)
    # float64: both sum the same few hundred products, so agreement is near machine precision
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(ref)
    inputs = (x, weight) + ((bias_t,) if bias else ())
    g_ours = torch.autograd.grad(ours, inputs, grad)
    g_ref = torch.autograd.grad(ref, inputs, grad)
    for a, r in zip(g_ours, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["shifted", "im2col"])
@pytest.mark.parametrize(
    "stride,padding,dilation", [(1, 1, 1), (2, 1, 1), ((1, 2), (2, 0), 1), (1, 0, 1), (2, 2, 2)]
)
def test_conv2d_gradcheck(method, stride, padding, dilation):
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 2, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, method=method), (x, weight, bias)
    )


def test_input_gradient_is_skipped_when_not_needed():
    # a first layer: the image needs no gradient, only the weight does
    x = torch.randn(2, 9, 6, 6, dtype=torch.float64)
    weight = torch.randn(4, 9, 3, 3, dtype=torch.float64, requires_grad=True)
    for method in ("shifted", "im2col"):
        (g,) = torch.autograd.grad(conv2d(x, weight, None, 1, 1, method=method).sum(), weight)
        (g_ref,) = torch.autograd.grad(F.conv2d(x, weight, None, 1, 1).sum(), weight)
        torch.testing.assert_close(g, g_ref)


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


def test_conv2d_module_with_dilation_matches_torch():
    torch_conv = torch.nn.Conv2d(8, 5, 3, padding=2, dilation=2).double()
    ours = Conv2d(8, 5, 3, padding=2, dilation=2).double()
    ours.load_state_dict(torch_conv.state_dict())
    x = torch.randn(2, 8, 9, 10, dtype=torch.float64)
    torch.testing.assert_close(ours(x), torch_conv(x))
    assert "dilation=(2, 2)" in repr(ours)


def test_channels_last_and_strided_inputs_give_the_same_result():
    # our outputs are channels-last views; a conv must accept any layout as input
    weight = torch.randn(6, 9, 3, 3, dtype=torch.float64)
    x = torch.randn(2, 9, 10, 10, dtype=torch.float64)
    ref = F.conv2d(x, weight, None, 1, 1)
    for layout in (
        x.contiguous(memory_format=torch.channels_last),
        x.transpose(2, 3).contiguous().transpose(2, 3),
        torch.randn(2, 9, 20, 10, dtype=torch.float64)[:, :, ::2].copy_(x),
    ):
        torch.testing.assert_close(conv2d(layout, weight, None, 1, 1), ref)


def test_unbatched_input_matches_torch():
    torch_conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1).double()
    ours = Conv2d(3, 8, 3, stride=2, padding=1).double()
    ours.load_state_dict(torch_conv.state_dict())
    x = torch.randn(3, 11, 10, dtype=torch.float64, requires_grad=True)
    y_ours, y_ref = ours(x), torch_conv(x)
    assert y_ours.shape == y_ref.shape == (8, 6, 5)
    torch.testing.assert_close(y_ours, y_ref)
    (g_ours,) = torch.autograd.grad(y_ours.square().sum(), x)
    (g_ref,) = torch.autograd.grad(y_ref.square().sum(), x)
    torch.testing.assert_close(g_ours, g_ref)


def test_empty_batch_matches_torch():
    torch_conv = torch.nn.Conv2d(16, 4, 3, padding=1)
    ours = Conv2d(16, 4, 3, padding=1)
    x = torch.randn(0, 16, 8, 8)
    assert ours(x).shape == torch_conv(x).shape == (0, 4, 8, 8)


# Bad inputs for Conv2d(3, 8, 3, padding=1) (or a 5x5 kernel for the last) that torch.nn.Conv2d
# also rejects; each message must name the layer, say what it expects and show the given shape.
BAD_INPUTS = [
    ((6, 32, 32), 3, r"expects input of shape \(batch, 3, height, width\) or \(3, height, width\); "
     r"got \(6, 32, 32\), which has 6 channels"),
    ((2, 4, 10, 10), 3, r"expects input of shape \(batch, 3, height, width\).*"
     r"got \(2, 4, 10, 10\), which has 4 channels"),
    ((10, 10), 3, r"expects a 4-D input \(batch, 3, height, width\) or a 3-D unbatched input "
     r"\(3, height, width\); got a 2-D input of shape \(10, 10\)"),
    ((1, 2, 3, 10, 10), 3, r"expects a 4-D input .* got a 5-D input of shape \(1, 2, 3, 10, 10\)"),
    ((1, 3, 3, 3), 5, r"the kernel spans 5 pixels in height, more than the padded input's 3 "
     r"\(height 3 \+ 2 \* padding 0\); input shape \(1, 3, 3, 3\)"),
]  # fmt: skip


@pytest.mark.parametrize("shape,kernel,message", BAD_INPUTS)
def test_bad_inputs_raise_clear_errors(shape, kernel, message):
    padding = 1 if kernel == 3 else 0
    x = torch.randn(*shape)
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(3, 8, kernel, padding=padding)(x)
    layer = Conv2d(3, 8, kernel, padding=padding)
    with pytest.raises(ValueError, match=re.escape(repr(layer)) + ":? " + message):
        layer(x)


def test_conv2d_function_rejects_bad_shapes():
    # under the test suite's jaxtyping checks, the channel mismatch is caught by the annotation
    with pytest.raises((ValueError, TypeCheckError)):
        conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="kernel spans 3 pixels"):
        conv2d(torch.randn(1, 3, 2, 2), torch.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="stride and dilation must be >= 1"):
        conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 3, 3, 3), stride=0)
    with pytest.raises((ValueError, TypeCheckError)):
        conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 3, 3, 3), method="fft")


def test_conv2d_init_scale_matches_torch():
    # torch's default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); compare spreads (74k samples)
    ours, ref = Conv2d(64, 128, 3), torch.nn.Conv2d(64, 128, 3)
    assert abs(ours.weight.std().item() / ref.weight.std().item() - 1) < 0.02
    assert ours.weight.abs().max() <= 1 / (64 * 9) ** 0.5
