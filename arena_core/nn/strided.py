"""Sliding windows with `torch.as_strided`, and their adjoint (summing windows back into an image).

A 2-D convolution or pooling layer looks at every `kh x kw` window of its (padded) input. Instead
of copying the windows out one by one, `as_strided` builds a *view* of the same memory with two
extra dimensions: for an input of strides `(sB, sC, sH, sW)` (in elements) and a layer stride
`(s_h, s_w)`,

    windows[b, c, i, j, u, v] = x[b, c, s_h * i + u, s_w * j + v]
    strides                    = (sB, sC, s_h * sH, s_w * sW, sH, sW)

No memory is copied until a matmul needs the windows laid out as a matrix ("im2col").

The backward pass of any windowed op needs the adjoint of that view: given one gradient per
window element, add each back to the pixel it came from ("col2im", `fold_windows`). We do it with
one strided slice-add per kernel offset `(u, v)`, which is `kh * kw` vectorised additions rather
than a Python loop over pixels, and avoids autograd's generic (and slow) `as_strided` backward.

Used by `conv.py` and `pooling.py` (days 11-14) and, later, by the transposed convolution.
"""

from jaxtyping import Float
from torch import Tensor


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
) -> Float[Tensor, "batch channels out_h out_w kh kw"]:
    """A strided view whose `[b, c, i, j]` entry is the `kh x kw` window at output pixel (i, j).

    `x` must already be padded; the view shares memory with `x` (no copy).
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = stride
    out_h = output_size(h, kh, sh, 0)
    out_w = output_size(w, kw, sw, 0)
    sb, sc, s_h, s_w = x.stride()
    return x.as_strided(
        size=(b, c, out_h, out_w, kh, kw),
        stride=(sb, sc, sh * s_h, sw * s_w, s_h, s_w),
        storage_offset=x.storage_offset(),
    )


def fold_windows(
    windows: Float[Tensor, "batch channels out_h out_w kh kw"],
    image_size: tuple[int, int],
    stride: tuple[int, int],
    channel_major: bool = False,
) -> Float[Tensor, "batch channels height width"]:
    """Adjoint of `sliding_windows`: add every window entry back to the pixel it was read from.

    `image_size` is the (padded) input size that the windows were taken from. Pixels that no
    window covers (when the stride does not divide the size) get zero. With `channel_major`, the
    result is laid out in memory as [c, b, h, w] (returned as a [b, c, h, w] view), which matches
    the memory order of the windows that `conv.py`'s backward produces.
    """
    b, c, out_h, out_w, kh, kw = windows.shape
    sh, sw = stride
    if channel_major:
        image = windows.new_zeros((c, b, *image_size)).transpose(0, 1)
    else:
        image = windows.new_zeros((b, c, *image_size))
    for u in range(kh):
        for v in range(kw):
            # pixels (sh*i + u, sw*j + v) for all output positions (i, j)
            image[:, :, u : u + sh * (out_h - 1) + 1 : sh, v : v + sw * (out_w - 1) + 1 : sw] += (
                windows[:, :, :, :, u, v]
            )
    return image
