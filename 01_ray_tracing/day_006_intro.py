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
    segment_cramer,
)
from arena_core.utils import DayArgs, Run, Stopwatch, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix


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


# The worked example of the post: one segment, three rays from the origin (x, y; z = 0)
EXAMPLE_SEGMENT = torch.tensor([[[3.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])  # L1 = (3, 0), L2 = (1, 1)
EXAMPLE_RAYS = torch.tensor(
    [
        [[0.0, 0.0, 0.0], [1.0, 0.5, 0.0]],  # crosses the middle of the segment
        [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]],  # passes exactly through the endpoint L2
        [[0.0, 0.0, 0.0], [1.0, -0.5, 0.0]],  # parallel to the segment
    ]
)


def mechanism_figure() -> tuple[Figure, dict]:
    """The three example rays, the segment, and the Cramer numerators that decide each one."""
    det, t_num, s_num = (v[:, 0] for v in segment_cramer(EXAMPLE_RAYS, EXAMPLE_SEGMENT))
    t, hit = ray_segment_params(EXAMPLE_RAYS, EXAMPLE_SEGMENT)
    fig, ax = canvas(width=16, height=6, scale=0.55)
    k = 2.0  # canvas cells per unit of the scene
    L1, L2 = (EXAMPLE_SEGMENT[0, :, :2] * k).tolist()
    ax.plot([L1[0], L2[0]], [L1[1], L2[1]], color="#1f77b4", lw=4, solid_capstyle="round")
    label(ax, (L1[0] + 0.15, L1[1] - 0.35), "$L_1=(3,0)$", ha="left")
    label(ax, (L2[0] - 0.1, L2[1] + 0.35), "$L_2=(1,1)$", ha="right")
    colours = ["#d62728", "#2ca02c", "0.55"]
    label_at = [((2.3, 0.55), "left"), ((0.55, 1.15), "right"), ((5.4, -2.6), "left")]
    for i, colour in enumerate(colours):
        d = EXAMPLE_RAYS[i, 1, :2]
        end = (t[i, 0] if hit[i, 0] else 2.6) * d * k
        arrow(ax, (0, 0), (float(end[0]), float(end[1])), color=colour)
        if hit[i, 0]:
            ax.plot(*end.tolist(), "o", color=colour, ms=7, zorder=5)
        xy, ha = label_at[i]
        label(ax, xy, f"ray {i + 1}", ha=ha, color=colour)
    ax.plot([0], [0], "ko", ms=6)
    label(ax, (3.2, 3.0), r"$O + tD = L_1 + s\,(L_2 - L_1)$", fontsize=11.5)
    label(ax, (-0.2, 0), "$O$", ha="right")
    rows = [f"ray {i + 1}: $D=({d[0]:g}, {d[1]:g})$" for i, d in enumerate(EXAMPLE_RAYS[:, 1])]
    values = torch.stack([det, t_num, s_num], dim=1)
    matrix(
        ax,
        values.tolist(),
        xy=(10.4, -1.6),
        cmap=None,
        cell=1.1,
        row_labels=rows,
        col_labels=["det", "$t_{num}$", "$s_{num}$"],
        title="Cramer's rule, no division",
    )
    verdicts = []
    for i in range(3):
        if det[i] == 0:
            verdicts.append("det = 0: parallel, miss")
        else:
            sign = torch.sign(det[i])
            tn, sn, ad = float(t_num[i] * sign), float(s_num[i] * sign), float(det[i].abs())
            where = "endpoint" if sn in (0.0, ad) else "inside"
            verdicts.append(f"t = {tn:g}/{ad:g},  s = {sn:g}/{ad:g}: hit ({where})")
        label(ax, (13.9, -1.6 + 1.1 * (2 - i) + 0.55), verdicts[-1], ha="left", color=colours[i])
    label(
        ax,
        (13.2, -2.6),
        r"hit $\Leftrightarrow$ det $\neq 0$,  $\sigma t_{num} > 0$,  "
        r"$0 \leq \sigma s_{num} \leq |$det$|$   ($\sigma$ = sign of det)",
        fontsize=10.5,
    )
    finish(ax)
    numbers = {
        "example_det": det.tolist(),
        "example_t_num": t_num.tolist(),
        "example_s_num": s_num.tolist(),
        "example_hit": hit[:, 0].tolist(),
    }
    return fig, numbers


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
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")

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
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
