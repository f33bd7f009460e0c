"""The naive renderer: plain Python loops over rays and triangles (day 10's baseline).

This is the "obviously correct" first version: for each ray, for each triangle, solve the 3x3
system of `triangles.py` with Cramer's rule in Python floats and keep the nearest t > 0 inside the
triangle. It makes the same boundary decisions as the batched code (same sign-corrected
numerators). It is O(rays * triangles) interpreter steps, which is what the batched and chunked
versions remove.
"""

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.raytracing.render import render_depth


def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def render_depth_naive(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> tuple[Float[Tensor, " nrays"], Int[Tensor, " nrays"]]:
    """Nearest hit depth (inf on a miss) and triangle index (-1), one pair at a time."""
    ray_list = rays.tolist()
    tri_list = triangles.tolist()
    depths, indices = [], []
    for origin, direction in ray_list:
        best, best_j = math.inf, -1
        for j, (a, b, c) in enumerate(tri_list):
            e1, e2, s = _sub(b, a), _sub(c, a), _sub(origin, a)
            p = _cross(direction, e2)
            det = _dot(e1, p)
            if det == 0:
                continue
            sign = 1.0 if det > 0 else -1.0
            q = _cross(s, e1)
            u, v, t = sign * _dot(s, p), sign * _dot(direction, q), sign * _dot(e2, q)
            if u >= 0 and v >= 0 and u + v <= abs(det) and t > 0 and t / abs(det) < best:
                best, best_j = t / abs(det), j
        depths.append(best)
        indices.append(best_j)
    return (
        torch.tensor(depths, dtype=rays.dtype),
        torch.tensor(indices, dtype=torch.int64),
    )


def render_depth_per_ray(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> tuple[Float[Tensor, " nrays"], Int[Tensor, " nrays"]]:
    """Halfway house: a Python loop over rays, each ray vectorised over all triangles."""
    return render_depth(rays, triangles, chunk_size=1, method="broadcast")
