"""Rotating-mesh animation (day 9): render frames with the mesh turned about an axis, save a GIF.

Each frame rotates the vertices by R(theta_k) = rotation about `axis` by 2 pi k / n_frames (one full
turn, so the GIF loops seamlessly) and renders them with the chunked Lambert renderer. Frames are
uint8 greyscale images [height, width]; `save_gif` writes them with imageio (Pillow backend).
"""

import math
from pathlib import Path

import numpy as np
import torch

from arena_core.raytracing.mesh import Mesh
from arena_core.raytracing.rays import camera_rays
from arena_core.raytracing.render import chunk_size_for_budget, render_mesh
from arena_core.raytracing.rotation import rotation_axis_angle


def to_uint8(intensity: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Intensity in [0, 1] per ray -> uint8 image [height, width]."""
    img = intensity.reshape(height, width).clamp(0, 1).mul(255).round().to(torch.uint8)
    return img.cpu().numpy()


def rotation_frames(
    mesh: Mesh,
    n_frames: int = 30,
    size: int = 128,
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0),
    tilt: tuple[float, float, float] | None = None,
    distance: float = 3.0,
    fov_degrees: float = 45.0,
    memory_budget_mb: float = 256.0,
    device: str | torch.device = "cpu",
) -> list[np.ndarray]:
    """`n_frames` shaded renders of `mesh` through one full turn about `axis`.

    `tilt`, an axis-angle vector (radians), is applied after the turn, e.g. to view from above.
    """
    rays = camera_rays(size, size, distance, fov_degrees, device=device)
    chunk = chunk_size_for_budget(mesh.num_faces, memory_budget_mb)
    extra = torch.eye(3, dtype=torch.float64)
    if tilt is not None:
        vec = torch.tensor(tilt, dtype=torch.float64)
        extra = rotation_axis_angle(vec, float(torch.linalg.vector_norm(vec)))
    frames = []
    for k in range(n_frames):
        turn = rotation_axis_angle(torch.tensor(axis), 2 * math.pi * k / n_frames)
        triangles = mesh.transformed(extra @ turn).triangles.to(device=device, dtype=rays.dtype)
        _, shade = render_mesh(rays, triangles, chunk_size=chunk)
        frames.append(to_uint8(shade, size, size))
    return frames


def save_gif(frames: list[np.ndarray], path: str | Path, fps: float = 15.0) -> Path:
    """Write frames as a looping GIF."""
    import imageio.v3 as iio

    path = Path(path)
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
    return path
