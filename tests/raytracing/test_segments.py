"""Ray-segment intersection vs a per-pair torch.linalg.solve loop and exact rational arithmetic."""

from fractions import Fraction

import numpy as np
import torch

from arena_core.raytracing import (
    intersect_ray_segment_solve,
    intersect_rays_segments,
    make_rays_1d,
    ray_segment_params,
    rays_hit_any_segment,
    segment_cramer,
)


def _exact_hit(ray, seg) -> bool:
    """Gaussian elimination in Fractions on [D, L1 - L2] [t, s] = L1 - O (independent of Cramer)."""
    orig, D = [Fraction(int(v)) for v in ray[0, :2]], [Fraction(int(v)) for v in ray[1, :2]]
    L1, L2 = [Fraction(int(v)) for v in seg[0, :2]], [Fraction(int(v)) for v in seg[1, :2]]
    rows = [[D[k], L1[k] - L2[k], L1[k] - orig[k]] for k in range(2)]
    if rows[0][0] == 0:
        rows.reverse()
    if rows[0][0] == 0:  # D = 0 in x and y: degenerate
        return False
    f = rows[1][0] / rows[0][0]
    rows[1] = [b - f * a for a, b in zip(rows[0], rows[1], strict=True)]
    if rows[1][1] == 0:  # singular: parallel
        return False
    s = rows[1][2] / rows[1][1]
    t = (rows[0][2] - rows[0][1] * s) / rows[0][0]
    return t > 0 and 0 <= s <= 1


def test_random_rays_match_linalg_solve_loop():
    g = torch.Generator().manual_seed(1)
    rays = torch.randn(37, 2, 3, generator=g, dtype=torch.float64)
    segs = torch.randn(13, 2, 3, generator=g, dtype=torch.float64)
    t, hit = ray_segment_params(rays, segs)
    for i in range(37):
        for j in range(13):
            orig, D = rays[i, 0, :2], rays[i, 1, :2]
            L1, L2 = segs[j, 0, :2], segs[j, 1, :2]
            sol = torch.linalg.solve(torch.stack([D, L1 - L2], 1), L1 - orig)
            # random float data lands on a boundary with probability ~0; skip pairs within 1e-9
            # of one, where rounding may legitimately decide either way
            if min(abs(sol[0]), abs(sol[1]), abs(sol[1] - 1)) < 1e-9:
                continue
            expected = bool(sol[0] > 0 and 0 <= sol[1] <= 1)
            assert bool(hit[i, j]) == expected
            if expected:  # float64 Cramer vs LU: agree to ~1e-12 for well-conditioned systems
                assert torch.isclose(t[i, j], sol[0], rtol=1e-9, atol=1e-9)
            else:
                assert torch.isinf(t[i, j])


def test_degenerate_integer_cases_match_exact_arithmetic():
    """Rays through endpoints, along segments, parallel, and segments behind or at the origin."""
    g = np.random.default_rng(3)
    rays = torch.tensor(g.integers(-3, 4, size=(60, 2, 3)), dtype=torch.float64)
    segs = torch.tensor(g.integers(-3, 4, size=(50, 2, 3)), dtype=torch.float64)
    # hand-made cases: endpoint hit, collinear overlap, parallel, segment behind, through origin
    rays[:5] = torch.tensor([[[0, 0, 0], [1, 1, 0]]] * 5, dtype=torch.float64)
    segs[:5] = torch.tensor(
        [
            [[1, 1, 0], [2, 0, 0]],  # endpoint (1, 1) on the ray
            [[1, 1, 0], [2, 2, 0]],  # collinear overlap: parallel, a miss by convention
            [[1, 0, 0], [2, 1, 0]],  # parallel, offset
            [[-1, 0, 0], [0, -1, 0]],  # behind the origin (t = -1/2)
            [[-1, 1, 0], [1, -1, 0]],  # passes through the origin (t = 0): excluded
        ],
        dtype=torch.float64,
    )
    for dtype in (torch.float32, torch.float64):  # small integers are exact in both
        hit = intersect_rays_segments(rays.to(dtype), segs.to(dtype))
        expected = torch.tensor([[_exact_hit(r, s) for s in segs] for r in rays])
        assert torch.equal(hit, expected)
    assert hit[0, :5].tolist() == [True, False, False, False, False]
    assert not torch.isnan(ray_segment_params(rays, segs)[0]).any()


def test_any_and_single_solve_versions_agree_with_exact():
    g = np.random.default_rng(5)
    rays = torch.tensor(g.integers(-2, 3, size=(20, 2, 3)), dtype=torch.float64)
    segs = torch.tensor(g.integers(-2, 3, size=(9, 2, 3)), dtype=torch.float64)
    expected = [[_exact_hit(r, s) for s in segs] for r in rays]
    assert rays_hit_any_segment(rays, segs).tolist() == [any(row) for row in expected]
    for i in range(20):
        for j in range(9):
            assert intersect_ray_segment_solve(rays[i], segs[j]) == expected[i][j]


def test_cramer_numerators_solve_the_system_exactly():
    """det, t_num, s_num from `segment_cramer` give the Fraction solution (t, s) = nums / det."""
    g = np.random.default_rng(7)
    rays = torch.tensor(g.integers(-3, 4, size=(15, 2, 3)), dtype=torch.float64)
    segs = torch.tensor(g.integers(-3, 4, size=(11, 2, 3)), dtype=torch.float64)
    det, t_num, s_num = segment_cramer(rays, segs)
    for i in range(15):
        for j in range(11):
            orig, D = rays[i, 0, :2].int().tolist(), rays[i, 1, :2].int().tolist()
            L1, L2 = segs[j, 0, :2].int().tolist(), segs[j, 1, :2].int().tolist()
            d, tn, sn = int(det[i, j]), int(t_num[i, j]), int(s_num[i, j])
            if d == 0:
                continue
            t, s = Fraction(tn, d), Fraction(sn, d)
            for k in range(2):  # O + t D == L1 + s (L2 - L1), exactly
                assert orig[k] + t * D[k] == L1[k] + s * (L2[k] - L1[k])
    # day 6's worked example: ray (0, 0) + t (1, 0.5) against the segment from (3, 0) to (1, 1)
    ray = torch.tensor([[[0.0, 0, 0], [1, 0.5, 0]]])
    seg = torch.tensor([[[3.0, 0, 0], [1, 1, 0]]])
    assert [float(v) for v in segment_cramer(ray, seg)] == [-2.0, -3.0, -1.5]


def test_make_rays_1d_matches_numpy_linspace():
    rays = make_rays_1d(9, 10.0, origin=(0.5, 0.0, 0.0))
    assert rays.shape == (9, 2, 3)
    np.testing.assert_allclose(rays[:, 1, 1].numpy(), np.linspace(-10, 10, 9), rtol=1e-6)
    assert (rays[:, 1, 0] == 1).all() and (rays[:, 1, 2] == 0).all()
    assert (rays[:, 0] == torch.tensor([0.5, 0.0, 0.0])).all()
