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
    bumpy_sphere,
    bunny_like,
    camera_rays,
    icosphere,
    load_mesh,
    render_mesh,
    rotation_y,
    rotation_z,
    torus,
    vase,
    write_obj,
    write_stl,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script


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


def main(args: Args) -> dict:
    with Run(day=8, args=args) as run:
        run.record_source("data", "procedural meshes (icosphere, torus, vase, bumpy sphere, bunny)")
        size = 32 if args.smoke else args.size
        k = 1 if args.smoke else 3
        meshes = [icosphere(k), torus(), vase(), bumpy_sphere(k), bunny_like(max(k - 1, 1))]
        meshes = [m.normalized() for m in meshes]
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
        fig = Figure(figsize=(3 * len(meshes), 3.3))
        axes = fig.subplots(1, len(meshes))
        total_pairs, seconds = 0, 0.0
        for ax, mesh in zip(axes, meshes, strict=True):
            tris = mesh.transformed(view).triangles.float()
            with Stopwatch() as sw:
                depth, shade = render_mesh(rays, tris, chunk_size=1024, cull=True)
            seconds += sw.seconds
            total_pairs += rays.shape[0] * mesh.num_faces
            ax.imshow(shade.reshape(size, size).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{mesh.name}\n{mesh.num_faces:,} triangles", fontsize=10)
            ax.axis("off")
        fig.tight_layout()
        run.save_fig(fig, "mesh_gallery")

        # a depth map of the last procedural mesh: what the ray-triangle solve returns directly
        depth, _ = render_mesh(rays, meshes[4].transformed(view).triangles.float(), 1024, cull=True)
        fig = Figure(figsize=(4.6, 3.8))
        ax = fig.subplots()
        img = depth.reshape(size, size).clone()
        img[~torch.isfinite(img)] = torch.nan
        im = ax.imshow(img.numpy(), cmap="magma_r")
        fig.colorbar(im, ax=ax, label="depth t (distance along x)")
        ax.set_title(f"{meshes[4].name}: depth of the nearest hit")
        ax.axis("off")
        run.save_fig(fig, "bunny_depth")

        return run.finish(
            {
                "meshes": [m.name for m in meshes],
                "faces": [m.num_faces for m in meshes],
                **round_trip,
                "image_size": size,
                "render_seconds_total": seconds,
                "rays_x_triangles": total_pairs,
                "bunny_pixels_hit": int(torch.isfinite(depth).sum()),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
