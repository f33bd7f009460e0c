"""2-D convolution from scratch: `as_strided` windows + one matmul, with a hand-written backward.

Forward (cross-correlation, what deep-learning libraries call convolution):

    out[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] * x_pad[b, c, s_h*i + u, s_w*j + v]

We take the windows of the padded input as a strided view (`strided.sliding_windows`), lay them
out as a matrix `cols[b, (c u v), (i j)]` ("im2col") and multiply: `out[b] = W_mat @ cols[b]`.

Backward, with g = dL/dout:

    dL/dW_mat = sum_b g[b] @ cols[b]^T          (correlate the input with the output gradient)
    dL/dcols  = W_mat^T @ g[b]                   (one gradient per window entry)
    dL/dx     = fold(dL/dcols)                   (add window entries back to their pixels: col2im)
    dL/dbias  = sum_{b, i, j} g[b, :, i, j]

Letting autograd differentiate through `as_strided` works but is slow: its generic backward must
handle overlapping views pixel by pixel. The custom `torch.autograd.Function` below is what makes
this layer fast enough to train ResNets on a CPU (see benchmarks/bench_conv.py); it is checked with
`torch.autograd.gradcheck` in float64 (tests/nn/test_conv.py).

Used on days 11-14 (and the generative models of days 25-28).
"""

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn.strided import fold_windows, output_size, pad2d, pair, sliding_windows


def _im2col(
    x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[Tensor, tuple[int, ...], tuple[int, int]]:
    """cols[(c u v), (b i j)] = x_pad[b, c, s_h*i + u, s_w*j + v]: the only copy the forward makes.

    Returns (cols, padded spatial size, (out_h, out_w))."""
    b, c = x.shape[:2]
    x_pad = pad2d(x, padding)
    windows = sliding_windows(x_pad, kernel, stride)  # [b, c, oh, ow, kh, kw], a view
    out_h, out_w = windows.shape[2], windows.shape[3]
    cols = windows.permute(1, 4, 5, 0, 2, 3).reshape(c * kernel[0] * kernel[1], -1)
    return cols, tuple(x_pad.shape[2:]), (out_h, out_w)


def _channel_major_view(out: Tensor, b: int, out_h: int, out_w: int) -> Tensor:
    """[o, (b i j)] matrix -> [b, o, i, j] view (memory stays channel-major)."""
    return out.view(out.shape[0], b, out_h, out_w).permute(1, 0, 2, 3)


class _Conv2dFunction(torch.autograd.Function):
    """Autograd function for `conv2d`: forward = im2col + matmul, backward = matmuls + col2im.

    The batch is folded into the matmul's long side: `cols[(c u v), (b i j)]`, so each product is
    a single 2-D matmul with no hidden copies. The output therefore comes out channel-major
    (memory order c, b, i, j) and is returned as a permuted view with the usual [b, o, i, j]
    shape; every later op (and the next conv's `as_strided`) accepts any strides.

    For stride 1 the input gradient is itself a convolution ("full correlation"): pad g by
    k - 1 - p and correlate it with the kernel flipped in space and transposed in channels,

        dL/dx[b, c, y, x] = sum_{o, u, v} g_pad[b, o, y + u, x + v] * W[o, c, kh-1-u, kw-1-v]

    which is one im2col + one well-shaped matmul. Other strides use matmul + fold (col2im).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        b = x.shape[0]
        o, c, kh, kw = weight.shape
        cols, padded_size, (out_h, out_w) = _im2col(x, (kh, kw), stride, padding)
        out = weight.reshape(o, c * kh * kw) @ cols  # [o, (b oh ow)]
        if bias is not None:
            out += bias.view(o, 1)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = (x.shape, padded_size, stride, padding, (out_h, out_w))
        ctx.has_bias = bias is not None
        return _channel_major_view(out, b, out_h, out_w)

    @staticmethod
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        x_shape, padded_size, stride, padding, (out_h, out_w) = ctx.geometry
        b, c, h, w = x_shape
        o, _, kh, kw = weight.shape
        (ph, pw) = padding
        g = grad_out.permute(1, 0, 2, 3).reshape(o, b * out_h * out_w)  # free if channel-major
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            if stride == (1, 1) and ph < kh and pw < kw:
                g_cols, _, _ = _im2col(grad_out, (kh, kw), (1, 1), (kh - 1 - ph, kw - 1 - pw))
                w_flip = weight.flip(2, 3).transpose(0, 1).reshape(c, o * kh * kw)
                grad_x = _channel_major_view(w_flip @ g_cols, b, h, w)
            else:
                grad_cols = weight.reshape(o, c * kh * kw).t() @ g  # [(c kh kw), (b oh ow)]
                windows = grad_cols.view(c, kh, kw, b, out_h, out_w).permute(3, 0, 4, 5, 1, 2)
                grad_pad = fold_windows(windows, padded_size, stride, channel_major=True)
                grad_x = grad_pad[:, :, ph : ph + h, pw : pw + w]
        if ctx.needs_input_grad[1]:
            grad_w = (g @ cols.t()).view(o, c, kh, kw)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=1)
        return grad_x, grad_w, grad_b, None, None


def conv2d(
    x: Float[Tensor, "batch in_channels height width"],
    weight: Float[Tensor, "out_channels in_channels kh kw"],
    bias: Float[Tensor, " out_channels"] | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Float[Tensor, "batch out_channels out_h out_w"]:
    """2-D cross-correlation of `x` with `weight` (same semantics as `torch.nn.functional.conv2d`
    with groups=1, dilation=1, zero padding)."""
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"input has {x.shape[1]} channels, weight expects {weight.shape[1]}")
    stride, padding = pair(stride), pair(padding)
    for axis in (0, 1):  # validate early with a readable message
        output_size(x.shape[2 + axis], weight.shape[2 + axis], stride[axis], padding[axis])
    return _Conv2dFunction.apply(x, weight, bias, stride, padding)


def conv2d_autograd(
    x: Float[Tensor, "batch in_channels height width"],
    weight: Float[Tensor, "out_channels in_channels kh kw"],
    bias: Float[Tensor, " out_channels"] | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Float[Tensor, "batch out_channels out_h out_w"]:
    """The same convolution written with einsum and left to autograd (the slow, obvious version,
    kept for day 11's comparison)."""
    x_pad = pad2d(x, pair(padding))
    windows = sliding_windows(x_pad, (weight.shape[2], weight.shape[3]), pair(stride))
    out = torch.einsum("bchwuv,ocuv->bohw", windows, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class Conv2d(nn.Module):
    """A 2-D convolution layer; initialised like torch's (uniform in +-1/sqrt(fan_in))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kh, kw).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        )

    def forward(
        self, x: Float[Tensor, "batch in_channels height width"]
    ) -> Float[Tensor, "batch out_channels out_h out_w"]:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
        )
