"""Ray-triangle intersection (Moeller-Trumbore), fully batched over rays x triangles (days 7-10).

A ray O + t*D hits the triangle (A, B, C) where O + t*D = A + u*(B - A) + v*(C - A), i.e.

    [-D, E1, E2] [t, u, v]^T = S,      E1 = B - A,  E2 = C - A,  S = O - A.

Cramer's rule with scalar triple products (Moeller & Trumbore 1997) gives, with P = D x E2 and
Q = S x E1:

    det = E1 . P,   u = (S . P) / det,   v = (D . Q) / det,   t = (E2 . Q) / det.

Conventions (shared with `segments.py`), all decided on sign-corrected numerators so that no
division is involved and integer-valued inputs give exact answers:
- hit  <=>  det != 0, u >= 0, v >= 0, u + v <= 1 (edges and vertices count), and t > 0 strictly
  (a triangle behind the origin, or through it, is not hit);
- det == 0 means the ray is parallel to the triangle's plane (including rays inside the plane,
  which see the triangle edge-on): a miss, with no NaN produced;
- the depth of a hit is t, in units of |D| (see `rays.py`); misses get t = inf.

Two equivalent batched forms:
- `ray_triangle_depths` broadcasts the formulas above to [rays, triangles, 3] tensors: the direct
  translation, easy to check, but it materialises several 3-vectors per pair.
- `ray_triangle_depths_matmul` expands each triple product into terms that depend on the ray only
  or on the triangle only, e.g. S . P = (O x D) . E2 - D . (E2 x A), so every numerator becomes a
  [rays, 3] @ [3, triangles] matmul plus a per-triangle constant. It needs ~6 scalars per pair
  instead of ~20, and is what the renderer uses (day 10). It trades some cancellation error when
  |O| and |A| are large compared with the triangle; for scenes of size ~1 in float32 that is far
  below a pixel.
"""

import torch
from jaxtyping import Bool, Float
from torch import Tensor


def _decide(det: Tensor, u_num: Tensor, v_num: Tensor, t_num: Tensor) -> tuple[Tensor, Tensor]:
    """Apply the hit conventions to Cramer numerators; return (t with inf on misses, hit).

    The arguments must be fresh tensors: they are overwritten (in-place ops avoid allocating
    [rays, triangles] temporaries, which dominates the cost on a CPU).
    """
    sign = torch.sign(det)
    u_num.mul_(sign)
    v_num.mul_(sign)
    t_num.mul_(sign)
    abs_det = det.abs_()
    hit = u_num >= 0
    hit &= v_num >= 0
    hit &= t_num > 0
    hit &= abs_det != 0
    hit &= u_num.add_(v_num) <= abs_det  # u + v <= 1, times |det|
    t = t_num.div_(abs_det).masked_fill_(~hit, torch.inf)
    return t, hit


def ray_triangle_depths(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> tuple[Float[Tensor, "nrays ntriangles"], Bool[Tensor, "nrays ntriangles"]]:
    """t of every (ray, triangle) hit (inf on a miss) and the hit mask; broadcast form."""
    orig = rays[:, None, 0]  # [R, 1, 3]
    D = rays[:, None, 1]
    A, B, C = triangles[None, :, 0], triangles[None, :, 1], triangles[None, :, 2]  # [1, T, 3]
    E1, E2, S = B - A, C - A, orig - A
    P = torch.linalg.cross(D.expand_as(S), E2.expand_as(S))
    Q = torch.linalg.cross(S, E1.expand_as(S))
    det = (E1 * P).sum(-1)
    return _decide(det, (S * P).sum(-1), (D * Q).sum(-1), (E2 * Q).sum(-1))


def ray_triangle_depths_matmul(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> tuple[Float[Tensor, "nrays ntriangles"], Bool[Tensor, "nrays ntriangles"]]:
    """Same result as `ray_triangle_depths`, with every triple product written as a matmul."""
    orig, D = rays[:, 0], rays[:, 1]  # [R, 3]
    A, B, C = triangles[:, 0], triangles[:, 1], triangles[:, 2]  # [T, 3]
    E1, E2 = B - A, C - A
    N = torch.linalg.cross(E1, E2)
    ray_side = torch.cat([torch.linalg.cross(orig, D), D], dim=1)  # [R, 6] = [O x D, D]
    # det = E1 . (D x E2) = -D . N
    det = D @ (-N).T
    # u = (O - A) . (D x E2) = (O x D) . E2 - D . (E2 x A)
    u_num = ray_side @ torch.cat([E2, -torch.linalg.cross(E2, A)], dim=1).T
    # v = D . ((O - A) x E1) = -(O x D) . E1 - D . (A x E1)
    v_num = ray_side @ torch.cat([-E1, -torch.linalg.cross(A, E1)], dim=1).T
    # t = E2 . ((O - A) x E1) = (O - A) . N = O . N - A . N
    t_num = torch.addmm(-(A * N).sum(-1), orig, N.T)
    return _decide(det, u_num, v_num, t_num)


def intersect_rays_triangles(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> Bool[Tensor, "nrays ntriangles"]:
    """hit[i, j]: does ray i hit triangle j? (conventions in the module docstring)"""
    return ray_triangle_depths(rays, triangles)[1]


def intersect_ray_triangle_solve(ray: Float[Tensor, "2 3"], triangle: Float[Tensor, "3 3"]) -> bool:
    """One ray against one triangle with `torch.linalg.solve` (the unbatched version of day 7)."""
    orig, D = ray[0], ray[1]
    A, B, C = triangle
    M = torch.stack([-D, B - A, C - A], dim=1)
    if torch.linalg.det(M) == 0:
        return False
    t, u, v = torch.linalg.solve(M, orig - A)
    return bool((t > 0) & (u >= 0) & (v >= 0) & (u + v <= 1))
