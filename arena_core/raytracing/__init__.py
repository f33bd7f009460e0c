"""Ray tracing from scratch (ARENA 0.1, days 6-10): rays, intersections, meshes, rendering.

Conventions (see each module's docstring): rays are `[n, 2, 3]` tensors (origin, direction); a ray
is O + t D for t > 0 strictly; a triangle is hit when the barycentric u, v >= 0 and u + v <= 1
(edges and vertices included); rays parallel to a segment or triangle plane miss; depth = t.
"""

from arena_core.raytracing.animation import rotation_frames, save_gif, to_uint8
from arena_core.raytracing.memory import peak_memory_mb
from arena_core.raytracing.mesh import (
    Mesh,
    edge_counts,
    face_normals,
    merge_meshes,
    signed_volume,
    triangles_to_mesh,
)
from arena_core.raytracing.mesh_io import (
    MeshFormatError,
    load_mesh,
    read_obj,
    read_stl,
    write_obj,
    write_stl,
)
from arena_core.raytracing.naive import render_depth_naive, render_depth_per_ray
from arena_core.raytracing.procedural import (
    bumpy_sphere,
    bunny_like,
    icosphere,
    surface_of_revolution,
    torus,
    vase,
)
from arena_core.raytracing.rays import camera_rays, make_rays_1d, make_rays_2d
from arena_core.raytracing.render import (
    chunk_size_for_budget,
    lambert_shading,
    render_depth,
    render_mesh,
)
from arena_core.raytracing.rotation import (
    rotation_axis_angle,
    rotation_x,
    rotation_y,
    rotation_z,
)
from arena_core.raytracing.segments import (
    intersect_ray_segment_solve,
    intersect_rays_segments,
    ray_segment_params,
    rays_hit_any_segment,
    segment_cramer,
)
from arena_core.raytracing.triangles import (
    intersect_ray_triangle_solve,
    intersect_rays_triangles,
    ray_triangle_depths,
    ray_triangle_depths_matmul,
)

__all__ = [
    "Mesh",
    "MeshFormatError",
    "bumpy_sphere",
    "bunny_like",
    "camera_rays",
    "chunk_size_for_budget",
    "edge_counts",
    "face_normals",
    "icosphere",
    "intersect_ray_segment_solve",
    "intersect_ray_triangle_solve",
    "intersect_rays_segments",
    "intersect_rays_triangles",
    "lambert_shading",
    "load_mesh",
    "make_rays_1d",
    "make_rays_2d",
    "merge_meshes",
    "peak_memory_mb",
    "ray_segment_params",
    "ray_triangle_depths",
    "ray_triangle_depths_matmul",
    "rays_hit_any_segment",
    "read_obj",
    "read_stl",
    "render_depth",
    "render_depth_naive",
    "render_depth_per_ray",
    "render_mesh",
    "rotation_axis_angle",
    "rotation_frames",
    "rotation_x",
    "rotation_y",
    "rotation_z",
    "save_gif",
    "segment_cramer",
    "signed_volume",
    "surface_of_revolution",
    "to_uint8",
    "torus",
    "triangles_to_mesh",
    "vase",
    "write_obj",
    "write_stl",
]
