"""Procedural meshes: counts, closedness, orientation and volumes vs closed forms."""

import math

import pytest
import torch

from arena_core.raytracing import (
    bumpy_sphere,
    bunny_like,
    edge_counts,
    face_normals,
    icosphere,
    signed_volume,
    torus,
    vase,
)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_icosphere_counts_and_geometry(k):
    m = icosphere(k, dtype=torch.float64)
    assert m.num_faces == 20 * 4**k
    assert m.vertices.shape[0] == 10 * 4**k + 2
    n_edges = edge_counts(m.faces).numel()
    assert m.vertices.shape[0] - n_edges + m.num_faces == 2  # Euler characteristic of a sphere
    assert torch.allclose(
        torch.linalg.vector_norm(m.vertices, dim=1), torch.ones(1, dtype=m.vertices.dtype)
    )
    # outward: every face normal points away from the centre
    centroids = m.triangles.mean(1)
    assert ((face_normals(m.triangles) * centroids).sum(1) > 0).all()


def test_icosphere_volume_converges_to_ball():
    vols = [signed_volume(icosphere(k, dtype=torch.float64)) for k in range(5)]
    err = [4 / 3 * math.pi - v for v in vols]
    assert all(e > 0 for e in err)  # inscribed polyhedra are inside the ball
    assert all(b < a / 3 for a, b in zip(err, err[1:], strict=False))  # ~4x smaller per level
    assert err[-1] < 0.01


def test_torus_volume_and_topology():
    m = torus(1.0, 0.3, n_major=96, n_minor=48)
    assert (edge_counts(m.faces) == 2).all()
    n_edges = edge_counts(m.faces).numel()
    assert m.vertices.shape[0] - n_edges + m.num_faces == 0  # torus: chi = 0
    # polygonal torus volume approaches 2 pi^2 R r^2 from below (within 0.5% at this resolution)
    assert signed_volume(m) == pytest.approx(2 * math.pi**2 * 1.0 * 0.3**2, rel=5e-3)


@pytest.mark.parametrize("make", [vase, bumpy_sphere, bunny_like])
def test_other_meshes_are_closed_and_outward(make):
    m = make()
    assert (edge_counts(m.faces) == 2).all()
    assert signed_volume(m) > 0
    assert torch.isfinite(m.vertices).all()


def test_bunny_is_big_enough_for_day_10():
    assert bunny_like().num_faces >= 2000
