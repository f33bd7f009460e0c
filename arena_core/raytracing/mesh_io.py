"""Reading and writing STL (binary and ASCII) and Wavefront OBJ meshes (day 8).

STL (binary): 80-byte header, uint32 triangle count n, then n records of 50 bytes: normal and three
vertices as little-endian float32, plus a uint16 attribute. We identify a binary file by its exact
size 84 + 50 n; otherwise a file starting with "solid" is read as ASCII ("facet normal ... outer
loop / vertex x y z (x3) / endloop / endfacet"), and anything else is reported as a truncated or
corrupt binary STL. STL stores a triangle soup; identical corners are merged into shared vertices.
The stored normals are ignored (we recompute them from the winding).

OBJ: `v x y z [w]` vertices and `f i j k ...` faces, with 1-based indices, negative indices counting
back from the latest vertex, and `i/t/n`, `i//n` forms whose texture/normal parts are ignored.
Polygons with more than three corners are fan-triangulated (0,1,2), (0,2,3), ... Other statements
(vn, vt, o, g, s, usemtl, mtllib, l, comments) are skipped.

Malformed input raises `MeshFormatError` (a `ValueError`) naming the line or byte count at fault.
"""

from pathlib import Path

import numpy as np
import torch

from arena_core.errors import UserError
from arena_core.raytracing.mesh import Mesh, face_normals, triangles_to_mesh

STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")])


class MeshFormatError(UserError, ValueError):
    """A mesh file that cannot be parsed."""


# ---------------------------------------------------------------------------------------------
# STL
# ---------------------------------------------------------------------------------------------
def read_stl(path: str | Path) -> Mesh:
    data = Path(path).read_bytes()
    name = Path(path).stem
    if len(data) >= 84:
        count = int(np.frombuffer(data, dtype="<u4", count=1, offset=80)[0])
        if len(data) == 84 + 50 * count:
            records = np.frombuffer(data, dtype=STL_RECORD, count=count, offset=84)
            triangles = torch.from_numpy(records["vertices"].astype(np.float32))
            return _finite_mesh(triangles, name, path)
    if data.lstrip()[:5].lower() == b"solid":
        return _read_ascii_stl(data, name, path)
    if len(data) < 84:
        raise MeshFormatError(f"{path}: {len(data)} bytes is too short for a binary STL header")
    raise MeshFormatError(
        f"{path}: truncated or corrupt binary STL: the header announces {count} triangles "
        f"({84 + 50 * count} bytes) but the file has {len(data)} bytes"
    )


def _finite_mesh(triangles: torch.Tensor, name: str, path) -> Mesh:
    if not torch.isfinite(triangles).all():
        raise MeshFormatError(f"{path}: non-finite vertex coordinates")
    if triangles.shape[0] == 0:
        raise MeshFormatError(f"{path}: the file holds no triangles")
    return triangles_to_mesh(triangles, name)


def _read_ascii_stl(data: bytes, name: str, path) -> Mesh:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        raise MeshFormatError(f"{path}: not ASCII text and not a valid binary STL") from err
    triangles, corners, in_facet = [], [], False
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        key = words[0].lower()
        if key == "facet":
            if in_facet:
                raise MeshFormatError(f"{path}:{lineno}: 'facet' inside another facet")
            in_facet, corners = True, []
        elif key == "vertex":
            if not in_facet:
                raise MeshFormatError(f"{path}:{lineno}: 'vertex' outside a facet")
            if len(words) != 4:
                raise MeshFormatError(f"{path}:{lineno}: a vertex needs 3 coordinates: {line!r}")
            corners.append(_floats(words[1:], path, lineno))
        elif key == "endfacet":
            if len(corners) != 3:
                raise MeshFormatError(
                    f"{path}:{lineno}: a facet needs exactly 3 vertices, got {len(corners)}"
                )
            triangles.append(corners)
            in_facet = False
        elif key not in ("solid", "endsolid", "outer", "endloop"):
            raise MeshFormatError(f"{path}:{lineno}: unexpected statement {words[0]!r}")
    if in_facet:
        raise MeshFormatError(f"{path}: the file ends inside a facet")
    return _finite_mesh(torch.tensor(triangles, dtype=torch.float32).reshape(-1, 3, 3), name, path)


def _floats(words: list[str], path, lineno: int) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError as err:
        raise MeshFormatError(f"{path}:{lineno}: non-numeric coordinate in {words}") from err


def write_stl(path: str | Path, mesh: Mesh, binary: bool = True) -> Path:
    """Write `mesh` as binary (default) or ASCII STL, with normals from the winding."""
    path = Path(path)
    triangles = mesh.triangles.to(torch.float32)
    normals = face_normals(triangles)
    if binary:
        records = np.zeros(triangles.shape[0], dtype=STL_RECORD)
        records["normal"] = normals.numpy()
        records["vertices"] = triangles.numpy()
        header = f"binary STL: {mesh.name}".encode("ascii", "replace")[:80].ljust(80, b" ")
        count = np.array([len(records)], dtype="<u4").tobytes()
        path.write_bytes(header + count + records.tobytes())
        return path
    lines = [f"solid {mesh.name}"]
    for n, tri in zip(normals.tolist(), triangles.tolist(), strict=True):
        lines.append(f"  facet normal {n[0]:.9g} {n[1]:.9g} {n[2]:.9g}")
        lines.append("    outer loop")
        lines += [f"      vertex {x:.9g} {y:.9g} {z:.9g}" for x, y, z in tri]
        lines += ["    endloop", "  endfacet"]
    lines.append(f"endsolid {mesh.name}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# OBJ
# ---------------------------------------------------------------------------------------------
def read_obj(path: str | Path) -> Mesh:
    path = Path(path)
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise MeshFormatError(f"{path}: not a text file") from err
    for lineno, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "v":
            if len(words) not in (4, 5):
                raise MeshFormatError(f"{path}:{lineno}: 'v' needs 3 (or 4) numbers: {line!r}")
            vertices.append(_floats(words[1:4], path, lineno))
        elif words[0] == "f":
            if len(words) < 4:
                raise MeshFormatError(f"{path}:{lineno}: a face needs at least 3 corners")
            corners = [_obj_index(w, len(vertices), path, lineno) for w in words[1:]]
            # fan triangulation of a (convex, planar) polygon
            faces += [[corners[0], corners[k], corners[k + 1]] for k in range(1, len(corners) - 1)]
    if not faces:
        raise MeshFormatError(f"{path}: no faces")
    v = torch.tensor(vertices, dtype=torch.float32)
    if not torch.isfinite(v).all():
        raise MeshFormatError(f"{path}: non-finite vertex coordinates")
    return Mesh(v, torch.tensor(faces, dtype=torch.int64), path.stem)


def _obj_index(word: str, num_vertices: int, path, lineno: int) -> int:
    """The 0-based vertex index of an OBJ face corner `i`, `i/t`, `i//n` or `i/t/n`."""
    head = word.split("/", 1)[0]
    try:
        index = int(head)
    except ValueError as err:
        raise MeshFormatError(f"{path}:{lineno}: bad face index {word!r}") from err
    # 1-based; negative counts back from the most recent vertex (-1 is the latest)
    resolved = index - 1 if index > 0 else num_vertices + index
    if index == 0 or not 0 <= resolved < num_vertices:
        raise MeshFormatError(
            f"{path}:{lineno}: face index {index} is out of range ({num_vertices} vertices so far)"
        )
    return resolved


def write_obj(path: str | Path, mesh: Mesh) -> Path:
    path = Path(path)
    lines = [f"# {mesh.name}: {mesh.vertices.shape[0]} vertices, {mesh.num_faces} faces"]
    lines += [f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in mesh.vertices.tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in mesh.faces.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def load_mesh(path: str | Path) -> Mesh:
    """Read an .stl or .obj file (by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".stl":
        return read_stl(path)
    if suffix == ".obj":
        return read_obj(path)
    raise MeshFormatError(f"{path}: unknown mesh format {suffix!r} (expected .stl or .obj)")
