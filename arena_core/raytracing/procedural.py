"""Procedurally generated meshes, so that the ray-tracing days run offline with no data files.

- `icosphere(k)`: the icosahedron with every face split into 4, k times, vertices pushed back
  onto the unit sphere: 20 * 4^k faces, 10 * 4^k + 2 vertices (Euler: V - E + F = 2).
- `torus(R, r)`: the parametric torus ((R + r cos phi) cos theta, (R + r cos phi) sin theta,
  r sin phi), a quad grid split into triangles; volume 2 pi^2 R r^2.
- `surface_of_revolution(profile)`: a vase-like shape from a radius profile r(z), with caps.
- `bumpy_sphere(k)`: an icosphere with a smooth random radial displacement (a "rock").
- `bunny_like()`: ellipsoids for body, head, ears, tail and feet merged into one soup: more
  interesting silhouettes and occlusions than a sphere, with no file needed.
Every mesh is closed and oriented outwards ((B - A) x (C - A) points out of the solid).
"""

import math

import torch

from arena_core.raytracing.mesh import Mesh, merge_meshes, signed_volume
from arena_core.raytracing.rotation import rotation_x

_PHI = (1 + math.sqrt(5)) / 2
_ICOSAHEDRON_VERTICES = [
    (-1, _PHI, 0), (1, _PHI, 0), (-1, -_PHI, 0), (1, -_PHI, 0),
    (0, -1, _PHI), (0, 1, _PHI), (0, -1, -_PHI), (0, 1, -_PHI),
    (_PHI, 0, -1), (_PHI, 0, 1), (-_PHI, 0, -1), (-_PHI, 0, 1),
]  # fmt: skip
_ICOSAHEDRON_FACES = [
    (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
    (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
    (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
    (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
]  # fmt: skip


def _outward(mesh: Mesh) -> Mesh:
    """Flip the winding of every face if the mesh encloses negative volume."""
    if signed_volume(mesh) < 0:
        return Mesh(mesh.vertices, mesh.faces[:, [0, 2, 1]], mesh.name)
    return mesh


def icosphere(subdivisions: int = 2, dtype: torch.dtype = torch.float32) -> Mesh:
    if subdivisions < 0:
        raise ValueError("subdivisions must be >= 0")
    v = torch.tensor(_ICOSAHEDRON_VERTICES, dtype=torch.float64)
    v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True)
    f = torch.tensor(_ICOSAHEDRON_FACES, dtype=torch.int64)
    for _ in range(subdivisions):
        # one new vertex per undirected edge, at the edge midpoint projected onto the sphere
        edges = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        edges, inverse = torch.unique(torch.sort(edges, 1).values, dim=0, return_inverse=True)
        mid = (v[edges[:, 0]] + v[edges[:, 1]]) / 2
        mid = mid / torch.linalg.vector_norm(mid, dim=1, keepdim=True)
        m = (
            inverse.reshape(3, -1) + v.shape[0]
        )  # m[0] = mid(a, b), m[1] = mid(b, c), m[2] = mid(c, a)
        a, b, c = f[:, 0], f[:, 1], f[:, 2]
        f = torch.cat(
            [
                torch.stack([a, m[0], m[2]], 1),
                torch.stack([b, m[1], m[0]], 1),
                torch.stack([c, m[2], m[1]], 1),
                torch.stack([m[0], m[1], m[2]], 1),
            ]
        )
        v = torch.cat([v, mid])
    return _outward(Mesh(v.to(dtype), f, f"icosphere{subdivisions}"))


def _grid_faces(rows: int, cols: int, wrap_rows: bool) -> torch.Tensor:
    """Two triangles per cell of a rows x cols vertex grid, wrapping columns (and rows if asked)."""
    i = torch.arange(rows if wrap_rows else rows - 1)[:, None]
    j = torch.arange(cols)[None, :]
    i1, j1 = (i + 1) % rows, (j + 1) % cols
    a, b, c, d = i * cols + j, i1 * cols + j, i1 * cols + j1, i * cols + j1
    quads = torch.stack(torch.broadcast_tensors(a, b, c, d), -1).reshape(-1, 4)
    return torch.cat([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])


def torus(
    major_radius: float = 1.0,
    minor_radius: float = 0.35,
    n_major: int = 48,
    n_minor: int = 24,
    dtype: torch.dtype = torch.float32,
) -> Mesh:
    theta = torch.arange(n_major, dtype=torch.float64) * (2 * math.pi / n_major)
    phi = torch.arange(n_minor, dtype=torch.float64) * (2 * math.pi / n_minor)
    ring = major_radius + minor_radius * torch.cos(phi)[None, :]
    x = ring * torch.cos(theta)[:, None]
    y = ring * torch.sin(theta)[:, None]
    z = (minor_radius * torch.sin(phi))[None, :].expand_as(x)
    v = torch.stack([x, y, z], -1).reshape(-1, 3)
    return _outward(Mesh(v.to(dtype), _grid_faces(n_major, n_minor, wrap_rows=True), "torus"))


def surface_of_revolution(
    radii: torch.Tensor, heights: torch.Tensor, n_segments: int = 48, name: str = "revolution"
) -> Mesh:
    """Rotate the profile (radii[k], heights[k]) about the z axis; close both ends with caps."""
    if radii.shape != heights.shape or radii.ndim != 1 or radii.shape[0] < 2:
        raise ValueError("radii and heights must be 1-D of equal length >= 2")
    angle = torch.arange(n_segments, dtype=torch.float64) * (2 * math.pi / n_segments)
    r, h = radii.to(torch.float64)[:, None], heights.to(torch.float64)[:, None]
    ring = torch.stack(
        [r * torch.cos(angle), r * torch.sin(angle), h.expand(-1, n_segments)], -1
    ).reshape(-1, 3)
    side = _grid_faces(radii.shape[0], n_segments, wrap_rows=False)
    bottom, top = ring.shape[0], ring.shape[0] + 1
    j = torch.arange(n_segments)
    last = (radii.shape[0] - 1) * n_segments
    caps = torch.cat(
        [
            torch.stack([torch.full_like(j, bottom), (j + 1) % n_segments, j], 1),
            torch.stack([torch.full_like(j, top), last + j, last + (j + 1) % n_segments], 1),
        ]
    )
    centres = torch.tensor([[0.0, 0.0, h[0, 0].item()], [0.0, 0.0, h[-1, 0].item()]])
    v = torch.cat([ring, centres.to(torch.float64)])
    return _outward(Mesh(v.to(torch.float32), torch.cat([side, caps]), name))


def vase(n_profile: int = 24, n_segments: int = 48) -> Mesh:
    """A vase: radius 0.45 + 0.25 sin(...) along the height, a surface of revolution."""
    z = torch.linspace(-1.0, 1.0, n_profile, dtype=torch.float64)
    r = 0.45 + 0.25 * torch.sin(2.6 * z + 0.6) - 0.1 * z
    return surface_of_revolution(r, z, n_segments, name="vase")


def bumpy_sphere(
    subdivisions: int = 3, amplitude: float = 0.15, n_waves: int = 6, seed: int = 0
) -> Mesh:
    """An icosphere whose radius is 1 + amplitude * mean_m sin(4 a_m . x + phase_m)."""
    sphere = icosphere(subdivisions, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    axes = torch.randn(n_waves, 3, generator=g, dtype=torch.float64)
    axes = axes / torch.linalg.vector_norm(axes, dim=1, keepdim=True)
    phases = torch.rand(n_waves, generator=g, dtype=torch.float64) * 2 * math.pi
    x = sphere.vertices
    radius = 1 + amplitude * torch.sin(4 * x @ axes.T + phases).mean(1, keepdim=True) * 2
    return Mesh((x * radius).to(torch.float32), sphere.faces, "bumpy_sphere")


def _ellipsoid(centre, semi_axes, subdivisions: int, tilt: float = 0.0) -> Mesh:
    s = icosphere(subdivisions, dtype=torch.float64)
    matrix = rotation_x(tilt) @ torch.diag(torch.tensor(semi_axes, dtype=torch.float64))
    return s.transformed(matrix, centre)


def bunny_like(subdivisions: int = 3) -> Mesh:
    """A rabbit made of overlapping ellipsoids, facing -y (seen side-on by the default camera).

    With the default subdivisions=3 it has 5,120 + 2 * 320 + 3 * 80 faces ~ 6,000.
    """
    k = subdivisions
    parts = [
        _ellipsoid((0.0, 0.15, -0.25), (0.55, 0.8, 0.6), k),  # body
        _ellipsoid((0.0, -0.6, 0.3), (0.38, 0.42, 0.36), k),  # head
        _ellipsoid((0.0, -0.92, 0.25), (0.08, 0.08, 0.07), max(k - 2, 0)),  # nose
        _ellipsoid((0.17, -0.55, 0.95), (0.08, 0.13, 0.45), max(k - 1, 0), tilt=-0.35),  # ear
        _ellipsoid((-0.17, -0.55, 0.95), (0.08, 0.13, 0.45), max(k - 1, 0), tilt=-0.25),  # ear
        _ellipsoid((0.0, 0.98, -0.1), (0.17, 0.17, 0.17), max(k - 2, 0)),  # tail
        _ellipsoid((0.3, -0.3, -0.8), (0.14, 0.3, 0.1), max(k - 2, 0)),  # front foot
        _ellipsoid((-0.3, -0.3, -0.8), (0.14, 0.3, 0.1), max(k - 2, 0)),  # front foot
        _ellipsoid((0.35, 0.35, -0.75), (0.18, 0.42, 0.14), max(k - 1, 0)),  # hind foot
        _ellipsoid((-0.35, 0.35, -0.75), (0.18, 0.42, 0.14), max(k - 1, 0)),  # hind foot
    ]
    merged = merge_meshes(*parts, name="bunny_like").normalized()
    return Mesh(merged.vertices.to(torch.float32), merged.faces, "bunny_like")
