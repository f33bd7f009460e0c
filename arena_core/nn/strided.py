"""Sliding windows with `torch.as_strided`, and their adjoint (summing windows back into an image).

A 2-D convolution or pooling layer looks at every `kh x kw` window of its (padded) input. Instead
of copying the windows out one by one, `as_strided` builds a *view* of the same memory with two
extra dimensions: for an input of strides `(sB, sC, sH, sW)` (in elements), a layer stride
`(s_h, s_w)` and a dilation `(d_h, d_w)` (the spacing of the kernel taps, 1 for a dense kernel),

    windows[b, c, i, j, u, v] = x[b, c, s_h * i + d_h * u, s_w * j + d_w * v]
    strides                    = (sB, sC, s_h * sH, s_w * sW, d_h * sH, d_w * sW)

No memory is copied until a matmul needs the windows laid out as a matrix ("im2col").

The backward pass of any windowed op needs the adjoint of that view: given one gradient per
window element, add each back to the pixel it came from ("col2im", `fold_windows`). We do it with
one strided slice-add per kernel offset `(u, v)`, which is `kh * kw` vectorised additions rather
than a Python loop over pixels, and avoids autograd's generic (and slow) `as_strided` backward.

`phase_split` prepares the input of conv.py's shifted matmuls: a zero-padded, channels-last copy
of the image, flattened to one row of channels per pixel and split by stride phase, in which
every kernel tap's pixels for all outputs form one contiguous range of rows; `phase_merge` is its
adjoint for the backward pass.

Used by `conv.py` and `pooling.py` (days 11-14) and, later, by the transposed convolution.
"""

from typing import NamedTuple

from jaxtyping import Float
from torch import Tensor

Pair = tuple[int, int]


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """`3 -> (3, 3)`; a pair stays a pair (kernel sizes, strides and paddings accept both)."""
    if isinstance(value, int):
        return (value, value)
    if len(value) != 2:
        raise ValueError(f"expected an int or a pair, got {value!r}")
    return (int(value[0]), int(value[1]))


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: floor((size + 2p - k) / s) + 1."""
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {kernel} with padding {padding} does not fit in an input of size {size}"
        )
    return out


def pad2d(
    x: Float[Tensor, "batch channels height width"],
    padding: tuple[int, int],
    value: float = 0.0,
) -> Float[Tensor, "batch channels padded_h padded_w"]:
    """Pad the last two dims by `padding = (ph, pw)` on each side with a constant `value`."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    b, c, h, w = x.shape
    if x.stride(0) < x.stride(1):  # channel-major input (what conv2d returns): keep that order,
        # so the next im2col reads long contiguous runs
        out = x.new_full((c, b, h + 2 * ph, w + 2 * pw), value).transpose(0, 1)
    else:
        out = x.new_full((b, c, h + 2 * ph, w + 2 * pw), value)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def sliding_windows(
    x: Float[Tensor, "batch channels height width"],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> Float[Tensor, "batch channels out_h out_w kh kw"]:
    """A strided view whose `[b, c, i, j]` entry is the `kh x kw` window at output pixel (i, j).

    `x` must already be padded; the view shares memory with `x` (no copy), whatever its layout.
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    out_h = output_size(h, dh * (kh - 1) + 1, sh, 0)
    out_w = output_size(w, dw * (kw - 1) + 1, sw, 0)
    sb, sc, s_h, s_w = x.stride()
    return x.as_strided(
        size=(b, c, out_h, out_w, kh, kw),
        stride=(sb, sc, sh * s_h, sw * s_w, dh * s_h, dw * s_w),
        storage_offset=x.storage_offset(),
    )


def fold_windows(
    windows: Float[Tensor, "batch channels out_h out_w kh kw"],
    image_size: tuple[int, int],
    stride: tuple[int, int],
    channel_major: bool = False,
    dilation: tuple[int, int] = (1, 1),
    channels_last: bool = False,
) -> Float[Tensor, "batch channels height width"]:
    """Adjoint of `sliding_windows`: add every window entry back to the pixel it was read from.

    `image_size` is the (padded) input size that the windows were taken from. Pixels that no
    window covers (when the stride does not divide the size) get zero. The result is a
    [b, c, h, w] tensor laid out in memory as [b, c, h, w] by default, as [c, b, h, w] with
    `channel_major` (the windows of `conv_transpose.py`) or as [b, h, w, c] with `channels_last`
    (the windows of `conv.py`'s im2col backward), so that the additions below read and write
    memory in the same order.
    """
    b, c, out_h, out_w, kh, kw = windows.shape
    sh, sw = stride
    dh, dw = dilation
    if channel_major:
        image = windows.new_zeros((c, b, *image_size)).transpose(0, 1)
    elif channels_last:
        image = windows.new_zeros((b, *image_size, c)).permute(0, 3, 1, 2)
    else:
        image = windows.new_zeros((b, c, *image_size))
    for u in range(kh):
        for v in range(kw):
            # pixels (sh*i + dh*u, sw*j + dw*v) for all output positions (i, j)
            y, x = dh * u, dw * v
            image[:, :, y : y + sh * (out_h - 1) + 1 : sh, x : x + sw * (out_w - 1) + 1 : sw] += (
                windows[:, :, :, :, u, v]
            )
    return image


# --- phase split: the views behind conv.py's shifted matmuls ---------------------------------


class PhaseGeometry(NamedTuple):
    """Where the phase-split input keeps its pixels and where each kernel tap reads them."""

    out_size: Pair
    grid: Pair  # (hq, wq): image b's cell (y', x') of a phase is row p*block + b*hq*wq + y'*wq + x'
    phases: list[tuple[int, Pair, Pair]]  # per phase: (first row, first real cell, first pixel)
    offsets: list[int]  # per tap (u, v): first row of the view it reads
    rows: int  # rows each view spans: up to the last real output of the last image


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """floor((size + 2p - d*(k - 1) - 1) / s) + 1 (may be < 1: callers check)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def grid_size(size: int, kernel: int, stride: int, padding: int, dilation: int, share: bool):
    """Cells per row (or rows per image) of the grid that the shifted views walk over.

    With stride s the padded size is split into s phases of ceil(padded / s) cells. With stride 1
    the zero padding can be *shared*: the reads that run off the left edge of a row land in the
    right-hand padding of the row before (and those above an image in the padding below the image
    before), so a row needs only max(left, right) padding cells instead of left + right. That
    makes the grid (and the wasted border outputs) smaller."""
    right = dilation * (kernel - 1) - padding  # padding needed after the last pixel
    if share and stride == 1 and right >= 0:
        return size + max(padding, right)
    return -(-(size + 2 * padding) // stride)


def phase_split(
    x: Tensor, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, share: bool = True
) -> tuple[Tensor, PhaseGeometry]:
    """Zero-pad x, channels last, split by stride phase, flattened to rows of channels.

    Phase (a, e) holds the padded pixels (y, x) = (s_h*y' + a, s_w*x' + e); image b's cell (y', x')
    is row p*block + b*hq*wq + y'*wq + x' of the result (p = the phase's index). Only phases some
    tap reads are kept; stride 1 has one phase: the padded image itself."""
    b, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    out_size = (conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw))
    hq = grid_size(h, kh, sh, ph, dh, share)
    wq = grid_size(w, kw, sw, pw, dw, share)
    row_phases = sorted({dh * u % sh for u in range(kh)})
    col_phases = sorted({dw * v % sw for v in range(kw)})
    # one phase's rows: up to the last padded cell of the last image
    block = (b - 1) * hq * wq + (-(-(h + 2 * ph) // sh) - 1) * wq + -(-(w + 2 * pw) // sw)
    x_rows = x.new_empty(len(row_phases) * len(col_phases) * block, c)
    phases = []
    for a in row_phases:
        for e in col_phases:
            # first phase cell that holds a real (unpadded) pixel, and that pixel
            yq, xq = max(0, -(-(ph - a) // sh)), max(0, -(-(pw - e) // sw))
            y0, x0 = sh * yq + a - ph, sw * xq + e - pw
            first = len(phases) * block
            src = x[:, :, y0::sh, x0::sw].permute(0, 2, 3, 1)
            place_cells(x_rows, first, first + block, (yq, xq), src, (hq, wq))
            phases.append((first, (yq, xq), (y0, x0)))
    offsets = []
    for u in range(kh):
        for v in range(kw):
            p = row_phases.index(dh * u % sh) * len(col_phases) + col_phases.index(dw * v % sw)
            offsets.append(p * block + (dh * u // sh) * wq + dw * v // sw)
    rows = (b - 1) * hq * wq + (out_size[0] - 1) * wq + out_size[1]
    return x_rows, PhaseGeometry(out_size, (hq, wq), phases, offsets, rows)


def phase_cells(rows: Tensor, first: int, cell: Pair, shape, grid: Pair) -> Tensor:
    """[b, n_y, n_x, c] view of a phase's cells from `cell` on (see `phase_split`)."""
    (hq, wq), c = grid, rows.shape[1]
    offset = rows.storage_offset() + (first + cell[0] * wq + cell[1]) * c
    return rows.as_strided((shape[0], shape[1], shape[2], c), (hq * wq * c, wq * c, c, 1), offset)


def place_cells(rows: Tensor, first: int, end: int, cell: Pair, src: Tensor, grid: Pair) -> None:
    """rows[first:end] := src ([b, n_y, n_x, c]) at `cell` of each image's grid, zeros elsewhere.

    Only the cells around the image are zeroed (a few strided fills), not the whole range."""
    (bn, ny, nx, c), wq, per_image = src.shape, grid[1], grid[0] * grid[1]
    phase_cells(rows, first, cell, src.shape, grid).copy_(src)
    start = first + cell[0] * wq + cell[1]  # row of image 0's first real cell
    if min(bn, ny, nx) == 0:
        rows[first:end].zero_()
        return
    last = start + (bn - 1) * per_image + (ny - 1) * wq + nx  # one past the last real cell
    rows[first:start].zero_()
    rows[last:end].zero_()

    def fill(size: tuple[int, ...], stride: tuple[int, ...], row: int) -> None:
        if min(size) > 0:
            rows.as_strided(size, stride, rows.storage_offset() + row * c).zero_()

    # from the end of one image row to the start of the next, then from image to image
    fill((bn, ny - 1, (wq - nx) * c), (per_image * c, wq * c, 1), start + nx)
    fill(
        (bn - 1, (per_image - (ny - 1) * wq - nx) * c),
        (per_image * c, 1),
        start + (ny - 1) * wq + nx,
    )


def phase_merge(grad_rows: Tensor, geo: PhaseGeometry, x_shape, stride: Pair) -> Tensor:
    """Adjoint of `phase_split`: the phases' rows back to one [b, c, h, w] image, no padding."""
    b, c, h, w = x_shape
    sh, sw = stride
    if stride == (1, 1):  # one phase: a view, no copy
        first, cell, _ = geo.phases[0]
        return phase_cells(grad_rows, first, cell, (b, h, w), geo.grid).permute(0, 3, 1, 2)
    grad_x = grad_rows.new_zeros(b, h, w, c)  # pixels that no tap reads get 0
    for first, cell, (y0, x0) in geo.phases:
        dst = grad_x[:, y0::sh, x0::sw]
        dst.copy_(phase_cells(grad_rows, first, cell, dst.shape, geo.grid))
    return grad_x.permute(0, 3, 1, 2)
