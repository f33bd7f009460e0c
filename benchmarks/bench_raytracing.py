"""Ray tracing: naive Python loop vs batched vs chunked vs culled rendering (days 6-10).

Renders the depth buffer of the procedural rabbit (`bunny_like(3)`, 4,160 triangles) at
256 x 256. The slow renderers are timed on an evenly strided subset of the rays and extrapolated
per ray-triangle pair; the "rays timed" column says how many rays each row really rendered.
Candidates run interleaved (`arena_core.utils.compare`), median of --rounds rounds. pairs/s for
the culled renderer is effective throughput (all 256*256*4160 pairs counted, though culling skips
most of them). The speedup is per ray-triangle pair relative to the naive loop; printed last.
torch runs with 1 thread by default: on a 2-core machine shared with other jobs, 2 intra-op threads
made the renderers 20-40x slower (day 10 measures this); pass --threads 2 on an idle machine.

    python benchmarks/bench_raytracing.py [--size 256] [--rounds 3] [--threads 1] [--device cpu]
"""

import argparse
import platform

import torch

from arena_core.raytracing import bunny_like, camera_rays, rotation_y, rotation_z
from arena_core.raytracing.benchmark import benchmark_renderers, format_table
from arena_core.utils import resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget-mb", type=float, default=256.0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    mesh = bunny_like(3)
    tris = mesh.transformed(rotation_y(-0.3) @ rotation_z(0.7)).triangles.to(device)
    rays = camera_rays(args.size, args.size, distance=3.2, device=device)
    print(
        f"{mesh.name}: {mesh.num_faces} triangles, {args.size}x{args.size} rays, device {device}, "
        f"{args.threads} torch threads, torch {torch.__version__}, {platform.machine()}, "
        f"budget {args.budget_mb:g} MiB, {args.rounds} interleaved rounds"
    )
    rows = benchmark_renderers(rays, tris, memory_budget_mb=args.budget_mb, rounds=args.rounds)
    print(format_table(rows, rays.shape[0]))
    naive = rows[0].pairs_per_second
    print(
        f"speedup per ray-triangle pair vs the naive loop: batched matmul "
        f"{rows[3].pairs_per_second / naive:.0f}x, matmul + culling "
        f"{rows[4].pairs_per_second / naive:.0f}x "
        f"(full {args.size}x{args.size} image in {rows[4].seconds:.2f} s)"
    )


if __name__ == "__main__":
    main()
