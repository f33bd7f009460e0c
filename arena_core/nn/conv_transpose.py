"""Transposed 2-D convolution from scratch: a matmul and a fold, with a hand-written backward.

A convolution with stride s maps each `kh x kw` input window to one output pixel. Its transpose
goes the other way: every input pixel *paints* a `kh x kw` patch, scaled by the kernel, onto an
output canvas, patches `s` pixels apart, and overlapping paint adds up:

    canvas[b, o, s_h*i + u, s_w*j + v] += sum_c x[b, c, i, j] * W[c, o, u, v]
    out = canvas[:, :, p_h : p_h + H_out, p_w : p_w + W_out] + bias
    H_out = (H - 1) * s_h - 2 p_h + kh + output_padding_h

(`W` has torch's transposed layout `[in_channels, out_channels, kh, kw]`.) "Padding" therefore
*crops* the canvas, and `output_padding` (< stride) adds rows/columns at the end that no patch
reaches, which only picks an output size when several input sizes map to the same conv output.

Forward: `cols[(o u v), (b i j)] = W_mat^T @ x_mat` gives every patch at once, and
`strided.fold_windows` (the adjoint of `as_strided` windows, also conv2d's col2im) adds the
patches onto the canvas. This is exactly conv2d's input-gradient computation, which is why the
layer is called the transpose.

Backward, with g = dL/dout placed back on the (uncropped) canvas as g_canvas:

    windows = sliding_windows(g_canvas, k, s)      -> gcols[(o u v), (b i j)]  (im2col of g)
    dL/dx   = W_mat @ gcols                        (an ordinary strided convolution of g)
    dL/dW   = x_mat @ gcols^T
    dL/db   = sum_{b, y, x} g

Days 25-27 (the decoders of the autoencoder and VAE, and the DCGAN generator). Checked against
`torch.nn.functional.conv_transpose2d` and with `gradcheck` in tests/nn/test_conv_transpose.py.
"""

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn.strided import fold_windows, pair, sliding_windows


def transposed_output_size(size: int, kernel: int, stride: int, padding: int, out_pad: int) -> int:
    """H_out = (H - 1) * s - 2p + k + output_padding."""
    out = (size - 1) * stride - 2 * padding + kernel + out_pad
    if out < 1:
        raise ValueError(
            f"padding {padding} crops away everything (size {size}, kernel {kernel}, "
            f"stride {stride})"
        )
    return out


class _ConvTranspose2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding):
        b, c, h, w = x.shape
        _, o, kh, kw = weight.shape
        (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
        canvas_size = ((h - 1) * sh + kh + oph, (w - 1) * sw + kw + opw)
        out_h, out_w = canvas_size[0] - 2 * ph, canvas_size[1] - 2 * pw
        x_mat = x.permute(1, 0, 2, 3).reshape(c, b * h * w)
        cols = weight.reshape(c, o * kh * kw).t() @ x_mat  # [(o u v), (b i j)]
        patches = cols.view(o, kh, kw, b, h, w).permute(3, 0, 4, 5, 1, 2)  # [b, o, i, j, u, v]
        canvas = fold_windows(patches, canvas_size, stride, channel_major=True)
        out = canvas[:, :, ph : ph + out_h, pw : pw + out_w]
        out = out + bias.view(1, o, 1, 1) if bias is not None else out.contiguous()
        ctx.save_for_backward(x_mat, weight)
        ctx.geometry = (x.shape, canvas_size, stride, padding, (out_h, out_w))
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x_mat, weight = ctx.saved_tensors
        (b, c, h, w), canvas_size, stride, (ph, pw), (out_h, out_w) = ctx.geometry
        _, o, kh, kw = weight.shape
        g_canvas = grad_out.new_zeros((b, o, *canvas_size))
        g_canvas[:, :, ph : ph + out_h, pw : pw + out_w] = grad_out
        # output_padding < stride, so the windows along each axis number exactly h (and w)
        windows = sliding_windows(g_canvas, (kh, kw), stride)[:, :, :h, :w]
        gcols = windows.permute(1, 4, 5, 0, 2, 3).reshape(o * kh * kw, b * h * w)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (weight.reshape(c, o * kh * kw) @ gcols).view(c, b, h, w).permute(1, 0, 2, 3)
        if ctx.needs_input_grad[1]:
            grad_w = (x_mat @ gcols.t()).view(c, o, kh, kw)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None


def _conv_transpose(x, weight, bias, stride, padding, output_padding, who):
    """Shape checks, then the autograd function on a batch; `who` names the caller in errors.

    Like torch, an unbatched image (C, H, W) is accepted and treated as a batch of one.
    """
    if weight.ndim != 4:
        raise ValueError(
            f"{who} expects a 4-D weight (in_channels, out_channels, kh, kw), "
            f"got shape {tuple(weight.shape)}"
        )
    c_in = weight.shape[0]
    if x.ndim not in (3, 4) or x.shape[-3] != c_in:
        raise ValueError(
            f"{who} expects a 4-D input (N, {c_in}, H, W) or an unbatched 3-D input "
            f"({c_in}, H, W), got shape {tuple(x.shape)}"
        )
    xb = x if x.ndim == 4 else x.unsqueeze(0)
    stride, padding, output_padding = pair(stride), pair(padding), pair(output_padding)
    for axis in (0, 1):
        if not 0 <= output_padding[axis] < stride[axis]:
            raise ValueError(f"output_padding must be in [0, stride), got {output_padding}")
        transposed_output_size(
            xb.shape[2 + axis],
            weight.shape[2 + axis],
            stride[axis],
            padding[axis],
            output_padding[axis],
        )
    out = _ConvTranspose2dFunction.apply(xb, weight, bias, stride, padding, output_padding)
    return out if x.ndim == 4 else out.squeeze(0)


def conv_transpose2d(
    x: Float[Tensor, "*batch in_channels height width"],
    weight: Float[Tensor, "in_channels out_channels kh kw"],
    bias: Float[Tensor, " out_channels"] | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
) -> Float[Tensor, "*batch out_channels out_h out_w"]:
    """Same semantics as `torch.nn.functional.conv_transpose2d` (groups=1, dilation=1), including
    unbatched (C, H, W) inputs."""
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, "conv_transpose2d")


class ConvTranspose2d(nn.Module):
    """Transposed convolution layer, initialised like torch's (uniform in +-1/sqrt(fan_in), where
    torch's fan_in for this layer is `out_channels * kh * kw`, the size of weight[i])."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = pair(kernel_size), pair(stride)
        self.padding, self.output_padding = pair(padding), pair(output_padding)
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(out_channels * kh * kw)
        self.weight = nn.Parameter(
            torch.empty(in_channels, out_channels, kh, kw).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        )

    def forward(
        self, x: Float[Tensor, "*batch in_channels height width"]
    ) -> Float[Tensor, "*batch out_channels out_h out_w"]:
        who = f"ConvTranspose2d({self.in_channels}, {self.out_channels})"
        return _conv_transpose(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding, who
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, "
            f"output_padding={self.output_padding}, bias={self.bias is not None}"
        )
