"""Day 9 — Full render pipeline: depth buffer, Lambert shading, rotation matrices, an animation.

Pipeline per frame: rotate the mesh's vertices (R = rotation about an axis, Rodrigues' formula,
checked against scipy), build one camera ray per pixel, find each ray's nearest triangle with the
batched, chunked Moeller-Trumbore renderer, and shade the hit with Lambert's cosine law
I = ambient + (1 - ambient) max(0, n . L). The still render shows the depth buffer next to the
shaded image; the animation turns the rabbit once around the vertical axis (a looping GIF,
registered with the run so that --publish copies it) and a strip of frames shows it in a PNG.

Run:  arena run 9 [--smoke] [--publish]   (or python 01_ray_tracing/day_009_render.py)
Full run: ~15 s on 2 CPU cores. Smoke: ~3 s.
"""

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from arena_core.raytracing import (
    bunny_like,
    camera_rays,
    chunk_size_for_budget,
    face_normals,
    lambert_shading,
    render_depth,
    render_mesh,
    rotation_frames,
    rotation_y,
    rotation_z,
    save_gif,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label

# The worked example of the post, seen from the side (x to the right, z up; all at y = 0 here)
EXAMPLE_TRIANGLES = torch.tensor(
    [
        [[3.0, -1.0, -0.75], [3.0, 1.0, -0.75], [1.5, 0.0, 0.375]],  # near: plane x = 2 - 4z/3
        [[3.25, -2.0, -1.0], [3.25, 2.0, -1.0], [7.75, 0.0, 5.0]],  # far: plane x = 4 + 3z/4
    ],
    dtype=torch.float64,
)
EXAMPLE_RAYS = torch.tensor(
    [[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 0.0, 0.5]]], dtype=torch.float64
)
EXAMPLE_LIGHT = (-3.0, 0.0, 4.0)  # towards the light: behind the camera and above; |L| = 5
AMBIENT = 0.15  # the renderer's default ambient term


@dataclass
class Args(DayArgs):
    size: int = 256  # still image is size x size
    gif_size: int = 128  # animation frames are gif_size x gif_size
    frames: int = 30  # frames per full turn
    fps: float = 15.0  # GIF playback speed
    memory_budget_mb: float = 256.0  # bound on the renderer's [chunk, triangles] intermediates


def mechanism_figure() -> tuple[Figure, dict]:
    """Side view: two rays, the nearest hit of each, its normal, the light and the shade."""
    depth, index = render_depth(EXAMPLE_RAYS, EXAMPLE_TRIANGLES)
    all_t = [
        render_depth(EXAMPLE_RAYS, EXAMPLE_TRIANGLES[j : j + 1])[0].tolist() for j in range(2)
    ]  # per triangle, to show the hidden hit too
    shade = lambert_shading(EXAMPLE_RAYS, EXAMPLE_TRIANGLES, index, EXAMPLE_LIGHT, AMBIENT)
    normals = face_normals(EXAMPLE_TRIANGLES)
    light = torch.tensor(EXAMPLE_LIGHT, dtype=torch.float64) / 5.0

    fig, ax = canvas(width=16, height=8, scale=0.55)
    k = 1.3  # canvas cells per scene unit

    def at(x: float, z: float) -> tuple[float, float]:
        return (x * k, z * k)

    near, far = EXAMPLE_TRIANGLES[:, :, [0, 2]].tolist()  # (x, z) of the corners
    ax.plot(*zip(at(*near[0]), at(*near[2]), strict=True), color="#1f77b4", lw=5)
    ax.plot(*zip(at(*far[0]), at(*far[2]), strict=True), color="#ff7f0e", lw=5)
    label(ax, at(3.0, -1.05), "near triangle", color="#1f77b4")
    label(ax, at(7.2, 3.3), "far triangle", color="#ff7f0e", ha="left")
    ax.plot(0, 0, "ko", ms=7)
    label(ax, at(-0.15, 0.0), "camera", ha="right")
    colours = ["#d62728", "#2ca02c"]
    for i, colour in enumerate(colours):
        d = EXAMPLE_RAYS[i, 1, [0, 2]].tolist()
        t = float(depth[i])
        hit = (t * d[0], t * d[1])
        arrow(ax, (0, 0), at(*hit), color=colour)
        ax.plot(*at(*hit), "o", color=colour, ms=7, zorder=5)
        hidden = [all_t[j][i] for j in range(2) if j != int(index[i]) and all_t[j][i] < 1e9]
        for t_far in hidden:  # the ray would hit the far triangle too, further away
            ax.plot(*zip(at(*hit), at(t_far * d[0], t_far * d[1]), strict=True),
                    color=colour, ls=":", lw=1.5)  # fmt: skip
            ax.plot(*at(t_far * d[0], t_far * d[1]), "o", mfc="white", mec=colour, ms=7)
            label(ax, at(t_far * d[0] + 0.15, -0.3), f"t = {t_far:g}: hidden", color=colour,
                  ha="left", fontsize=9.5)  # fmt: skip
        n = normals[int(index[i])]
        n = n if float(n @ EXAMPLE_RAYS[i, 1]) < 0 else -n  # facing the camera
        n_end = (hit[0] + 0.9 * float(n[0]), hit[1] + 0.9 * float(n[2]))
        l_end = (hit[0] + 0.9 * float(light[0]), hit[1] + 0.9 * float(light[2]))
        arrow(ax, at(*hit), at(*n_end), color="0.2")
        arrow(ax, at(*hit), at(*l_end), color="#bcbd22")
        label(ax, at(n_end[0] - 0.05, n_end[1] + 0.05), "n", ha="right", va="bottom")
        label(ax, at(l_end[0] - 0.05, l_end[1] + 0.05), "L", ha="right", va="bottom",
              color="#8c8c00")  # fmt: skip
        cos = float(n @ light)
        text = (
            f"ray {i + 1}: nearest t = {t:g}\n"
            f"n · L = {cos:.2g},  I = {AMBIENT:g} + {1 - AMBIENT:g} · {max(cos, 0):.2g}"
            f" = {float(shade[i]):.3g}"
        )
        label(ax, (11.5, 4.6 - 2.1 * i), text, ha="left", color=colour, fontsize=10.5)
    label(ax, (11.5, 6.3), "$I = a + (1 - a)\\,\\max(0,\\; n \\cdot L)$", ha="left",
          fontsize=12)  # fmt: skip
    label(ax, (11.5, 0.3), "side view: x to the right, z up", ha="left", color="0.4")
    finish(ax)
    numbers = {
        "example_depth": depth.tolist(),
        "example_hit_triangle": index.tolist(),
        "example_shade": shade.tolist(),
    }
    return fig, numbers


def main(args: Args) -> dict:
    with Run(day=9, args=args) as run:
        run.record_source("data", "procedural mesh: bunny_like (ellipsoids), no download")
        size, gif_size, n_frames = (
            (32, 24, 3) if args.smoke else (args.size, args.gif_size, args.frames)
        )
        mesh = bunny_like(1 if args.smoke else 3)
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
        device = run.device
        view = rotation_y(-0.3) @ rotation_z(0.7)
        triangles = mesh.transformed(view).triangles.to(device)
        rays = camera_rays(size, size, distance=3.2, device=device)
        chunk = min(chunk_size_for_budget(mesh.num_faces, args.memory_budget_mb), 1024)
        with Stopwatch() as still_time:
            depth, shade = render_mesh(rays, triangles, chunk_size=chunk, cull=True)
        depth_img = depth.reshape(size, size).cpu().clone()
        depth_img[~torch.isfinite(depth_img)] = torch.nan

        fig = Figure(figsize=(9, 4))
        ax_d, ax_s = fig.subplots(1, 2)
        im = ax_d.imshow(depth_img.numpy(), cmap="magma_r")
        fig.colorbar(im, ax=ax_d, shrink=0.8, label="depth t (x distance from the camera)")
        ax_d.set_title("depth buffer (nearest hit)")
        ax_s.imshow(shade.reshape(size, size).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax_s.set_title("Lambert shading")
        for ax in (ax_d, ax_s):
            ax.axis("off")
        fig.suptitle(f"rabbit of ellipsoids: {mesh.num_faces:,} triangles, {size} × {size} rays")
        fig.tight_layout()
        run.save_fig(fig, "depth_and_shading")

        anim_mesh = bunny_like(1 if args.smoke else 2)
        with Stopwatch() as anim_time:
            frames = rotation_frames(
                anim_mesh,
                n_frames=n_frames,
                size=gif_size,
                axis=(0.0, 0.0, 1.0),
                tilt=(0.0, -0.3, 0.0),  # tip the top slightly towards the camera
                distance=3.2,
                memory_budget_mb=args.memory_budget_mb,
                device=device,
            )
        gif = save_gif(frames, run.out_dir / "bunny_turntable.gif", fps=args.fps)
        run.add_file(gif)

        shown = np.linspace(0, n_frames, min(6, n_frames), endpoint=False).astype(int)
        fig = Figure(figsize=(2 * len(shown), 2.3))
        for ax, k in zip(fig.subplots(1, len(shown)), shown, strict=True):
            ax.imshow(frames[k], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{360 * k / n_frames:.0f}°")
            ax.axis("off")
        fig.tight_layout()
        run.save_fig(fig, "frame_strip")

        return run.finish(
            {
                "faces_still": mesh.num_faces,
                "faces_animation": anim_mesh.num_faces,
                "still_size": size,
                "still_seconds": still_time.seconds,
                "pixels_hit": int(torch.isfinite(depth).sum()),
                "depth_min": float(depth[torch.isfinite(depth)].min()),
                "depth_max": float(depth[torch.isfinite(depth)].max()),
                "mean_shade_on_object": float(shade[torch.isfinite(depth)].mean()),
                "gif_frames": n_frames,
                "gif_size": gif_size,
                "gif_bytes": gif.stat().st_size,
                "seconds_per_frame": anim_time.seconds / n_frames,
                "turn_degrees_per_frame": 360 / n_frames,
                "view_rotation_det": float(torch.linalg.det(view)),
                "chunk_rays": chunk,
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
