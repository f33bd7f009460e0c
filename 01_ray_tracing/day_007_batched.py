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
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from arena_core.raytracing import (
    intersect_ray_triangle_solve,
    make_rays_2d,
    ray_triangle_depths,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script
from arena_core.utils.diagrams import PALETTE, arrow, box, canvas, finish, label


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


# The worked example of the post: a triangle in the plane x = 2 and one ray from the origin
EXAMPLE_TRIANGLE = torch.tensor([[2.0, 0.0, 0.0], [2.0, 2.0, 0.0], [2.0, 0.0, 2.0]])  # A, B, C
EXAMPLE_RAY = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.25, 0.5]])  # O, D


def mechanism_figure() -> tuple[Figure, dict]:
    """Left: the hit point in barycentric coordinates (u, v). Right: the shapes of the batch."""
    t, hit = ray_triangle_depths(EXAMPLE_RAY[None].double(), EXAMPLE_TRIANGLE[None].double())
    A, B, C = EXAMPLE_TRIANGLE.double()
    origin, D = EXAMPLE_RAY.double()
    t_ref, u, v = torch.linalg.solve(torch.stack([-D, B - A, C - A], dim=1), origin - A).tolist()
    point = (origin + t_ref * D).tolist()

    fig, ax = canvas(width=17, height=6, scale=0.55)
    k = 2.2  # canvas cells per unit of (y, z) in the triangle's plane x = 2
    a, b, c = [(float(p[1]) * k, float(p[2]) * k) for p in (A, B, C)]
    ax.fill([a[0], b[0], c[0]], [a[1], b[1], c[1]], color=PALETTE["input"], ec="0.35", lw=1.2)
    arrow(ax, a, b, "$E_1 = B - A$", text_offset=(0.5, -0.95))
    arrow(ax, a, c, "$E_2 = C - A$", text_offset=(-0.9, 0.0))
    hit_xy = (point[1] * k, point[2] * k)
    foot = (a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]))  # A + u E1
    ax.plot([a[0], foot[0]], [a[1], foot[1]], color="#d62728", lw=3)
    ax.plot([foot[0], hit_xy[0]], [foot[1], hit_xy[1]], color="#d62728", lw=3, ls="--")
    ax.plot(*hit_xy, "o", color="#d62728", ms=8, zorder=5)
    label(ax, ((a[0] + foot[0]) / 2, a[1] - 0.2), f"u = {u:g}", color="#d62728", va="top")
    label(ax, (hit_xy[0] + 0.2, hit_xy[1] - 0.55), f"v = {v:g}", color="#d62728", ha="left")
    note_xy = (hit_xy[0] + 1.5, hit_xy[1] + 1.4)  # outside the triangle, pointing at the hit
    ax.plot([hit_xy[0], note_xy[0] - 0.1], [hit_xy[1], note_xy[1] - 0.1], color="0.4", lw=0.8)
    label(
        ax,
        note_xy,
        f"hit at t = {t_ref:g}: ({point[0]:g}, {point[1]:g}, {point[2]:g})",
        ha="left",
    )
    for name, xy, ha, dy in (
        ("A", a, "right", -0.3),
        ("B", b, "left", -0.3),
        ("C", c, "right", 0.3),
    ):
        label(ax, (xy[0] + (-0.2 if ha == "right" else 0.2), xy[1] + dy), name, ha=ha)
    label(ax, (2.2, 5.3), "triangle in the plane x = 2  (y to the right, z up)", fontsize=10.5)
    label(ax, (2.2, -1.5), "inside  ⇔  u ≥ 0,  v ≥ 0,  u + v ≤ 1", fontsize=10.5)

    # right: the batch, shapes only
    x0, w = 8.2, 2.4
    box(ax, (x0, 3.3), "rays\n[R, 1, 3]", width=w, height=1.1, role="input")
    box(ax, (x0, 1.1), "triangles\n[1, T, 3]", width=w, height=1.1, role="param")
    box(ax, (x0 + 3.6, 2.0), "P = D × E₂,  Q = S × E₁\n[R, T, 3]", width=3.8, height=1.3)
    box(ax, (x0 + 3.6, -0.2), "det, u, v, t\n[R, T]", width=3.8, height=1.1)
    box(ax, (x0 + 3.6, -2.3), "depth, hit triangle\n[R]", width=3.8, height=1.1, role="output")
    arrow(ax, (x0 + w + 0.05, 3.85), (x0 + 3.55, 2.95))
    arrow(ax, (x0 + w + 0.05, 1.65), (x0 + 3.55, 2.35))
    label(ax, (x0 + w / 2, 2.75), "broadcast", fontsize=9.5, color="0.3")
    arrow(ax, (x0 + 5.5, 1.95), (x0 + 5.5, 0.95), "dot products", text_offset=(1.25, -0.15))
    arrow(ax, (x0 + 5.5, -0.25), (x0 + 5.5, -1.15), "min over T", text_offset=(1.15, -0.15))
    finish(ax)
    numbers = {
        "example_t": float(t[0, 0]),
        "example_hit": bool(hit[0, 0]),
        "example_u": u,
        "example_v": v,
    }
    return fig, numbers


def main(args: Args) -> dict:
    with Run(day=7, args=args) as run:
        run.record_source("data", "hand-made triangles (no download)")
        n = 21 if args.smoke else args.num_pixels
        rays = make_rays_2d(n, n, args.limit, args.limit).double()
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")
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
        fig = Figure(figsize=(11.5, 4.2))
        axes = fig.subplots(1, 3)
        axes[0].imshow(image(hit[:, 0].float()), cmap="Greys", extent=extent)
        axes[0].set_title(f"one triangle: {int(hit.sum()):,} hits")
        im = axes[1].imshow(image(nearest.values.float()), cmap="viridis_r", extent=extent)
        fig.colorbar(im, ax=axes[1], label="depth t (x distance)", shrink=0.8)
        axes[1].set_title("two triangles: depth")
        colours = ["0.93", "#ff7f0e", "#1f77b4"]  # no hit, upright, tilted
        axes[2].imshow(
            image(which.float()), cmap=ListedColormap(colours), vmin=-1.5, vmax=1.5, extent=extent
        )
        axes[2].set_title("two triangles: nearer one")
        axes[2].legend(
            handles=[
                Patch(color=c, label=name)
                for c, name in zip(colours[1:], ["upright (x = 1.5)", "tilted"], strict=True)
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
        )
        for ax in axes:
            ax.set_xlabel("ray slope y")
            ax.set_ylabel("ray slope z")
            ax.grid(False)
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
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
