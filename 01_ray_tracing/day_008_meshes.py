"""Day 8 — Triangle meshes: generate, save, reload and ray-trace them.

A mesh is vertices [V, 3] + faces [F, 3]; the renderer wants its triangle soup [F, 3, 3]. With no
data files on this machine, the meshes are generated: an icosphere, a torus, a vase (surface of
revolution), a bumpy "rock" sphere and a rabbit made of ellipsoids (`procedural.py`). Each is
written to binary STL, ASCII STL and OBJ and read back (`mesh_io.py`): the round trips must
reproduce the triangles exactly. Then every mesh is ray-traced with the batched Moeller-Trumbore
intersection: one ray per pixel, nearest hit per ray, shaded by the hit face's normal. Pass
`--mesh-path your.stl` (or .obj) to render your own file as well.

Run:  arena run 8 [--smoke] [--publish]   (or python 01_ray_tracing/day_008_meshes.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~5 s.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from arena_core.raytracing import (
    Mesh,
    bumpy_sphere,
    bunny_like,
    camera_rays,
    edge_counts,
    icosphere,
    load_mesh,
    read_obj,
    render_mesh,
    rotation_y,
    rotation_z,
    signed_volume,
    torus,
    vase,
    write_obj,
    write_stl,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script
from arena_core.utils.diagrams import arrow, box, canvas, finish, label, matrix

#: The worked example of the post: the corner tetrahedron, faces counter-clockwise from outside
TETRAHEDRON = Mesh(
    torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]),
    "tetrahedron",
)
#: Human names for the procedural meshes in the figures
NAMES = {
    "icosphere3": "icosphere (3 subdivisions)",
    "torus": "torus",
    "vase": "vase",
    "bumpy_sphere": "bumpy sphere",
    "bunny_like": "rabbit of ellipsoids",
}


@dataclass
class Args(DayArgs):
    size: int = 128  # rendered image is size x size pixels
    mesh_path: str = ""  # optional .stl/.obj file to render too (normalised to the unit sphere)


def _canonical(triangles: torch.Tensor) -> torch.Tensor:
    """Sort triangles by their coordinates so two soups can be compared regardless of order."""
    flat = triangles.reshape(len(triangles), 9).double()
    for col in reversed(range(9)):
        flat = flat[torch.argsort(flat[:, col], stable=True)]
    return flat


def mechanism_figure(out_dir: Path) -> tuple[Figure, dict]:
    """OBJ text -> vertices + faces -> triangle soup, for the tetrahedron, with the checks."""
    path = write_obj(out_dir / "tetrahedron.obj", TETRAHEDRON)
    mesh = read_obj(path)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    soup = mesh.triangles
    counts = edge_counts(mesh.faces)
    n_v, n_e, n_f = mesh.vertices.shape[0], counts.numel(), mesh.num_faces
    volume = signed_volume(mesh)

    fig, ax = canvas(width=18, height=7, scale=0.55)
    box(ax, (0, -0.2), "", width=3.0, height=6.0, role="neutral")
    label(ax, (1.5, 6.25), "tetrahedron.obj", fontweight="bold")
    for i, line in enumerate(lines):
        label(ax, (0.35, 5.35 - 0.68 * i), line, ha="left", family="monospace")
    arrow(ax, (3.3, 2.8), (5.7, 2.8), "read_obj", text_offset=(0.0, 0.15))
    label(ax, (4.5, 2.45), "1-based → 0-based", fontsize=8.5, color="0.3", va="top")
    rows = [str(i) for i in range(n_v)]
    matrix(ax, mesh.vertices.tolist(), xy=(6.7, 3.3), cmap=None, cell=0.7, row_labels=rows,
           col_labels=["x", "y", "z"], title="vertices [4, 3]")  # fmt: skip
    matrix(ax, mesh.faces.tolist(), xy=(6.7, -0.6), cmap=None, cell=0.7,
           row_labels=[f"face {i}" for i in range(n_f)], title="faces [4, 3]",
           highlight=[(3, 0), (3, 1), (3, 2)])  # fmt: skip
    arrow(ax, (9.1, 2.3), (11.3, 2.3), "vertices[faces]", text_offset=(0.0, 0.15))
    label(ax, (10.2, 1.95), "one gather", fontsize=8.5, color="0.3", va="top")
    matrix(ax, soup[3].tolist(), xy=(12.5, 1.2), cmap=None, cell=0.7,
           row_labels=["A = v1", "B = v2", "C = v3"], col_labels=["x", "y", "z"],
           title="triangles[3]  (soup [4, 3, 3])")  # fmt: skip
    checks = [
        f"every edge in 2 faces ({n_e} edges): closed",
        f"V − E + F = {n_v} − {n_e} + {n_f} = {n_v - n_e + n_f}",
        f"volume = ⅙ Σ A · (B × C) = {volume:.4g}  (1/6)",
    ]
    for i, text in enumerate(checks):
        label(ax, (11.4, 0.0 - 0.6 * i), text, ha="left")
    finish(ax)
    numbers = {
        "example_edges_shared_by_two_faces": bool((counts == 2).all()),
        "example_euler_characteristic": n_v - n_e + n_f,
        "example_signed_volume": volume,
    }
    return fig, numbers


def main(args: Args) -> dict:
    with Run(day=8, args=args) as run:
        run.record_source("data", "procedural meshes (icosphere, torus, vase, bumpy sphere, bunny)")
        size = 32 if args.smoke else args.size
        k = 1 if args.smoke else 3
        meshes = [icosphere(k), torus(), vase(), bumpy_sphere(k), bunny_like(max(k - 1, 1))]
        meshes = [m.normalized() for m in meshes]
        fig, example = mechanism_figure(run.out_dir)
        run.save_fig(fig, "mechanism")
        if args.mesh_path:
            meshes.append(load_mesh(args.mesh_path).normalized())
            run.record_source("user_mesh", str(Path(args.mesh_path).resolve()))

        # round trips through the three file formats
        round_trip = {}
        for fmt in ("stl_binary", "stl_ascii", "obj"):
            worst = 0.0
            for mesh in meshes[:5]:
                path = run.out_dir / f"{mesh.name}.{fmt.split('_')[0]}"
                if fmt == "obj":
                    write_obj(path, mesh)
                else:
                    write_stl(path, mesh, binary=fmt == "stl_binary")
                back = load_mesh(path)
                assert back.num_faces == mesh.num_faces, (fmt, mesh.name)
                diff = _canonical(back.triangles) - _canonical(mesh.triangles.float())
                worst = max(worst, diff.abs().max().item())
            round_trip[f"{fmt}_max_abs_error"] = worst

        # render each mesh (scaled into the unit sphere), tilted so that the top is visible
        rays = camera_rays(size, size, distance=3.2, fov_degrees=45.0)
        view = rotation_y(-0.45) @ rotation_z(0.6)  # turn, then tip the top towards the camera
        rows = -(-(len(meshes) + 1) // 3)  # three panels per row, the depth map last
        fig = Figure(figsize=(9.5, 3.4 * rows))
        axes = fig.subplots(rows, 3, squeeze=False).ravel()
        total_pairs, seconds = 0, 0.0
        for ax, mesh in zip(axes, meshes, strict=False):
            tris = mesh.transformed(view).triangles.float()
            with Stopwatch() as sw:
                depth, shade = render_mesh(rays, tris, chunk_size=1024, cull=True)
            seconds += sw.seconds
            total_pairs += rays.shape[0] * mesh.num_faces
            ax.imshow(shade.reshape(size, size).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{NAMES.get(mesh.name, mesh.name)}\n{mesh.num_faces:,} triangles")
            ax.axis("off")

        # the depth buffer of the rabbit: what the ray-triangle solve returns directly
        depth, _ = render_mesh(rays, meshes[4].transformed(view).triangles.float(), 1024, cull=True)
        ax = axes[len(meshes)]
        img = depth.reshape(size, size).clone()
        img[~torch.isfinite(img)] = torch.nan
        im = ax.imshow(img.numpy(), cmap="magma_r")
        fig.colorbar(im, ax=ax, label="depth t (x distance)", shrink=0.85)
        ax.set_title("rabbit: depth of the\nnearest hit")
        for ax in axes[len(meshes) :]:
            ax.axis("off")
        fig.tight_layout()
        run.save_fig(fig, "mesh_gallery")

        return run.finish(
            {
                "meshes": [m.name for m in meshes],
                "faces": [m.num_faces for m in meshes],
                **round_trip,
                "image_size": size,
                "render_seconds_total": seconds,
                "rays_x_triangles": total_pairs,
                "bunny_pixels_hit": int(torch.isfinite(depth).sum()),
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
