"""Ray-segment intersection in the plane z = 0, fully batched (day 6-7).

A ray O + t*D meets the segment L1 + s*(L2 - L1) where

    [D, L1 - L2] [t, s]^T = L1 - O          (a 2x2 linear system in x, y; z is ignored)

We solve it with Cramer's rule instead of `torch.linalg.solve`, because the rule is a handful of
products that broadcast over rays x segments, and because its numerators let us test the
boundaries without dividing: with det = det[D, L1 - L2] and sign-corrected numerators,

    hit  <=>  det != 0  and  t_num > 0  and  0 <= s_num <= |det|.

Conventions (shared with `triangles.py`):
- t > 0 strictly: a segment through the ray's origin, or behind it, is not hit.
- 0 <= s <= 1 inclusive: passing exactly through an endpoint is a hit.
- det == 0 (ray parallel to the segment, including collinear overlap) is a miss: an edge-on
  segment has zero width seen from the ray. No NaN or inf is produced for parallel pairs.
With integer-valued coordinates every product is exact in float32/float64, so these boundary
decisions are exact too (the tests rely on that).
"""

import torch
from jaxtyping import Bool, Float
from torch import Tensor


def _cross2(a: Tensor, b: Tensor) -> Tensor:
    """z-component of the cross product of two 2D vectors (the 2x2 determinant [a, b])."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def segment_cramer(
    rays: Float[Tensor, "nrays 2 3"], segments: Float[Tensor, "nsegments 2 3"]
) -> tuple[
    Float[Tensor, "nrays nsegments"],
    Float[Tensor, "nrays nsegments"],
    Float[Tensor, "nrays nsegments"],
]:
    """Cramer's rule for every (ray, segment) pair: (det, t_num, s_num), so t = t_num / det and
    s = s_num / det (not yet sign-corrected; a parallel pair has det = 0)."""
    orig = rays[:, None, 0, :2]  # [R, 1, 2]
    D = rays[:, None, 1, :2]
    L1 = segments[None, :, 0, :2]  # [1, S, 2]
    L2 = segments[None, :, 1, :2]
    edge = L1 - L2
    rhs = L1 - orig
    return _cross2(D, edge), _cross2(rhs, edge), _cross2(D, rhs)  # det of [D, L1 - L2], ...


def ray_segment_params(
    rays: Float[Tensor, "nrays 2 3"], segments: Float[Tensor, "nsegments 2 3"]
) -> tuple[Float[Tensor, "nrays nsegments"], Bool[Tensor, "nrays nsegments"]]:
    """For every (ray, segment) pair: ray parameter t of the crossing (inf on a miss), and hit."""
    det, t_num, s_num = segment_cramer(rays, segments)
    sign = torch.sign(det)
    t_num, s_num, abs_det = t_num * sign, s_num * sign, det.abs()
    hit = (det != 0) & (t_num > 0) & (s_num >= 0) & (s_num <= abs_det)
    t = torch.where(hit, t_num / torch.where(hit, abs_det, torch.ones_like(abs_det)), torch.inf)
    return t, hit


def intersect_rays_segments(
    rays: Float[Tensor, "nrays 2 3"], segments: Float[Tensor, "nsegments 2 3"]
) -> Bool[Tensor, "nrays nsegments"]:
    """hit[i, j]: does ray i cross segment j? (conventions in the module docstring)"""
    return ray_segment_params(rays, segments)[1]


def rays_hit_any_segment(
    rays: Float[Tensor, "nrays 2 3"], segments: Float[Tensor, "nsegments 2 3"]
) -> Bool[Tensor, " nrays"]:
    """Does each ray cross at least one of the segments?"""
    return intersect_rays_segments(rays, segments).any(dim=1)


def intersect_ray_segment_solve(ray: Float[Tensor, "2 3"], segment: Float[Tensor, "2 3"]) -> bool:
    """One ray against one segment with `torch.linalg.solve`: the first, unbatched version of day 6.

    Same conventions as the batched function; a singular system (parallel) is a miss.
    """
    orig, D = ray[0, :2], ray[1, :2]
    L1, L2 = segment[0, :2], segment[1, :2]
    A = torch.stack([D, L1 - L2], dim=1)
    if torch.linalg.det(A) == 0:
        return False
    t, s = torch.linalg.solve(A, L1 - orig)
    return bool((t > 0) & (s >= 0) & (s <= 1))
