"""Rendering a triangle mesh: depth buffer, Lambert shading, chunked for bounded memory (days 8-10).

For each ray we want the nearest hit, depth = min_j t[i, j] over triangles j, and which triangle
that was. All rays x all triangles at once needs a [rays, triangles] block per intermediate (for
256 x 256 rays and 4,000 triangles that is 262M numbers = 1 GB each in float32), so we process
the rays in chunks whose size comes from a memory budget:

    chunk_rays = budget_bytes // (triangles * BYTES_PER_PAIR[method] * element_size)

where BYTES_PER_PAIR counts the [chunk, triangles] scalars alive at the peak (measured on day 10).

Culling (`cull=True`): when all rays share one origin O (a pinhole camera), a ray with direction
D (D_x > 0) can only hit a triangle whose corners V all lie in front (V_x > O_x) if its slopes
(D_y / D_x, D_z / D_x) lie in the box spanned by the corners' slopes ((V - O)_y / (V - O)_x, ...):
a point of the triangle is a convex combination of corners, and its slope is then a convex
combination of the corners' slopes. So each chunk only tests the triangles whose slope box meets
the chunk's. Triangles reaching behind the camera plane are always tested. Culling is exact: it
only skips pairs that cannot hit. To make chunks compact on screen, the rays are first sorted by
a coarse grid cell of their slopes (square tiles rather than thin strips of rows).

Lambert shading: a surface lit from the unit direction L (pointing towards the light) reflects
intensity proportional to max(0, n . L), n the unit surface normal (Lambert 1760). We flip n to
face the camera (n . D < 0), so meshes render the same whatever their winding, and add an
ambient term so that unlit sides are not pure black: I = ambient + (1 - ambient) max(0, n . L).
Misses get the background value.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.raytracing.mesh import face_normals
from arena_core.raytracing.triangles import ray_triangle_depths, ray_triangle_depths_matmul

_METHODS = {"broadcast": ray_triangle_depths, "matmul": ray_triangle_depths_matmul}
# [chunk, triangles] scalars alive at the peak of one chunk (an upper estimate; the 3-vectors of
# the broadcast form count three times). Checked against measured peak memory on day 10.
SCALARS_PER_PAIR = {"broadcast": 24, "matmul": 8}


def chunk_size_for_budget(
    num_triangles: int,
    memory_budget_mb: float,
    method: str = "matmul",
    dtype: torch.dtype = torch.float32,
) -> int:
    """How many rays fit in one chunk under `memory_budget_mb` of intermediates (at least 1)."""
    per_ray = num_triangles * SCALARS_PER_PAIR[method] * torch.finfo(dtype).bits // 8
    return max(1, int(memory_budget_mb * 2**20) // max(per_ray, 1))


def _slope_boxes(rays: Tensor, triangles: Tensor) -> tuple[Tensor, Tensor] | None:
    """Per-triangle slope boxes [T, 4] = (y_min, y_max, z_min, z_max) and ray slopes [R, 2], or
    None when the rays do not share one origin."""
    origin = rays[0, 0]
    if not bool((rays[:, 0] == origin).all()):
        return None
    rel = triangles - origin  # [T, 3, 3]
    x = rel[..., 0]
    in_front = (x > 0).all(dim=1)
    slopes = rel[..., 1:] / torch.where(x > 0, x, torch.ones_like(x))[..., None]  # [T, 3, 2]
    lo, hi = slopes.min(dim=1).values, slopes.max(dim=1).values  # [T, 2]
    margin = 1e-6 * (1 + torch.maximum(lo.abs(), hi.abs()))  # absorb rounding of the divisions
    lo = torch.where(in_front[:, None], lo - margin, -torch.inf)
    hi = torch.where(in_front[:, None], hi + margin, torch.inf)
    dx = rays[:, 1, 0]
    ray_slopes = rays[:, 1, 1:] / torch.where(dx > 0, dx, torch.ones_like(dx))[:, None]
    ray_slopes = torch.where((dx > 0)[:, None], ray_slopes, torch.nan)  # nan: cannot cull
    return torch.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], dim=1), ray_slopes


def _candidates(boxes: Tensor, ray_slopes: Tensor) -> Tensor | None:
    """Indices of triangles whose slope box meets the chunk's; None means 'all of them'."""
    if torch.isnan(ray_slopes).any():
        return None
    ymin, zmin = ray_slopes.min(dim=0).values.tolist()
    ymax, zmax = ray_slopes.max(dim=0).values.tolist()
    keep = (
        (boxes[:, 0] <= ymax)
        & (boxes[:, 1] >= ymin)
        & (boxes[:, 2] <= zmax)
        & (boxes[:, 3] >= zmin)
    )
    return keep.nonzero().squeeze(1)


def render_depth(
    rays: Float[Tensor, "nrays 2 3"],
    triangles: Float[Tensor, "ntriangles 3 3"],
    chunk_size: int | None = None,
    method: str = "matmul",
    cull: bool = False,
    stats: dict | None = None,
) -> tuple[Float[Tensor, " nrays"], Int[Tensor, " nrays"]]:
    """Nearest hit of every ray: depth t (inf on a miss) and triangle index (-1 on a miss).

    `chunk_size` rays are processed at a time (None: all at once); `cull` skips triangles that
    cannot meet a chunk (module docstring). Ties in depth go to the lowest triangle index.
    If `stats` is a dict, `stats["pairs_tested"]` counts the ray-triangle pairs evaluated.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}")
    intersect = _METHODS[method]
    n = rays.shape[0]
    step = n if chunk_size is None else chunk_size
    if step < 1:
        raise ValueError("chunk_size must be >= 1")
    depth = torch.full((n,), torch.inf, dtype=rays.dtype, device=rays.device)
    index = torch.full((n,), -1, dtype=torch.int64, device=rays.device)
    if triangles.shape[0] == 0:
        return depth, index
    culling = _slope_boxes(rays, triangles) if cull else None
    order = None
    if culling is not None and not torch.isnan(culling[1]).any() and step < n:
        rays, order = _tile_order(rays, culling[1], step)
        culling = (culling[0], culling[1][order])
    for start in range(0, n, step):
        chunk = slice(start, start + step)
        subset = None if culling is None else _candidates(culling[0], culling[1][chunk])
        if subset is not None and subset.numel() == 0:
            continue  # nothing can be hit: depth stays inf, index -1
        tris = triangles if subset is None else triangles[subset]
        t, _ = intersect(rays[chunk], tris)
        if stats is not None:
            stats["pairs_tested"] = stats.get("pairs_tested", 0) + t.numel()
        best, arg = t.min(dim=1)
        if subset is not None:
            arg = subset[arg]
        depth[chunk] = best
        index[chunk] = torch.where(torch.isfinite(best), arg, -1)
    if order is not None:  # undo the tile sort
        depth = torch.empty_like(depth).scatter_(0, order, depth)
        index = torch.empty_like(index).scatter_(0, order, index)
    return depth, index


def _tile_order(rays: Tensor, ray_slopes: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Sort rays by the cell of a g x g grid over their slopes, g ~ sqrt(n / chunk)."""
    g = max(1, round((rays.shape[0] / chunk) ** 0.5))
    lo, hi = ray_slopes.min(dim=0).values, ray_slopes.max(dim=0).values
    cell = ((ray_slopes - lo) / (hi - lo).clamp_min(1e-12) * g).long().clamp(0, g - 1)
    order = torch.argsort(cell[:, 0] * g + cell[:, 1], stable=True)
    return rays[order], order


def lambert_shading(
    rays: Float[Tensor, "nrays 2 3"],
    triangles: Float[Tensor, "ntriangles 3 3"],
    index: Int[Tensor, " nrays"],
    light_dir: tuple[float, float, float] = (-1.0, 0.6, 1.0),
    ambient: float = 0.15,
    background: float = 0.0,
) -> Float[Tensor, " nrays"]:
    """Lambert intensity of each ray's hit face (index -1: background)."""
    light = torch.tensor(light_dir, dtype=rays.dtype, device=rays.device)
    light = light / torch.linalg.vector_norm(light)
    normals = face_normals(triangles)[index.clamp_min(0)]  # [R, 3]
    facing = torch.where((normals * rays[:, 1]).sum(-1, keepdim=True) > 0, -normals, normals)
    diffuse = (facing @ light).clamp_min(0)
    shade = ambient + (1 - ambient) * diffuse
    return torch.where(index >= 0, shade, torch.as_tensor(background, dtype=shade.dtype))


def render_mesh(
    rays: Float[Tensor, "nrays 2 3"],
    triangles: Float[Tensor, "ntriangles 3 3"],
    chunk_size: int | None = None,
    method: str = "matmul",
    cull: bool = False,
    light_dir: tuple[float, float, float] = (-1.0, 0.6, 1.0),
    ambient: float = 0.15,
) -> tuple[Float[Tensor, " nrays"], Float[Tensor, " nrays"]]:
    """Depth buffer (inf on a miss) and Lambert-shaded intensity (0 on a miss) for every ray."""
    triangles = triangles.to(device=rays.device, dtype=rays.dtype)
    depth, index = render_depth(rays, triangles, chunk_size, method, cull)
    return depth, lambert_shading(rays, triangles, index, light_dir, ambient)
