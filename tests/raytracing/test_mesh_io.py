"""STL (binary/ASCII) and OBJ round trips, files written independently with numpy, and errors."""

import numpy as np
import pytest
import torch

from arena_core.raytracing import (
    Mesh,
    MeshFormatError,
    icosphere,
    load_mesh,
    read_obj,
    read_stl,
    torus,
    write_obj,
    write_stl,
)


def _soup_sorted(triangles: torch.Tensor) -> np.ndarray:
    """Triangles as a canonical set: each triangle's corners rotated to start at its smallest
    corner (keeps the winding), then all triangles sorted."""
    t = triangles.double().numpy()
    out = []
    for tri in t:
        k = min(range(3), key=lambda i: tuple(tri[i]))
        out.append(np.roll(tri, -k, axis=0).ravel())
    out = np.array(out)
    return out[np.lexsort(out.T[::-1])]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "ascii"])
def test_stl_round_trip(tmp_path, binary):
    mesh = torus(n_major=12, n_minor=7)
    path = write_stl(tmp_path / "t.stl", mesh, binary=binary)
    back = read_stl(path)
    # float32 storage (binary) or 9 significant digits (ASCII) both preserve float32 exactly
    np.testing.assert_array_equal(_soup_sorted(back.triangles), _soup_sorted(mesh.triangles))
    assert back.vertices.shape[0] == mesh.vertices.shape[0]  # shared corners were merged


def test_binary_stl_written_with_numpy_is_read(tmp_path):
    rng = np.random.default_rng(0)
    tris = rng.normal(size=(5, 3, 3)).astype("<f4")
    body = b"".join(
        np.zeros(3, "<f4").tobytes() + t.tobytes() + np.uint16(0).tobytes() for t in tris
    )
    # a header starting with "solid" must not confuse the reader (some exporters do this)
    path = tmp_path / "np.stl"
    path.write_bytes(b"solid but binary".ljust(80) + np.uint32(5).tobytes() + body)
    np.testing.assert_array_equal(
        _soup_sorted(read_stl(path).triangles), _soup_sorted(torch.from_numpy(tris))
    )


def test_obj_round_trip_and_features(tmp_path):
    mesh = icosphere(1)
    back = read_obj(write_obj(tmp_path / "s.obj", mesh))
    np.testing.assert_array_equal(back.faces.numpy(), mesh.faces.numpy())
    np.testing.assert_array_equal(back.vertices.numpy(), mesh.vertices.numpy())
    text = """# a unit square as a quad, a triangle with negative indices, normals and texcoords
o square
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0 1.0
vt 0 0
vn 0 0 1
f 1/1/1 2/1/1 3/1/1 4/1/1
v 0 0 1
f -5//1 -4//1 -1//1
s off
"""
    path = tmp_path / "q.obj"
    path.write_text(text)
    m = load_mesh(path)
    assert m.faces.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 4]]
    assert m.vertices.shape == (5, 3)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "out of range"),
        ("zero.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "out of range"),
        ("neg.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n", "out of range"),
        ("nan.obj", "v 0 x 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "non-numeric"),
        ("two.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n", "at least 3"),
        ("word.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 two 3\n", "bad face index"),
        ("empty.obj", "v 0 0 0\n", "no faces"),
        (
            "a.stl",
            "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n"
            "endloop\nendfacet\nendsolid x\n",
            "exactly 3",
        ),
        ("b.stl", "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 zero\n", "non-numeric"),
        ("c.stl", "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n", "ends inside"),
        ("d.mesh", "whatever", "unknown mesh format"),
    ],
)
def test_malformed_files_raise_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MeshFormatError, match=message):
        load_mesh(path)


def test_truncated_binary_stl(tmp_path):
    path = write_stl(tmp_path / "t.stl", icosphere(0))
    data = path.read_bytes()
    (tmp_path / "cut.stl").write_bytes(data[:-7])
    with pytest.raises(MeshFormatError, match="truncated"):
        read_stl(tmp_path / "cut.stl")
    (tmp_path / "tiny.stl").write_bytes(data[:40])
    with pytest.raises(MeshFormatError, match="too short"):
        read_stl(tmp_path / "tiny.stl")


def test_mesh_rejects_bad_indices():
    with pytest.raises(ValueError):
        Mesh(torch.zeros(3, 3), torch.tensor([[0, 1, 3]]))
