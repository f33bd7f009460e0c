"""Naive vs batched vs chunked rendering: timings and throughput (day 10, benchmarks/).

Every renderer computes the same depth buffer. Slow ones run on an evenly strided subset of the
image's rays and are extrapolated *per ray-triangle pair*; the table says how many rays each row
actually measured. Throughput is rays x triangles / second; for the culled renderer it is an
*effective* figure (it counts all pairs, though culling skips most of them), which is the number
that matters to someone rendering the image. Timings use `arena_core.utils.compare`: candidates
run interleaved, in rotating order, and the median of the rounds is reported, so load from other
processes on a shared machine hits all candidates alike.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from arena_core.raytracing.naive import render_depth_naive, render_depth_per_ray
from arena_core.raytracing.render import chunk_size_for_budget, render_depth
from arena_core.utils import compare


@dataclass(frozen=True)
class BenchRow:
    name: str
    rays_measured: int
    triangles: int
    seconds: float  # median over rounds, for rays_measured rays

    @property
    def pairs_per_second(self) -> float:
        return self.rays_measured * self.triangles / self.seconds

    def full_image_seconds(self, n_rays: int) -> float:
        return self.seconds * n_rays / self.rays_measured


def _subset(rays: torch.Tensor, n: int) -> torch.Tensor:
    step = max(1, rays.shape[0] // n)
    return rays[::step][:n]


def _synced(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    if device.type != "cuda":
        return fn

    def run():
        fn()
        torch.cuda.synchronize(device)

    return run


def benchmark_renderers(
    rays: torch.Tensor,
    triangles: torch.Tensor,
    memory_budget_mb: float = 256.0,
    naive_rays: int = 48,
    per_ray_rays: int = 256,
    broadcast_rays: int = 2048,
    cull_chunk: int = 256,
    rounds: int = 3,
) -> list[BenchRow]:
    """Time the five renderers (naive, per-ray loop, broadcast, matmul, matmul + culling)."""
    device = rays.device
    n_tri = triangles.shape[0]
    chunk_b = chunk_size_for_budget(n_tri, memory_budget_mb, "broadcast", rays.dtype)
    chunk_m = chunk_size_for_budget(n_tri, memory_budget_mb, "matmul", rays.dtype)
    naive = _subset(rays, naive_rays).cpu()
    per_ray = _subset(rays, per_ray_rays)
    bcast = _subset(rays, broadcast_rays)
    cpu_tris = triangles.cpu()
    work = {
        "naive Python loop": (naive, lambda: render_depth_naive(naive, cpu_tris)),
        "per-ray loop (torch over triangles)": (
            per_ray,
            lambda: render_depth_per_ray(per_ray, triangles),
        ),
        f"batched broadcast, chunks of {chunk_b}": (
            bcast,
            lambda: render_depth(bcast, triangles, chunk_b, "broadcast"),
        ),
        f"batched matmul, chunks of {chunk_m}": (
            rays,
            lambda: render_depth(rays, triangles, chunk_m, "matmul"),
        ),
        f"matmul + culling, chunks of {min(chunk_m, cull_chunk)}": (
            rays,
            lambda: render_depth(rays, triangles, min(chunk_m, cull_chunk), "matmul", cull=True),
        ),
    }
    result = compare(
        {name: _synced(fn, device) for name, (_, fn) in work.items()},
        reference="naive Python loop",
        rounds=rounds,
        warmup=1,
    )
    return [
        BenchRow(name, int(r.shape[0]), n_tri, result.medians[name])
        for name, (r, _) in work.items()
    ]


def format_table(rows: list[BenchRow], n_rays: int) -> str:
    """A plain-text table; speedups are per ray-triangle pair relative to the first row."""
    base = rows[0].pairs_per_second
    width = max(len(r.name) for r in rows)
    lines = [
        f"{'renderer':<{width}}  rays timed  median s   pairs/s    full image s  speedup",
    ]
    for r in rows:
        lines.append(
            f"{r.name:<{width}}  {r.rays_measured:>10}  {r.seconds:8.3f}  {r.pairs_per_second:9.3g}"
            f"  {r.full_image_seconds(n_rays):12.2f}  {r.pairs_per_second / base:7.1f}x"
        )
    return "\n".join(lines)


def render_for_memory(rays, triangles, chunk_size, cull):
    """Module-level render call for `peak_memory_mb` (a spawned process must import it)."""
    render_depth(rays, triangles, chunk_size, "matmul", cull=cull)
