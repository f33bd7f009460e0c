"""Ray-triangle intersection (broadcast and matmul forms) vs per-pair solves and exact rationals."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from arena_core.raytracing import (
    intersect_ray_triangle_solve,
    intersect_rays_triangles,
    make_rays_2d,
    ray_triangle_depths,
    ray_triangle_depths_matmul,
)

FORMS = [ray_triangle_depths, ray_triangle_depths_matmul]


def _exact(ray, tri):
    """(hit, t) from Gaussian elimination with Fractions on [-D, B-A, C-A] [t,u,v] = O - A."""
    orig, D = ray.tolist()
    A, B, C = tri.tolist()
    F = Fraction
    m = [[F(-D[k]), F(B[k] - A[k]), F(C[k] - A[k]), F(orig[k] - A[k])] for k in range(3)]
    for col in range(3):
        pivot = next((r for r in range(col, 3) if m[r][col] != 0), None)
        if pivot is None:
            return False, None  # singular: the ray is parallel to the plane
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(3):
            if r != col and m[r][col] != 0:
                f = m[r][col] / m[col][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[col], strict=True)]
    t, u, v = (m[k][3] / m[k][k] for k in range(3))
    hit = t > 0 and u >= 0 and v >= 0 and u + v <= 1
    return hit, t if hit else None


@pytest.mark.parametrize("form", FORMS, ids=["broadcast", "matmul"])
def test_random_rays_match_linalg_solve_loop(form):
    g = torch.Generator().manual_seed(2)
    rays = torch.randn(41, 2, 3, generator=g, dtype=torch.float64)
    tris = torch.randn(17, 3, 3, generator=g, dtype=torch.float64) * 0.8
    t, hit = form(rays, tris)
    n_hits = 0
    for i in range(41):
        for j in range(17):
            orig, D = rays[i]
            A, B, C = tris[j]
            t_ref, u, v = torch.linalg.solve(torch.stack([-D, B - A, C - A], 1), orig - A)
            # skip the measure-zero band where rounding may decide either way
            if min(abs(t_ref), abs(u), abs(v), abs(1 - u - v)) < 1e-9:
                continue
            expected = bool(t_ref > 0 and u >= 0 and v >= 0 and u + v <= 1)
            assert bool(hit[i, j]) == expected, (i, j)
            if expected:
                n_hits += 1  # float64, O(1) data: both solvers are accurate to ~1e-12
                assert torch.isclose(t[i, j], t_ref, rtol=1e-8, atol=1e-9)
            else:
                assert torch.isinf(t[i, j])
    assert n_hits > 20  # the test must exercise hits, not only misses


@pytest.mark.parametrize("form", FORMS, ids=["broadcast", "matmul"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degenerate_integer_geometry_matches_exact_arithmetic(form, dtype):
    """Integer coordinates make vertex/edge hits, parallel rays and t = 0 common; small integer
    products are exact in float32 and float64, so the decisions must match exactly."""
    rng = np.random.default_rng(7)
    rays = torch.tensor(rng.integers(-2, 3, size=(80, 2, 3)), dtype=torch.float64)
    tris = torch.tensor(rng.integers(-2, 3, size=(40, 3, 3)), dtype=torch.float64)
    tri = torch.tensor([[2, 0, 0], [2, 2, 0], [2, 0, 2]], dtype=torch.float64)
    tris[0] = tri
    rays[:6] = torch.tensor(
        [
            [[0, 0, 0], [1, 0, 0]],  # through vertex A
            [[0, 0, 0], [2, 1, 1]],  # through the midpoint (2, 1, 1) of edge BC (u + v = 1)
            [[0, 0, 0], [1, 1, 0]],  # through vertex B = (2, 2, 0)
            [[0, 0, 0], [0, 1, 0]],  # parallel to the plane x = 2
            [[3, 0, 0], [1, 0, 0]],  # triangle behind the origin
            [[2, 1, 0], [1, 0, 0]],  # origin on the triangle's edge: t = 0, excluded
        ],
        dtype=torch.float64,
    )
    t, hit = form(rays.to(dtype), tris.to(dtype))
    assert hit[:6, 0].tolist() == [True, True, True, False, False, False]
    assert not torch.isnan(t).any()
    for i in range(80):
        for j in range(40):
            exp_hit, exp_t = _exact(rays[i], tris[j])
            assert bool(hit[i, j]) == exp_hit, (i, j)
            if exp_hit:  # t is one division of exact integers: correctly rounded
                assert t[i, j].item() == pytest.approx(float(exp_t), rel=1e-6)


def test_intersect_and_single_solve_agree():
    rays = make_rays_2d(7, 5, 0.6, 0.6, origin=(-2.0, 0.0, 0.0)).double()
    tris = torch.tensor(
        [[[0.0, -0.5, -0.5], [0.0, 0.7, -0.4], [0.1, 0.0, 0.8]]], dtype=torch.float64
    )
    hit = intersect_rays_triangles(rays, tris)
    assert 0 < hit.sum() < len(rays)
    for i in range(len(rays)):
        assert intersect_ray_triangle_solve(rays[i], tris[0]) == bool(hit[i, 0])


def test_make_rays_2d_grid_matches_numpy_meshgrid():
    rays = make_rays_2d(4, 3, 0.3, 0.5)
    ys, zs = np.meshgrid(np.linspace(-0.3, 0.3, 4), np.linspace(-0.5, 0.5, 3), indexing="ij")
    np.testing.assert_allclose(rays[:, 1, 1].numpy(), ys.ravel(), rtol=1e-6)
    np.testing.assert_allclose(rays[:, 1, 2].numpy(), zs.ravel(), rtol=1e-6)
    assert (rays[:, 0] == 0).all() and (rays[:, 1, 0] == 1).all()
