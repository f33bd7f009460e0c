"""Pooling from scratch: max pooling, average pooling and adaptive (global) average pooling.

Max and average pooling read the same `as_strided` windows as the convolution
(`strided.sliding_windows`) and reduce over the last two window dimensions:

    max:  out[b, c, i, j] = max_{u, v} x_pad[b, c, s_h*i + u, s_w*j + v]   (x_pad padded with -inf)
    avg:  out[b, c, i, j] = (1 / (kh*kw)) * sum_{u, v} x_pad[...]          (zero padding counted,
                                                                            like torch's default)

Their backward passes send the output gradient back through the windows with
`strided.fold_windows`: max pooling routes each gradient to the arg-max of its window, average
pooling spreads it evenly. Both are custom autograd functions because autograd's generic backward
through `as_strided` is slow.

Adaptive average pooling picks window edges so that any input size maps to a fixed output size
(torch's rule: start = floor(i*H/out_h), end = ceil((i+1)*H/out_h)); ResNets use its 1x1 case,
global average pooling, before the classifier head.

Every pool takes a batch (N, C, H, W) or, as torch does, one unbatched image (C, H, W), and
refuses any other rank with a ValueError that names the layer. Days 11-14.
"""

import math

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn.strided import fold_windows, output_size, pad2d, pair, sliding_windows


class _MaxPool2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        x_pad = pad2d(x, padding, value=-math.inf)
        windows = sliding_windows(x_pad, kernel, stride)
        b, c, out_h, out_w, kh, kw = windows.shape
        values, index = windows.reshape(b, c, out_h, out_w, kh * kw).max(dim=-1)
        ctx.save_for_backward(index)
        ctx.geometry = (x.shape, x_pad.shape[2:], kernel, stride, padding)
        return values

    @staticmethod
    def backward(ctx, grad_out):
        (index,) = ctx.saved_tensors
        x_shape, padded_size, (kh, kw), stride, (ph, pw) = ctx.geometry
        b, c, out_h, out_w = grad_out.shape
        grad_windows = grad_out.new_zeros((b, c, out_h, out_w, kh * kw))
        grad_windows.scatter_(-1, index.unsqueeze(-1), grad_out.unsqueeze(-1))
        grad_windows = grad_windows.view(b, c, out_h, out_w, kh, kw)
        grad_pad = fold_windows(grad_windows, tuple(padded_size), stride)
        return grad_pad[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]], None, None, None


class _AvgPool2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        x_pad = pad2d(x, padding)
        windows = sliding_windows(x_pad, kernel, stride)
        ctx.geometry = (x.shape, x_pad.shape[2:], kernel, stride, padding)
        return windows.sum(dim=(-2, -1)) / (kernel[0] * kernel[1])

    @staticmethod
    def backward(ctx, grad_out):
        x_shape, padded_size, (kh, kw), stride, (ph, pw) = ctx.geometry
        # every window entry receives grad / (kh*kw); expand is a view, fold does the adding
        share = (grad_out / (kh * kw))[..., None, None].expand(*grad_out.shape, kh, kw)
        grad_pad = fold_windows(share, tuple(padded_size), stride)
        return grad_pad[:, :, ph : ph + x_shape[2], pw : pw + x_shape[3]], None, None, None


def _pool_args(kernel_size, stride, padding, x_shape):
    kernel = pair(kernel_size)
    stride = kernel if stride is None else pair(stride)
    padding = pair(padding)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding {padding} must be at most half the kernel {kernel}")
    for axis in (0, 1):
        output_size(x_shape[2 + axis], kernel[axis], stride[axis], padding[axis])
    return kernel, stride, padding


def _batched(x: Tensor, who: str) -> Tensor:
    """A batch (N, C, H, W) as it is, one unbatched image (C, H, W) as a batch of one.

    torch's 2-D pools accept both; any other rank would otherwise index the wrong dims and return
    a silently wrong shape, so it is refused here (a shape check only, no tensor op).
    """
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return x.unsqueeze(0)
    raise ValueError(
        f"{who} expects a 4-D input (N, C, H, W) or an unbatched 3-D input (C, H, W), "
        f"got shape {tuple(x.shape)}"
    )


def _like_input(out: Tensor, x: Tensor) -> Tensor:
    """Drop the batch dim that `_batched` added to an unbatched input."""
    return out if x.ndim == 4 else out.squeeze(0)


def _window_pool(function, x, kernel_size, stride, padding, who):
    xb = _batched(x, who)
    out = function.apply(xb, *_pool_args(kernel_size, stride, padding, xb.shape))
    return _like_input(out, x)


def _adaptive_avg_pool(x, output_size, who):
    out_h, out_w = pair(output_size)
    xb = _batched(x, who)
    h, w = xb.shape[2], xb.shape[3]
    if (out_h, out_w) == (1, 1):  # global average pooling: the common case, one reduction
        return _like_input(xb.mean(dim=(2, 3), keepdim=True), x)
    rows = [(i * h // out_h, -(-(i + 1) * h // out_h)) for i in range(out_h)]  # floor, ceil
    cols = [(j * w // out_w, -(-(j + 1) * w // out_w)) for j in range(out_w)]
    cells = [
        torch.stack([xb[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for c0, c1 in cols], dim=-1)
        for r0, r1 in rows
    ]
    return _like_input(torch.stack(cells, dim=-2), x)


def max_pool2d(
    x: Float[Tensor, "*batch channels height width"],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Float[Tensor, "*batch channels out_h out_w"]:
    """Max over each window; `stride` defaults to the kernel size (as in torch)."""
    return _window_pool(_MaxPool2dFunction, x, kernel_size, stride, padding, "max_pool2d")


def avg_pool2d(
    x: Float[Tensor, "*batch channels height width"],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Float[Tensor, "*batch channels out_h out_w"]:
    """Mean over each window, zero padding included in the count (torch's default)."""
    return _window_pool(_AvgPool2dFunction, x, kernel_size, stride, padding, "avg_pool2d")


def adaptive_avg_pool2d(
    x: Float[Tensor, "*batch channels height width"], output_size: int | tuple[int, int]
) -> Float[Tensor, "*batch channels out_h out_w"]:
    """Average over adaptive windows so that the output is exactly `output_size`."""
    return _adaptive_avg_pool(x, output_size, "adaptive_avg_pool2d")


class MaxPool2d(nn.Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(
        self, x: Float[Tensor, "*batch channels height width"]
    ) -> Float[Tensor, "*batch channels out_h out_w"]:
        return _window_pool(
            _MaxPool2dFunction, x, self.kernel_size, self.stride, self.padding, "MaxPool2d"
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    def forward(
        self, x: Float[Tensor, "*batch channels height width"]
    ) -> Float[Tensor, "*batch channels out_h out_w"]:
        return _window_pool(
            _AvgPool2dFunction, x, self.kernel_size, self.stride, self.padding, "AvgPool2d"
        )


class AdaptiveAvgPool2d(nn.Module):
    def __init__(self, output_size: int | tuple[int, int]):
        super().__init__()
        self.output_size = output_size

    def forward(
        self, x: Float[Tensor, "*batch channels height width"]
    ) -> Float[Tensor, "*batch channels out_h out_w"]:
        return _adaptive_avg_pool(x, self.output_size, "AdaptiveAvgPool2d")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool(nn.Module):
    """Mean over all spatial positions, [b, c, h, w] -> [b, c] (ResNet's pool before the head);
    an unbatched [c, h, w] gives [c]."""

    def forward(
        self, x: Float[Tensor, "*batch channels height width"]
    ) -> Float[Tensor, "*batch channels"]:
        _batched(x, "GlobalAvgPool")  # rank check only: the mean below works for both ranks
        return x.mean(dim=(-2, -1))
