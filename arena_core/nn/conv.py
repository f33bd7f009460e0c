"""2-D convolution from scratch: strided views of the padded input + matmuls, hand-written backward.

Forward (cross-correlation, what deep-learning libraries call convolution), with stride s,
dilation d (the spacing of the kernel taps; 1 for a dense kernel) and a zero-padded input x_pad:

    out[b, o, i, j] = bias[o] + sum_{c,u,v} W[o,c,u,v] * x_pad[b, c, s_h*i + d_h*u, s_w*j + d_w*v]

Two ways to turn this sum into matrix multiplies live here. Both keep images in *channels-last*
memory (b, h, w, c), so that the channels of one pixel, the matmul's inner dimension, are
contiguous; outputs are [b, o, h, w]-shaped views of that memory, which every later op accepts.

1. im2col, one big matmul (`method="im2col"`, day 11's version). The windows of the padded input
   are a strided view (`strided.sliding_windows`); copying them out as a matrix
   `cols[(b i j), (u v c)]` and reading the weight as `W_mat[o, (u v c)]` turns the convolution
   into `out = cols @ W_mat^T`. Backward, with g = dL/dout as a matrix `g[(b i j), o]`:

       dL/dW_mat = g^T @ cols,   dL/dcols = g @ W_mat,   dL/dx = fold(dL/dcols)

   where fold (`strided.fold_windows`, "col2im") adds every window entry back to its pixel.
   Simple, but `cols` is kh*kw times the size of the input: 9x for a 3x3 kernel.

2. Shifted matmuls (`method="shifted"`). Fix one kernel tap (u, v): the pixels it reads for
   all output positions, x_pad[b, s_h*i + d_h*u, s_w*j + d_w*v, :], are one strided view of the
   input, and its contribution to the output is that view times W[:, :, u, v]^T. So

       out = sum_{u, v} view_{u,v}(x_pad) @ W[:, :, u, v]^T          (kh*kw matmuls, no copies)

   For stride 1 the views are plain row ranges of the flattened padded image, shifted by
   d_h*u*width + d_w*v rows: the output is computed on the padded grid and the few border cells
   are thrown away (rows and images share their zero padding to keep that border thin; see
   `grid_size`). For stride s the padded input is first split into its s_h*s_w "phases" (pixels
   with the same (y mod s_h, x mod s_w)); each tap then reads a shifted row range of one phase.
   Backward runs the same shifts in reverse, with g placed on the same grid (zeros on the border):

       dL/dW[:, :, u, v] = g^T @ view_{u,v}(x_pad),    dL/dview_{u,v}(x_pad) += g @ W[:, :, u, v]

   There is no kh*kw-sized buffer to write and read back, which is what made im2col slow on the
   thin layers of day 14's ResNet (see benchmarks/RESULTS.md). Shifted matmuls lose when the input
   has very few channels (each matmul is then a sliver), very many (one matmul over all taps
   then runs faster than kh*kw passes over the output) or when the output is tiny next to its
   grid, so `conv2d`'s default method="auto" uses im2col there.

Letting autograd differentiate through `as_strided` would also work but is slow: its generic
backward must handle overlapping views pixel by pixel; hence the two `torch.autograd.Function`s,
checked against `torch.nn.functional.conv2d` and with `gradcheck` in tests/nn/test_conv.py.

Used on days 11-14 (and the generative models of days 25-28).
"""

import math
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from arena_core.nn.strided import (
    Pair,
    conv_output_size,
    fold_windows,
    grid_size,
    pad2d,
    pair,
    phase_merge,
    phase_split,
    place_cells,
    sliding_windows,
)


def _taps_last(weight: Tensor) -> Tensor:
    """[o, c, kh, kw] -> [o, kh*kw, c]: channels innermost, like the images."""
    o, c, kh, kw = weight.shape
    return weight.permute(0, 2, 3, 1).reshape(o, kh * kw, c)


def _use_shifted(x: Tensor, weight: Tensor, stride: Pair, padding: Pair, dilation: Pair) -> bool:
    """Shifted matmuls for 8 to 128 input channels, where im2col's kh*kw-times-larger buffer costs
    more than the matmuls; im2col when each tap's matmul would be a sliver (fewer channels), when
    a single matmul over all taps is the faster one (more channels), or when the grid is much
    larger than the output (tiny feature maps). Thresholds measured with benchmarks/bench_conv.py
    on a 2-core x86 CPU."""
    (kh, kw), (sh, sw) = weight.shape[2:], stride
    out_h = conv_output_size(x.shape[2], kh, sh, padding[0], dilation[0])
    out_w = conv_output_size(x.shape[3], kw, sw, padding[1], dilation[1])
    hq = grid_size(x.shape[2], kh, sh, padding[0], dilation[0], share=True)
    wq = grid_size(x.shape[3], kw, sw, padding[1], dilation[1], share=True)
    return 8 <= x.shape[1] <= 128 and hq * wq <= 1.4 * out_h * out_w


class _ShiftedConv2dFunction(torch.autograd.Function):
    """conv2d as kh*kw shifted matmuls on the phase-split input (method 2 of the docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        o, c, kh, kw = weight.shape
        x_rows, geo = phase_split(x, (kh, kw), stride, padding, dilation)
        # W[:, :, u, v] for every tap as [o, tap, c]: a per-filter reorder, cheap even for big
        # weights, and each tap's [o, c] slice is a valid matmul operand with no further copy
        w_taps = _taps_last(weight)
        (hq, wq), n = geo.grid, geo.rows
        out = x.new_empty(x.shape[0] * hq * wq, o)  # one row per grid cell, channels last
        acc = out[:n]
        for tap, offset in enumerate(geo.offsets):
            view = x_rows[offset : offset + n]  # what tap (u, v) reads, for every output
            if tap > 0:
                acc.addmm_(view, w_taps[:, tap].t())
            elif bias is None:
                torch.mm(view, w_taps[:, 0].t(), out=acc)
            else:
                torch.addmm(bias, view, w_taps[:, 0].t(), out=acc)
        ctx.save_for_backward(x_rows, w_taps)
        ctx.geometry, ctx.x_shape, ctx.stride, ctx.kernel = geo, x.shape, stride, (kh, kw)
        ctx.has_bias = bias is not None
        out_h, out_w = geo.out_size
        out = out.view(x.shape[0], hq, wq, o)[:, :out_h, :out_w].permute(0, 3, 1, 2)
        # drop the grid's border cells: the next layers run faster on dense memory
        return out.contiguous(memory_format=torch.channels_last)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x_rows, w_taps = ctx.saved_tensors
        geo, (b, c, h, w), (sh, sw) = ctx.geometry, ctx.x_shape, ctx.stride
        (hq, wq), (out_h, out_w), n = geo.grid, geo.out_size, geo.rows
        o, kk, _ = w_taps.shape
        # g on the output grid; the cells outside the real output stay zero, so the shifted
        # matmuls below may read them freely
        if (out_h, out_w) == (hq, wq):
            g = grad_out.permute(0, 2, 3, 1).reshape(-1, o)
        else:
            g = grad_out.new_empty(n, o)
            place_cells(g, 0, n, (0, 0), grad_out.permute(0, 2, 3, 1), (hq, wq))
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            if len(geo.phases) == 1 and geo.offsets[0] == 0:  # tap (0, 0) covers rows [0, n)
                grad_rows = torch.empty_like(x_rows)
                torch.mm(g, w_taps[:, 0], out=grad_rows[:n])
                grad_rows[n:].zero_()
            else:
                grad_rows = torch.zeros_like(x_rows)
                grad_rows[geo.offsets[0] : geo.offsets[0] + n].addmm_(g, w_taps[:, 0])
            for tap, offset in enumerate(geo.offsets[1:], start=1):
                grad_rows[offset : offset + n].addmm_(g, w_taps[:, tap])
            grad_x = phase_merge(grad_rows, geo, (b, c, h, w), (sh, sw))
            grad_x = grad_x.contiguous(memory_format=torch.channels_last)
        if ctx.needs_input_grad[1]:
            grad_taps = w_taps.new_empty(kk, o, c)
            for tap, offset in enumerate(geo.offsets):
                torch.mm(g.t(), x_rows[offset : offset + n], out=grad_taps[tap])
            grad_w = grad_taps.permute(1, 2, 0).reshape(o, c, *ctx.kernel)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=0)
        return grad_x, grad_w, grad_b, None, None, None


class _Im2colConv2dFunction(torch.autograd.Function):
    """conv2d as im2col + one matmul, backward as matmuls + fold (method 1 of the docstring)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation):
        b = x.shape[0]
        o, c, kh, kw = weight.shape
        x_rows, geo = phase_split(x, (kh, kw), (1, 1), padding, dilation, share=False)
        x_pad = x_rows.view(b, *geo.grid, c).permute(0, 3, 1, 2)  # padded, channels last
        windows = sliding_windows(x_pad, (kh, kw), stride, dilation)  # [b, c, oh, ow, kh, kw]
        out_h, out_w = windows.shape[2:4]
        cols = windows.permute(0, 2, 3, 4, 5, 1).reshape(b * out_h * out_w, kh * kw * c)  # copy
        w_mat = _taps_last(weight).reshape(o, kh * kw * c)  # columns in the (u v c) order
        out = cols @ w_mat.t() if bias is None else torch.addmm(bias, cols, w_mat.t())
        ctx.save_for_backward(cols, w_mat)
        ctx.geometry = (x.shape, tuple(x_pad.shape[2:]), (kh, kw), stride, padding, dilation)
        ctx.has_bias = bias is not None
        return out.view(b, out_h, out_w, o).permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        cols, w_mat = ctx.saved_tensors
        (b, c, h, w), padded_size, (kh, kw), stride, (ph, pw), dilation = ctx.geometry
        o, out_h, out_w = grad_out.shape[1:]
        g = grad_out.permute(0, 2, 3, 1).reshape(-1, o)  # [(b i j), o]
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_cols = (g @ w_mat).view(b, out_h, out_w, kh, kw, c)
            windows = grad_cols.permute(0, 5, 1, 2, 3, 4)  # [b, c, oh, ow, kh, kw]
            grad_pad = fold_windows(
                windows, padded_size, stride, dilation=dilation, channels_last=True
            )
            grad_x = grad_pad[:, :, ph : ph + h, pw : pw + w]
            grad_x = grad_x.contiguous(memory_format=torch.channels_last)
        if ctx.needs_input_grad[1]:
            grad_w = (g.t() @ cols).view(o, kh, kw, c).permute(0, 3, 1, 2).contiguous()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=0)
        return grad_x, grad_w, grad_b, None, None, None


def _check_input(
    x: Tensor,
    weight_shape: torch.Size,
    bias: Tensor | None,
    padding: Pair,
    dilation: Pair,
    name: object,
) -> None:
    """Cheap shape checks with messages that name the layer (`name`, formatted only on error),
    what it expects and what it got."""
    o, c, kh, kw = weight_shape
    shape = tuple(x.shape)
    if x.dim() not in (3, 4):
        raise ValueError(
            f"{name} expects a 4-D input (batch, {c}, height, width) or a 3-D unbatched input "
            f"({c}, height, width); got a {x.dim()}-D input of shape {shape}"
        )
    if x.shape[-3] != c:
        raise ValueError(
            f"{name} expects input of shape (batch, {c}, height, width) or ({c}, height, width); "
            f"got {shape}, which has {x.shape[-3]} channels"
        )
    if bias is not None and tuple(bias.shape) != (o,):
        raise ValueError(f"{name}: bias must have shape ({o},), got {tuple(bias.shape)}")
    for axis, (size, k, p, d) in enumerate(
        zip(x.shape[-2:], (kh, kw), padding, dilation, strict=True)
    ):
        reach = d * (k - 1) + 1  # extent of the (dilated) kernel
        if size + 2 * p < reach:
            dim = "height" if axis == 0 else "width"
            raise ValueError(
                f"{name}: the kernel spans {reach} pixels in {dim}, more than the padded input's "
                f"{size + 2 * p} ({dim} {size} + 2 * padding {p}); input shape {shape}"
            )


def _conv2d(x, weight, bias, stride, padding, dilation, method: str) -> Tensor:
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation) or any(p < 0 for p in padding):
        raise ValueError(
            f"stride and dilation must be >= 1 and padding >= 0; got stride={stride}, "
            f"padding={padding}, dilation={dilation}"
        )
    unbatched = x.dim() == 3
    if unbatched:  # (C, H, W) -> (1, C, H, W) and back, as torch does
        x = x.unsqueeze(0)
    if method == "auto":
        method = "shifted" if _use_shifted(x, weight, stride, padding, dilation) else "im2col"
    if x.shape[0] == 0 and method == "shifted":  # an empty batch has no grid to shift over
        method = "im2col"
    if method not in ("shifted", "im2col"):
        raise ValueError(f"method must be 'auto', 'shifted' or 'im2col', got {method!r}")
    fn = _ShiftedConv2dFunction if method == "shifted" else _Im2colConv2dFunction
    out = fn.apply(x, weight, bias, stride, padding, dilation)
    return out.squeeze(0) if unbatched else out


def conv2d(
    x: Float[Tensor, "*batch in_channels height width"],
    weight: Float[Tensor, "out_channels in_channels kh kw"],
    bias: Float[Tensor, " out_channels"] | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    method: Literal["auto", "shifted", "im2col"] = "auto",
) -> Float[Tensor, "*batch out_channels out_h out_w"]:
    """2-D cross-correlation of `x` with `weight` (same semantics as `torch.nn.functional.conv2d`
    with groups=1 and zero padding; a 3-D `x` is one unbatched image). `method` picks shifted
    matmuls or im2col (see the module docstring); "auto" takes the faster for the shapes."""
    padding, dilation = pair(padding), pair(dilation)
    _check_input(x, weight.shape, bias, padding, dilation, "conv2d")
    return _conv2d(x, weight, bias, pair(stride), padding, dilation, method)


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
    """A 2-D convolution layer; initialised like torch's (uniform in +-1/sqrt(fan_in)).

    Accepts batched (batch, in_channels, H, W) or unbatched (in_channels, H, W) input, like
    `torch.nn.Conv2d`; other shapes raise a ValueError that names the layer."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        self.dilation = pair(dilation)
        kh, kw = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * kh * kw)
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kh, kw).uniform_(-bound, bound)
        )
        self.bias = (
            nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, x: Float[Tensor, "..."]) -> Float[Tensor, "*batch out_channels out_h out_w"]:
        # x is annotated loosely on purpose: the shape check below gives the clearer message
        _check_input(x, self.weight.shape, self.bias, self.padding, self.dilation, self)
        return _conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, "auto")

    def extra_repr(self) -> str:
        dilation = "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}{dilation}, "
            f"bias={self.bias is not None}"
        )
