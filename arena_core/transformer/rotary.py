"""Rotary position embeddings, RoPE (Su et al. 2021) — used by the Llama family (days 30–32).

Each pair of query/key coordinates (i, i + d/2) is rotated by the angle pos * theta^(-2i/d), so
q·k depends only on the relative offset. We use the "rotate half" pairing of GPT-NeoX and
HuggingFace's Llama (not the adjacent pairs of the original paper); both are the same model up to
a permutation of the head dimensions, but weights are only interchangeable with the matching one.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor


def rotary_angles(
    positions: Int[Tensor, "batch pos"], d_head: int, base: float
) -> tuple[Float[Tensor, "batch pos d_head"], Float[Tensor, "batch pos d_head"]]:
    """cos and sin of pos * base^(-2i/d_head), each frequency repeated for both halves."""
    inv_freq = base ** (-torch.arange(0, d_head, 2, device=positions.device).double() / d_head)
    angles = positions.double()[..., None] * inv_freq  # [batch pos d_head/2]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rotary(
    x: Float[Tensor, "batch pos heads d_head"],
    cos: Float[Tensor, "batch pos d_head"],
    sin: Float[Tensor, "batch pos d_head"],
) -> Float[Tensor, "batch pos heads d_head"]:
    """x * cos + rotate_half(x) * sin, with rotate_half(x) = (-x2, x1)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    cos, sin = cos[:, :, None].to(x.dtype), sin[:, :, None].to(x.dtype)
    return x * cos + rotated * sin
