"""Named reshapes with einops: image grids and patches.

einops writes a reshape as a sentence about axes, so the intent is visible and a wrong shape fails
loudly instead of silently scrambling pixels:

    rearrange(x, "(gh gw) c h w -> c (gh h) (gw w)", gw=8)   # a batch of images -> one grid image
    rearrange(x, "b c (nh p) (nw q) -> b (nh nw) (c p q)")   # images -> flattened patches (ViT)

Compare the same operation written by hand: `x.reshape(gh, gw, c, h, w).permute(2, 0, 3, 1, 4)
.reshape(c, gh * h, gw * w)` — correct, but the axis order 2, 0, 3, 1, 4 has to be worked out.

Used by day 2 (ARENA 0.0 prerequisites) and by later days that show image grids (VAEs, GANs).
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from jaxtyping import Float
from torch import Tensor


def make_grid(
    images: Float[Tensor, "b c h w"], nrow: int = 8, padding: int = 0, pad_value: float = 0.0
) -> Float[Tensor, "c H W"]:
    """Tile a batch of images into one image with `nrow` images per row (torchvision layout).

    Each cell gets `padding` pixels of `pad_value` above and to the left, and the grid one more
    strip below and to the right, so images are separated by exactly `padding` pixels. Missing
    cells in the last row are filled with `pad_value`.
    """
    b = images.shape[0]
    if b == 0:
        raise ValueError("make_grid needs at least one image")
    cols = min(nrow, b)
    rows = math.ceil(b / cols)
    if rows * cols > b:
        filler = images.new_full((rows * cols - b, *images.shape[1:]), pad_value)
        images = torch.cat([images, filler])
    if padding:
        # F.pad takes (left, right, top, bottom) for the last two dims
        images = F.pad(images, (padding, 0, padding, 0), value=pad_value)
    grid = rearrange(images, "(gh gw) c h w -> c (gh h) (gw w)", gw=cols)
    if padding:
        grid = F.pad(grid, (0, padding, 0, padding), value=pad_value)
    return grid


def patchify(images: Float[Tensor, "b c h w"], patch: int) -> Float[Tensor, "b n_patches d"]:
    """Split images into non-overlapping patch x patch squares, each flattened in (c, p, q) order,
    patches listed row by row — the layout of F.unfold and of ViT's patch embedding."""
    return rearrange(images, "b c (nh p) (nw q) -> b (nh nw) (c p q)", p=patch, q=patch)


def unpatchify(
    patches: Float[Tensor, "b n_patches d"], patch: int, height: int, channels: int
) -> Float[Tensor, "b c h w"]:
    """Inverse of `patchify` for images `height` pixels tall (the width follows from the count)."""
    return rearrange(
        patches,
        "b (nh nw) (c p q) -> b c (nh p) (nw q)",
        nh=height // patch,
        p=patch,
        q=patch,
        c=channels,
    )
