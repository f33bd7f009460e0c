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
    render_mesh,
    rotation_frames,
    rotation_y,
    rotation_z,
    save_gif,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script


@dataclass
class Args(DayArgs):
    size: int = 256  # still image is size x size
    gif_size: int = 128  # animation frames are gif_size x gif_size
    frames: int = 30  # frames per full turn
    fps: float = 15.0  # GIF playback speed
    memory_budget_mb: float = 256.0  # bound on the renderer's [chunk, triangles] intermediates


def main(args: Args) -> dict:
    with Run(day=9, args=args) as run:
        run.record_source("data", "procedural mesh: bunny_like (ellipsoids), no download")
        size, gif_size, n_frames = (
            (32, 24, 3) if args.smoke else (args.size, args.gif_size, args.frames)
        )
        mesh = bunny_like(1 if args.smoke else 3)
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
        fig.colorbar(im, ax=ax_d, shrink=0.8, label="depth t")
        ax_d.set_title("depth buffer (nearest hit)")
        ax_s.imshow(shade.reshape(size, size).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        ax_s.set_title("Lambert shading, light from upper left")
        for ax in (ax_d, ax_s):
            ax.axis("off")
        fig.suptitle(f"{mesh.name}: {mesh.num_faces:,} triangles, {size}x{size} rays")
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
            ax.set_title(f"{360 * k / n_frames:.0f} deg", fontsize=9)
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
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
