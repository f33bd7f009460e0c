"""Day 6 — Ray tracing intro: 1D rays and ray-segment intersection as a 2x2 linear solve.

A camera at the origin sends a fan of rays (1, y, 0) into the plane z = 0; a few line segments
(a small "scene") sit in front of it. For each ray and segment we solve
[D, L1 - L2] [t, s] = L1 - O, first one pair at a time with `torch.linalg.solve`, then for all
pairs at once with Cramer's rule (`arena_core/raytracing/segments.py`), and check that both give
the same hits, including the edge cases (parallel rays, endpoints, segments behind the camera).

Run:  arena run 6 [--smoke] [--publish]   (or python 01_ray_tracing/day_006_intro.py)
Full run: ~5 s on 2 CPU cores. Smoke: ~2 s.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.raytracing import (
    intersect_ray_segment_solve,
    intersect_rays_segments,
    make_rays_1d,
    ray_segment_params,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script


@dataclass
class Args(DayArgs):
    num_pixels: int = 41  # number of rays in the fan
    y_limit: float = 1.0  # directions (1, y, 0) with y in [-y_limit, y_limit]


SEGMENTS = torch.tensor(
    [
        [[1.0, -0.8, 0.0], [1.0, -0.2, 0.0]],  # a wall in front
        [[2.0, 0.2, 0.0], [2.5, 1.4, 0.0]],  # a slanted segment
        [[3.0, -1.5, 0.0], [3.0, 1.5, 0.0]],  # a back wall, partly shadowed
        [[1.5, 0.75, 0.0], [2.5, 1.25, 0.0]],  # lies along the ray y = 0.5 x: parallel, a miss
        [[-1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]],  # behind the camera: never hit
    ]
)


def main(args: Args) -> dict:
    with Run(day=6, args=args) as run:
        run.record_source("data", "hand-made 2D scene of 5 segments (no download)")
        n = 9 if args.smoke else args.num_pixels
        rays = make_rays_1d(n, args.y_limit).double()
        segments = SEGMENTS.double()

        with Stopwatch() as loop_time:
            loop = torch.tensor(
                [[intersect_ray_segment_solve(r, s) for s in segments] for r in rays]
            )
        with Stopwatch() as batch_time:
            batched = intersect_rays_segments(rays, segments)
        t, hit = ray_segment_params(rays, segments)
        mismatches = int((loop != batched).sum())
        run.log(pairs=n * len(segments))

        fig = Figure(figsize=(8, 3.6))
        ax = fig.subplots()
        nearest = t.min(dim=1).values
        for r, depth in zip(rays, nearest, strict=True):
            end = depth.item() if torch.isfinite(depth) else 3.6
            ax.plot(
                [0, end * r[1, 0]], [0, end * r[1, 1]],
                color="tab:orange" if torch.isfinite(depth) else "0.8", lw=0.8,
            )  # fmt: skip
        for k, seg in enumerate(segments):
            ax.plot(
                seg[:, 0], seg[:, 1], lw=3, color="tab:blue", label="segments" if k == 0 else None
            )
        ax.plot([], [], color="tab:orange", label="ray, up to its first hit")
        ax.plot([], [], color="0.8", label="ray that misses everything")
        ax.scatter([0], [0], color="k", zorder=5, label="camera")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_aspect("equal")
        ax.set_xlim(-1.3, 3.7)
        ax.set_ylim(-1.7, 1.7)
        ax.set_title(f"{n} rays vs {len(segments)} segments: rays stop at their first hit")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
        run.save_fig(fig, "rays_and_segments")

        return run.finish(
            {
                "num_rays": n,
                "num_segments": len(segments),
                "rays_hitting_something": int(hit.any(1).sum()),
                "hits_per_segment": hit.sum(0).tolist(),
                "solve_vs_batched_mismatches": mismatches,
                "loop_seconds": loop_time.seconds,
                "batched_seconds": batch_time.seconds,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
