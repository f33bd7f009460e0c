"""Day 10 — Performance: naive loop vs batched vs chunked (memory-bounded) vs culled rendering.

Five renderers compute the same depth buffer of a ~4,000-triangle mesh at 256 x 256:
a pure-Python double loop, a loop over rays vectorised over triangles, the broadcast batched
Moeller-Trumbore, the matmul form (triple products rewritten as [rays, 3] @ [3, triangles]),
and the matmul form with exact per-chunk culling. Slow renderers are timed on a strided subset
of rays and extrapolated per ray-triangle pair (the table says how many rays were timed).
Timings are interleaved (`arena_core.utils.compare`), medians of several rounds. Then a sweep of
the chunk size shows throughput vs memory, with peak memory measured by the kernel (VmHWM) in a
fresh spawned process per measurement, against the budget the chunk size was derived from.

Run:  arena run 10 [--smoke] [--publish]   (or python 01_ray_tracing/day_010_perf.py)
The main table runs torch with 1 thread by default: on 2 cores a second intra-op thread gains
little for these many small per-chunk ops, and it is fragile when another process takes a core;
the run measures that comparison too (`culled_seconds_1_thread` / `_2_threads` in metrics.json).

Full run: ~20 s on 2 CPU cores. Smoke: ~5 s.
"""

import os
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from arena_core.raytracing import (
    bunny_like,
    camera_rays,
    chunk_size_for_budget,
    icosphere,
    make_rays_2d,
    peak_memory_mb,
    render_depth,
    rotation_y,
    rotation_z,
)
from arena_core.raytracing.benchmark import benchmark_renderers, format_table, render_for_memory
from arena_core.utils import DayArgs, Run, Stopwatch, compare, run_script
from arena_core.utils.diagrams import canvas, finish, label

#: The culling example of the post: triangles given by the slopes (y/x, z/x) of their corners as
#: seen from the camera at the origin, and the distance x of the plane they lie in.
EXAMPLE_SLOPES = [
    [(-0.4, 0.3), (-0.15, 0.35), (-0.3, 0.1)],  # top left only
    [(0.1, -0.2), (0.4, -0.1), (0.25, -0.45)],  # bottom right only
    [(-0.3, -0.3), (0.2, -0.05), (-0.1, 0.2)],  # across the middle: meets all four tiles
    [(0.55, 0.2), (0.7, 0.3), (0.6, 0.45)],  # outside the picture
]
EXAMPLE_DISTANCES = [2.0, 3.0, 2.5, 2.0]
EXAMPLE_PIXELS, EXAMPLE_CHUNK = 16, 64  # a 16 x 16 image in four 8 x 8 tiles


@dataclass
class Args(DayArgs):
    size: int = 256  # image is size x size rays
    memory_budget_mb: float = 256.0  # bound on the [chunk, triangles] intermediates
    rounds: int = 3  # interleaved timing rounds (median reported)
    sweep_rays: int = 4096  # rays used for the chunk-size sweep
    threads: int = 1  # torch CPU threads for the main table (see the 1-vs-2 thread comparison)
    cull_chunk: int = 256  # rays per chunk for the culled renderer (a 16 x 16 tile)


def speedup_text(ratio: float) -> str:
    """ "5150x", "13x", "0.11x": whole numbers once they are large."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.2g}x"


def culling_example() -> tuple[torch.Tensor, torch.Tensor, list[list[int]], int]:
    """Rays, triangles, the candidate triangles of each 8 x 8 tile, and the pairs the renderer
    really tested (from `render_depth`'s own count)."""
    rays = make_rays_2d(EXAMPLE_PIXELS, EXAMPLE_PIXELS, 0.5, 0.5).double()
    tris = torch.tensor(
        [[[x, x * sy, x * sz] for sy, sz in corners]
         for corners, x in zip(EXAMPLE_SLOPES, EXAMPLE_DISTANCES, strict=True)],
        dtype=torch.float64,
    )  # fmt: skip
    stats: dict = {}
    render_depth(rays, tris, EXAMPLE_CHUNK, cull=True, stats=stats)
    slopes = rays[:, 1, 1:]  # D = (1, y, z): the slopes are y and z themselves
    lo = tris[:, :, 1:].div(tris[:, :, :1]).amin(1)
    hi = tris[:, :, 1:].div(tris[:, :, :1]).amax(1)
    candidates = []
    for top in (True, False):
        for left in (True, False):
            mask = ((slopes[:, 0] < 0) == left) & ((slopes[:, 1] > 0) == top)
            t_lo, t_hi = slopes[mask].amin(0), slopes[mask].amax(0)
            meets = ((lo <= t_hi) & (hi >= t_lo)).all(1)
            candidates.append(meets.nonzero().squeeze(1).tolist())
    return rays, tris, candidates, int(stats["pairs_tested"])


def mechanism_figure() -> tuple[Figure, dict]:
    """Slope space: four tiles of rays, four triangles with their slope boxes, and which
    triangles each tile tests."""
    rays, tris, candidates, tested = culling_example()
    n_rays, n_tri = rays.shape[0], tris.shape[0]
    per_tile = EXAMPLE_CHUNK * sum(len(c) for c in candidates)
    assert per_tile == tested, (per_tile, tested)  # the picture counts what the code tests
    fig, ax = canvas(width=12, height=9, scale=0.55)
    k = 10.0  # canvas cells per unit of slope

    def xy(sy: float, sz: float) -> tuple[float, float]:
        return (sy * k, sz * k)

    ax.add_patch(Rectangle(xy(-0.53, -0.53), 1.06 * k, 1.06 * k, fill=False, ec="0.3", lw=1.2))
    ax.plot([0, 0], [-0.53 * k, 0.53 * k], color="0.3", lw=1.2, ls="--")
    ax.plot([-0.53 * k, 0.53 * k], [0, 0], color="0.3", lw=1.2, ls="--")
    ax.plot(rays[:, 1, 1] * k, rays[:, 1, 2] * k, ".", color="0.75", ms=3)
    colours = ["#1f77b4", "#2ca02c", "#d62728", "#9467bd"]
    for j, corners in enumerate(EXAMPLE_SLOPES):
        pts = [xy(*c) for c in corners]
        ax.add_patch(Polygon(pts, closed=True, fc=colours[j], alpha=0.45, ec=colours[j], lw=1.5))
        ys, zs = zip(*pts, strict=True)
        ax.add_patch(Rectangle((min(ys), min(zs)), max(ys) - min(ys), max(zs) - min(zs),
                               fill=False, ec=colours[j], ls=":", lw=1.5))  # fmt: skip
        cx, cy = sum(ys) / 3, sum(zs) / 3
        label(ax, (cx, cy), f"T{j}", fontsize=10, fontweight="bold")
    names = ["top left", "top right", "bottom left", "bottom right"]
    spots = [(-0.27, 0.47), (0.27, 0.47), (-0.27, -0.49), (0.27, -0.49)]
    for name, spot, cand in zip(names, spots, candidates, strict=True):
        tested_names = ", ".join(f"T{j}" for j in cand) or "none"
        label(ax, xy(*spot), f"{name} tile tests {tested_names}", fontsize=9.5)
    label(ax, (0, -0.62 * k), "ray slope  $D_y / D_x$", fontsize=10.5)
    label(ax, (-0.62 * k, 0), "ray slope  $D_z / D_x$", fontsize=10.5, rotation=90)
    label(ax, (0, 0.66 * k), f"{n_rays} rays in four tiles, {n_tri} triangles: "
          f"{tested} of {n_rays * n_tri} pairs tested", fontsize=11)  # fmt: skip
    finish(ax)
    return fig, {
        "example_pairs_tested": tested,
        "example_pairs_total": n_rays * n_tri,
        "example_candidates_per_tile": candidates,
    }


def main(args: Args) -> dict:
    with Run(day=10, args=args) as run:
        smoke = args.smoke
        mesh = icosphere(1) if smoke else bunny_like(3)
        run.record_source("data", f"procedural mesh {mesh.name} ({mesh.num_faces} triangles)")
        size = 24 if smoke else args.size
        device = run.device
        view = rotation_y(-0.3) @ rotation_z(0.7)
        tris = mesh.transformed(view).triangles.to(device)
        rays = camera_rays(size, size, distance=3.2, device=device)
        n_rays, n_tri = rays.shape[0], mesh.num_faces
        fig, example = mechanism_figure()
        run.save_fig(fig, "mechanism")

        # 1. all five renderers agree on a subset of rays (the fast ones on the full image)
        stats: dict = {}
        with Stopwatch() as culled_time:
            depth, index = render_depth(rays, tris, args.cull_chunk, cull=True, stats=stats)
        sub = rays[:: max(1, n_rays // 64)]
        ref, ref_index = render_depth(sub, tris, None, "broadcast")
        sub_depth = depth[:: max(1, n_rays // 64)]
        agree = bool(torch.equal(ref_index, index[:: max(1, n_rays // 64)])) and bool(
            torch.allclose(ref[torch.isfinite(ref)], sub_depth[torch.isfinite(ref)], rtol=1e-5)
        )

        # 2. interleaved timing of all renderers
        rows = benchmark_renderers(
            rays,
            tris,
            memory_budget_mb=args.memory_budget_mb,
            naive_rays=8 if smoke else 48,
            per_ray_rays=16 if smoke else 256,
            broadcast_rays=64 if smoke else 2048,
            cull_chunk=args.cull_chunk,
            rounds=1 if smoke else args.rounds,
        )
        table = format_table(rows, n_rays)
        run.print(table)
        (run.out_dir / "timings.txt").write_text(table + "\n")
        run.add_file(run.out_dir / "timings.txt")
        naive, culled = rows[0], rows[-1]

        fig = Figure(figsize=(8, 3.8))
        ax = fig.subplots()
        names = [r.name for r in rows]
        rates = [r.pairs_per_second for r in rows]
        bars = ax.barh(
            names[::-1],
            rates[::-1],
            color=["tab:green", "tab:blue", "tab:blue", "tab:orange", "tab:red"],
        )
        for bar, r in zip(bars, rows[::-1], strict=True):
            ratio = r.pairs_per_second / naive.pairs_per_second
            y = bar.get_y() + bar.get_height() / 2
            ax.text(bar.get_width() * 1.1, y, speedup_text(ratio), va="center")
        ax.set_xscale("log")
        ax.set_xlim(min(rates) / 3, max(rates) * 8)
        ax.set_xlabel("ray-triangle pairs per second (culling: all pairs counted)")
        thread_text = "1 torch thread" if args.threads == 1 else f"{args.threads} torch threads"
        ax.set_title(f"{n_tri:,} triangles, {size} × {size} rays, {thread_text}")
        fig.tight_layout()
        run.save_fig(fig, "throughput")

        # 3. chunk size sweep: throughput and peak memory (dense matmul, no culling)
        sweep_rays = rays[:: max(1, n_rays // (256 if smoke else args.sweep_rays))]
        chunks = [16, 64, 256] if smoke else [64, 512, 4096]
        sweep_times = compare(
            {str(c): (lambda c=c: render_depth(sweep_rays, tris, c, "matmul")) for c in chunks},
            reference=str(chunks[0]),
            rounds=1 if smoke else args.rounds,
        )
        sweep = []
        for c in chunks:
            seconds = sweep_times.medians[str(c)]
            row = {"chunk": c, "pairs_per_s": sweep_rays.shape[0] * n_tri / seconds}
            row["estimated_mb"] = c * n_tri * 8 * 4 / 2**20
            row["measured_extra_mb"] = peak_memory_mb(
                render_for_memory, sweep_rays.cpu(), tris.cpu(), c, False, fresh_process=not smoke
            )["extra_mb"]
            sweep.append(row)
        headline_chunk = min(chunk_size_for_budget(n_tri, args.memory_budget_mb), args.cull_chunk)
        headline_mem = peak_memory_mb(
            render_for_memory, rays.cpu(), tris.cpu(), headline_chunk, True, fresh_process=not smoke
        )

        # 4. the culled renderer with 1 vs 2 torch threads, interleaved (intra-op threads wait on
        # each other at every op's barrier, so a second thread can lose more than it gains)
        def culled_with(threads: int):
            def run_it():
                torch.set_num_threads(threads)
                render_depth(rays, tris, args.cull_chunk, cull=True)

            return run_it

        threads = compare(
            {"1 thread": culled_with(1), "2 threads": culled_with(2)},
            reference="1 thread",
            rounds=1 if smoke else args.rounds,
        )
        torch.set_num_threads(args.threads)
        run.print(threads.table())

        fig = Figure(figsize=(9, 3.6))
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot([r["chunk"] for r in sweep], [r["pairs_per_s"] / 1e6 for r in sweep], "o-")
        ax1.set_xscale("log")
        ax1.set_xlabel("chunk size (rays)")
        ax1.set_ylabel("million pairs per second")
        ax1.set_ylim(bottom=0)
        ax1.set_title("matmul renderer, no culling: speed")
        ax2.plot(
            [r["chunk"] for r in sweep],
            [r["estimated_mb"] for r in sweep],
            "s--",
            label="estimate: 8 floats per pair",
        )
        ax2.plot(
            [r["chunk"] for r in sweep],
            [r["measured_extra_mb"] for r in sweep],
            "o-",
            label="measured: peak resident memory",
        )
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax2.yaxis.set_minor_formatter(NullFormatter())
        for ax in (ax1, ax2):
            ax.set_xticks(chunks, [str(c) for c in chunks])
            ax.xaxis.set_minor_locator(NullLocator())
        ax2.set_xlabel("chunk size (rays)")
        ax2.set_ylabel("peak extra memory (MiB)")
        ax2.set_title("memory grows with the chunk")
        ax2.legend(loc="upper left")
        fig.tight_layout()
        run.save_fig(fig, "chunk_sweep")

        return run.finish(
            {
                "triangles": n_tri,
                "image_size": size,
                "renderers_agree": agree,
                "naive_pairs_per_s": naive.pairs_per_second,
                "batched_matmul_pairs_per_s": rows[3].pairs_per_second,
                "culled_effective_pairs_per_s": culled.pairs_per_second,
                "speedup_batched_matmul_vs_naive": rows[3].pairs_per_second
                / naive.pairs_per_second,
                "speedup_culled_vs_naive": culled.pairs_per_second / naive.pairs_per_second,
                "naive_full_image_s_extrapolated": naive.full_image_seconds(n_rays),
                "culled_full_image_s_median": culled.seconds,
                "culled_first_run_s": culled_time.seconds,
                "culled_fraction_of_pairs_tested": stats["pairs_tested"] / (n_rays * n_tri),
                "headline_chunk_rays": headline_chunk,
                "headline_peak_extra_mb": headline_mem["extra_mb"],
                "headline_peak_rss_mb": headline_mem["peak_mb"],
                "sweep": sweep,
                "torch_threads": args.threads,
                "culled_seconds_1_thread": threads.medians["1 thread"],
                "culled_seconds_2_threads": threads.medians["2 threads"],
                "cpu_count": os.cpu_count(),
                "load_average_1min_at_end": os.getloadavg()[0],
                **example,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
