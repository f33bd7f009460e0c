"""Indexed triangle meshes (days 8-10).

A `Mesh` holds `vertices [V, 3]` and `faces [F, 3]` (int64 indices into `vertices`, counter-
clockwise seen from outside for closed meshes, so that (B - A) x (C - A) points outwards). The
renderer wants a triangle soup `triangles [F, 3, 3]` (corner A, B, C of every face), which
`Mesh.triangles` builds by indexing.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor


@dataclass(frozen=True)
class Mesh:
    vertices: Tensor  # float [V, 3]
    faces: Tensor  # int64 [F, 3]
    name: str = "mesh"

    def __post_init__(self):
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ValueError(f"vertices must be [V, 3], got {tuple(self.vertices.shape)}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"faces must be [F, 3], got {tuple(self.faces.shape)}")
        if self.faces.dtype != torch.int64:
            raise TypeError("faces must be int64")
        if self.faces.numel() and (
            self.faces.min() < 0 or self.faces.max() >= self.vertices.shape[0]
        ):
            raise ValueError("a face refers to a vertex index outside [0, V)")

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def triangles(self) -> Tensor:
        """The triangle soup [F, 3, 3]: triangles[f, k] is corner k of face f."""
        return self.vertices[self.faces]

    def transformed(self, matrix: Tensor | None = None, translation=(0.0, 0.0, 0.0)) -> "Mesh":
        """vertices -> vertices @ matrix.T + translation (matrix may scale and rotate)."""
        v = self.vertices
        if matrix is not None:
            v = v @ matrix.to(v.dtype).T
        return Mesh(v + torch.as_tensor(translation, dtype=v.dtype), self.faces, self.name)

    def normalized(self, radius: float = 1.0) -> "Mesh":
        """Centre the bounding box at the origin and scale so the farthest vertex is at `radius`."""
        v = self.vertices
        centre = (v.max(0).values + v.min(0).values) / 2
        v = v - centre
        scale = radius / torch.linalg.vector_norm(v, dim=1).max().clamp_min(1e-12)
        return Mesh(v * scale, self.faces, self.name)


def triangles_to_mesh(triangles: Float[Tensor, "f 3 3"], name: str = "mesh") -> Mesh:
    """Index a triangle soup, merging corners with identical coordinates."""
    vertices, inverse = torch.unique(triangles.reshape(-1, 3), dim=0, return_inverse=True)
    return Mesh(vertices, inverse.reshape(-1, 3).to(torch.int64), name)


def merge_meshes(*meshes: Mesh, name: str = "merged") -> Mesh:
    """One mesh holding all faces of `meshes` (vertex indices shifted)."""
    vertices, faces, offset = [], [], 0
    for mesh in meshes:
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + offset)
        offset += mesh.vertices.shape[0]
    return Mesh(torch.cat(vertices), torch.cat(faces), name)


def face_normals(triangles: Float[Tensor, "f 3 3"]) -> Float[Tensor, "f 3"]:
    """Unit normals (B - A) x (C - A) / |...|; zero for degenerate (zero-area) faces."""
    n = torch.linalg.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    return n / torch.linalg.vector_norm(n, dim=1, keepdim=True).clamp_min(1e-30)


def signed_volume(mesh: Mesh) -> float:
    """Volume enclosed by a closed, outward-oriented mesh (divergence theorem: sum of A.(BxC)/6)."""
    t = mesh.triangles.to(torch.float64)
    return float((t[:, 0] * torch.linalg.cross(t[:, 1], t[:, 2])).sum() / 6)


def edge_counts(faces: Int[Tensor, "f 3"]) -> Int[Tensor, " e"]:
    """How many faces share each undirected edge (2 everywhere for a closed manifold)."""
    edges = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges = torch.sort(edges, dim=1).values
    return torch.unique(edges, dim=0, return_counts=True)[1]
