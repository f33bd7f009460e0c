"""Tanh, Sigmoid and LeakyReLU (our formulas) vs torch, values and gradients, incl. saturation."""

import pytest
import torch

from arena_core.nn import LeakyReLU, ReLU, Sigmoid, Tanh


def _inputs():
    x = torch.randn(257, dtype=torch.float64) * 10
    extremes = torch.tensor([0.0, -0.0, 1e-12, -1e-12, 50.0, -50.0, 800.0, -800.0], dtype=x.dtype)
    return torch.cat([x, extremes]).requires_grad_(True)


@pytest.mark.parametrize(
    ("ours", "ref"),
    [
        (Tanh(), torch.tanh),
        (Sigmoid(), torch.sigmoid),
        (LeakyReLU(0.2), lambda t: torch.nn.functional.leaky_relu(t, 0.2)),
        (LeakyReLU(), torch.nn.functional.leaky_relu),
    ],
    ids=["tanh", "sigmoid", "leaky0.2", "leaky_default"],
)
def test_matches_torch(ours, ref):
    x = _inputs()
    y, y_ref = ours(x), ref(x)
    # float64 with a different (but stable) formula: a few ulps of difference
    torch.testing.assert_close(y, y_ref, rtol=1e-13, atol=1e-15)
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g)
    (gx_ref,) = torch.autograd.grad(y_ref, x, g)
    assert torch.isfinite(gx).all()
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-15)


def test_float32_no_overflow():
    x = torch.tensor([-1e4, -100.0, 0.0, 100.0, 1e4])
    assert torch.isfinite(Sigmoid()(x)).all() and torch.isfinite(Tanh()(x)).all()
    torch.testing.assert_close(Tanh()(x), torch.tanh(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relu_matches_torch_values_and_gradients(dtype):
    """Includes exact zeros (gradient 0 there, as torch) and a non-contiguous input."""
    x = torch.randn(4, 6, 5, dtype=dtype).transpose(0, 2)
    x[0, 0, :] = 0.0
    ours_in, ref_in = x.clone().requires_grad_(), x.clone().requires_grad_()
    upstream = torch.randn_like(x)
    ours, ref = ReLU()(ours_in), torch.relu(ref_in)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    ours.backward(upstream), ref.backward(upstream)
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=0, atol=0)


def test_relu_refuses_a_modified_output():
    """The backward reads the saved output: an in-place edit must raise, as for torch's relu."""
    x = torch.randn(5, requires_grad=True)
    for fn in (ReLU(), torch.relu):
        y = fn(x)
        y.mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_relu_double_backward_matches_torch():
    x = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: ReLU()(t) * t, (x,))
