"""Rotation matrices vs scipy.spatial.transform.Rotation."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from arena_core.raytracing import rotation_axis_angle, rotation_x, rotation_y, rotation_z


@pytest.mark.parametrize("theta", [0.0, 0.3, -1.7, math.pi, 5.5])
def test_axis_rotations_match_scipy(theta):
    # float64 closed forms vs scipy's quaternion route: agree to a few ulp
    for fn, axis in ((rotation_x, "x"), (rotation_y, "y"), (rotation_z, "z")):
        expected = Rotation.from_euler(axis, theta).as_matrix()
        np.testing.assert_allclose(fn(theta).numpy(), expected, atol=1e-12)


def test_axis_angle_matches_scipy_rotvec_and_is_orthonormal():
    rng = np.random.default_rng(0)
    for _ in range(20):
        axis = rng.normal(size=3) * rng.uniform(0.1, 5)
        theta = rng.uniform(-2 * math.pi, 2 * math.pi)
        R = rotation_axis_angle(torch.tensor(axis), theta)
        expected = Rotation.from_rotvec(axis / np.linalg.norm(axis) * theta).as_matrix()
        np.testing.assert_allclose(R.numpy(), expected, atol=1e-12)
        np.testing.assert_allclose((R @ R.T).numpy(), np.eye(3), atol=1e-12)
        assert torch.linalg.det(R).item() == pytest.approx(1.0, abs=1e-12)


def test_zero_axis_is_an_error():
    with pytest.raises(ValueError):
        rotation_axis_angle(torch.zeros(3), 1.0)
