"""Ray generation (days 6-9).

Convention used by the whole `arena_core.raytracing` package: a batch of rays is a tensor
`rays[n, 2, 3]` where `rays[:, 0]` is each ray's origin O and `rays[:, 1]` its direction D, both in
3D (x, y, z). A ray is the set of points O + t*D for t > 0 (the origin itself is excluded, see
`triangles.py`). Directions are NOT normalised: the pinhole cameras below use D = (1, y, z), so the
ray parameter t of a hit equals the hit point's x-distance from the origin. That is the "depth" the
renderer reports.

Image layout of `camera_rays`: rays are ordered row-major for an image of shape [height, width];
row 0 is the top of the image (+z) and column 0 the left (+y, because a camera looking along +x
with z up has +y on its left in a right-handed frame).
"""

import torch
from jaxtyping import Float
from torch import Tensor


def make_rays_1d(
    num_pixels: int, y_limit: float, origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> Float[Tensor, "num_pixels 2 3"]:
    """`num_pixels` rays from `origin`, directions (1, y, 0), y = linspace(-y_limit, y_limit)."""
    if num_pixels < 1:
        raise ValueError("num_pixels must be >= 1")
    rays = torch.zeros(num_pixels, 2, 3)
    rays[:, 0] = torch.tensor(origin, dtype=rays.dtype)
    rays[:, 1, 0] = 1.0
    rays[:, 1, 1] = torch.linspace(-y_limit, y_limit, num_pixels)
    return rays


def make_rays_2d(
    num_pixels_y: int,
    num_pixels_z: int,
    y_limit: float,
    z_limit: float,
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Float[Tensor, "n 2 3"]:
    """A grid of rays with directions (1, y, z); ordered with y as the outer index, z as the inner.

    `rays.reshape(num_pixels_y, num_pixels_z, 2, 3)[i, j]` has direction (1, y_i, z_j) where
    y_i, z_j come from `torch.linspace(-limit, limit, num_pixels)`.
    """
    if num_pixels_y < 1 or num_pixels_z < 1:
        raise ValueError("the grid needs at least one pixel in each direction")
    ys = torch.linspace(-y_limit, y_limit, num_pixels_y)
    zs = torch.linspace(-z_limit, z_limit, num_pixels_z)
    rays = torch.zeros(num_pixels_y, num_pixels_z, 2, 3)
    rays[:, :, 0] = torch.tensor(origin, dtype=rays.dtype)
    rays[:, :, 1, 0] = 1.0
    rays[:, :, 1, 1] = ys[:, None]
    rays[:, :, 1, 2] = zs[None, :]
    return rays.reshape(-1, 2, 3)


def camera_rays(
    height: int,
    width: int,
    distance: float = 3.0,
    fov_degrees: float = 45.0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Float[Tensor, "n 2 3"]:
    """Pinhole-camera rays from (-distance, 0, 0) looking along +x, for an image [height, width].

    `fov_degrees` is the vertical field of view; pixels are square. Rays go through pixel centres,
    row-major, top row (+z) first, leftmost column (+y) first (see the module docstring).
    """
    if height < 1 or width < 1:
        raise ValueError("height and width must be >= 1")
    half = torch.tan(torch.tensor(fov_degrees, dtype=torch.float64) * torch.pi / 360.0).item()
    pixel = 2 * half / height
    # pixel centres: (k + 0.5) * pixel measured from the top/left edge
    zs = half - (torch.arange(height, dtype=torch.float64) + 0.5) * pixel
    ys = (width / 2) * pixel - (torch.arange(width, dtype=torch.float64) + 0.5) * pixel
    rays = torch.zeros(height, width, 2, 3, dtype=torch.float64)
    rays[:, :, 0, 0] = -distance
    rays[:, :, 1, 0] = 1.0
    rays[:, :, 1, 1] = ys[None, :]
    rays[:, :, 1, 2] = zs[:, None]
    return rays.reshape(-1, 2, 3).to(dtype=dtype, device=device)
