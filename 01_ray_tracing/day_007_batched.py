"""Day 7 — Batched rays: a 2D grid of rays against a triangle, all pairs at once.

`make_rays_2d` builds a grid of rays (1, y, z) from a camera; `ray_triangle_depths` solves the
3x3 system [-D, B - A, C - A] [t, u, v] = O - A for every ray with Moeller-Trumbore triple
products broadcast over [rays, triangles], instead of one `torch.linalg.solve` per pixel. We
render (a) a single triangle's hit mask, checking it pixel by pixel against the per-ray solve
loop, and (b) the depth of two interpenetrating triangles, where the nearer one must win per
pixel. The grid is aligned so that some rays pass exactly through the triangle's vertices and
along its edges: they count as hits (u, v >= 0, u + v <= 1 inclusive).

Run:  arena run 7 [--smoke] [--publish]   (or python 01_ray_tracing/day_007_batched.py)
Full run: ~5 s on 2 CPU cores (the per-ray solve loop dominates). Smoke: ~2 s.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.raytracing import (
    intersect_ray_triangle_solve,
    make_rays_2d,
    ray_triangle_depths,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script


@dataclass
class Args(DayArgs):
    num_pixels: int = 81  # grid of num_pixels x num_pixels rays
    limit: float = 0.5  # directions (1, y, z) with y, z in [-limit, limit]


# corners project onto grid directions of the default 81 x 81 grid, so rays graze vertices/edges
TRIANGLE = torch.tensor([[2.0, 0.2, -0.8], [2.0, -0.8, -0.4], [2.0, 0.6, 0.7]])
TWO_TRIANGLES = torch.tensor(
    [
        [[1.5, -0.7, -0.6], [1.5, 0.7, -0.6], [1.5, 0.0, 0.7]],  # upright, at x = 1.5
        [[1.0, -0.6, 0.2], [2.5, 0.6, 0.2], [1.8, 0.0, -0.75]],  # tilted: crosses the first
    ]
)


def main(args: Args) -> dict:
    with Run(day=7, args=args) as run:
        run.record_source("data", "hand-made triangles (no download)")
        n = 21 if args.smoke else args.num_pixels
        rays = make_rays_2d(n, n, args.limit, args.limit).double()
        tri = TRIANGLE.double()[None]

        with Stopwatch() as batch_time:
            _, hit = ray_triangle_depths(rays, tri)
        with Stopwatch() as loop_time:
            loop = torch.tensor([intersect_ray_triangle_solve(r, tri[0]) for r in rays])
        mismatches = int((hit[:, 0] != loop).sum())
        depth, _ = ray_triangle_depths(rays, TWO_TRIANGLES.double())
        nearest = depth.min(dim=1)
        which = torch.where(torch.isfinite(nearest.values), nearest.indices, -1)

        def image(x: torch.Tensor) -> torch.Tensor:
            # rays are ordered y-major; show z up and y to the right (a view from behind x)
            return x.reshape(n, n).T.flip(0).numpy()

        extent = [-args.limit, args.limit, -args.limit, args.limit]
        fig = Figure(figsize=(11, 3.6))
        axes = fig.subplots(1, 3)
        axes[0].imshow(image(hit[:, 0].float()), cmap="Greys", extent=extent)
        axes[0].set_title(f"one triangle: {int(hit.sum())} of {n * n} rays hit")
        im = axes[1].imshow(image(nearest.values.float()), cmap="viridis_r", extent=extent)
        fig.colorbar(im, ax=axes[1], label="depth t (= x distance)", shrink=0.8)
        axes[1].set_title("2 crossing triangles: depth")
        axes[2].imshow(image(which.float()), cmap="Set2", vmin=-1, vmax=6, extent=extent)
        axes[2].set_title("which triangle is in front")
        for ax in axes:
            ax.set_xlabel("y slope")
            ax.set_ylabel("z slope")
        fig.tight_layout()
        run.save_fig(fig, "triangle_renders")

        return run.finish(
            {
                "num_rays": n * n,
                "triangle_hits": int(hit.sum()),
                "solve_loop_vs_batched_mismatches": mismatches,
                "loop_seconds": loop_time.seconds,
                "batched_seconds": batch_time.seconds,
                "batched_speedup": loop_time.seconds / batch_time.seconds,
                "pixels_front_triangle_0": int((which == 0).sum()),
                "pixels_front_triangle_1": int((which == 1).sum()),
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
