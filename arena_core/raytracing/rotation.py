"""Rotation matrices (day 9): about the coordinate axes and about any axis (Rodrigues' formula).

Active rotations of column vectors, right-handed: `R @ v` turns v by +theta about the axis,
counter-clockwise when the axis points at the viewer. Points stored as rows (vertices [n, 3])
rotate as `points @ R.T`. These match `scipy.spatial.transform.Rotation.as_matrix()`.
"""

import math

import torch
from jaxtyping import Float
from torch import Tensor


def rotation_x(theta: float, dtype: torch.dtype = torch.float64) -> Float[Tensor, "3 3"]:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]], dtype=dtype)


def rotation_y(theta: float, dtype: torch.dtype = torch.float64) -> Float[Tensor, "3 3"]:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=dtype)


def rotation_z(theta: float, dtype: torch.dtype = torch.float64) -> Float[Tensor, "3 3"]:
    c, s = math.cos(theta), math.sin(theta)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)


def rotation_axis_angle(
    axis: Float[Tensor, "3"], theta: float, dtype: torch.dtype = torch.float64
) -> Float[Tensor, "3 3"]:
    """Rodrigues: R = I + sin(theta) K + (1 - cos(theta)) K^2, K the cross-product matrix of the
    unit axis (K v = axis x v)."""
    axis = axis.to(dtype)
    norm = torch.linalg.vector_norm(axis)
    if norm == 0:
        raise ValueError("the rotation axis must be non-zero")
    x, y, z = (axis / norm).tolist()
    K = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], dtype=dtype)
    return torch.eye(3, dtype=dtype) + math.sin(theta) * K + (1 - math.cos(theta)) * (K @ K)
