"""Rotary position embeddings, RoPE (Su et al. 2021) — used by the Llama family (days 30–32).

Each pair of query/key coordinates (i, i + d/2) is rotated by the angle pos * theta_i with
theta_i = base^(-2i/d), so q·k depends only on the relative offset. We use the "rotate half"
pairing of GPT-NeoX and HuggingFace's Llama (not the adjacent pairs of the original paper); both
are the same model up to a permutation of the head dimensions, but weights are only
interchangeable with the matching one.

Long-context checkpoints rescale the frequencies theta_i (config `rope_type`):
- "linear" (position interpolation, Chen et al. 2023): every theta_i / factor, which is the same
  as dividing the positions by factor;
- "llama3" (Llama 3.1): wavelengths 2*pi/theta_i shorter than original_n_ctx / high_freq_factor
  are kept, those longer than original_n_ctx / low_freq_factor are divided by factor, and the
  band in between blends the two linearly in original_n_ctx / wavelength.
"""

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.transformer.config import TransformerConfig, UnsupportedConfigError


def rotary_frequencies(cfg: TransformerConfig, device=None) -> Float[Tensor, " half"]:
    """theta_i for i < d_head / 2 (float64), after the config's RoPE scaling."""
    d = cfg.d_head
    theta = cfg.rotary_base ** (-torch.arange(0, d, 2, device=device).double() / d)
    if cfg.rope_type == "default":
        return theta
    if cfg.rope_type == "linear":
        return theta / cfg.rope_factor
    if cfg.rope_type == "llama3":
        wavelength = 2 * math.pi / theta
        # ramp = 0 in the low-frequency band (fully divided), 1 in the high one (kept)
        ramp = (cfg.rope_original_n_ctx / wavelength - cfg.rope_low_freq_factor) / (
            cfg.rope_high_freq_factor - cfg.rope_low_freq_factor
        )
        ramp = ramp.clamp(0.0, 1.0)
        return (1 - ramp) * theta / cfg.rope_factor + ramp * theta
    raise UnsupportedConfigError(f"rope_type={cfg.rope_type!r} is not implemented")


def rotary_angles(
    positions: Int[Tensor, "batch pos"],
    d_head: int,
    base: float,
    frequencies: Float[Tensor, " half"] | None = None,
) -> tuple[Float[Tensor, "batch pos d_head"], Float[Tensor, "batch pos d_head"]]:
    """cos and sin of pos * theta_i, each frequency repeated for both halves. theta_i =
    base^(-2i/d_head) unless `frequencies` gives them (scaled RoPE: `rotary_frequencies`)."""
    if frequencies is None:
        exponents = torch.arange(0, d_head, 2, device=positions.device).double() / d_head
        frequencies = base**-exponents
    angles = positions.double()[..., None] * frequencies.double()  # [batch pos d_head/2]
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
