"""Parameter/Module/Linear/MLP, cross_entropy and SGD of the numpy engine against torch.nn,
torch.nn.functional.cross_entropy and torch.optim.SGD, given the same weights."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arena_core.autograd import Tensor
from arena_core.autograd.nn import MLP, Linear, Module, Parameter, cross_entropy, log_softmax
from arena_core.autograd.optim import SGD


def test_module_registers_parameters_recursively():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.first = Linear(3, 4)
            self.scale = Parameter(np.ones(1))
            self.not_a_param = Tensor(np.ones(2))

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "first.weight", "first.bias"]
    assert len(list(MLP([5, 4, 3, 2]).parameters())) == 6
    net.first = Linear(3, 4, bias=False)  # reassignment replaces the registration
    assert [n for n, _ in net.named_parameters()] == ["scale", "first.weight"]


def test_zero_grad():
    model = MLP([3, 4, 2])
    cross_entropy(model(Tensor(np.ones((2, 3), np.float32))), [0, 1]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,)], ids=str)
def test_linear_matches_torch(shape):
    ours = Linear(7, 4, rng=np.random.default_rng(0), dtype=np.float64)
    ref = torch.nn.Linear(7, 4, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(ours.weight.data))
        ref.bias.copy_(torch.tensor(ours.bias.data))
    x = np.random.default_rng(1).standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    xo = Tensor(x, requires_grad=True)
    out, tout = ours(xo), ref(xt)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(2).standard_normal(tout.shape)
    out.backward(v)
    tout.backward(torch.tensor(v))
    np.testing.assert_allclose(ours.weight.grad.data, ref.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad.data, ref.bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), atol=1e-12)


def test_linear_init_bound_and_shape_error():
    lin = Linear(100, 50, rng=np.random.default_rng(0))
    assert np.abs(lin.weight.data).max() <= 0.1  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch
    assert lin.weight.dtype == np.float32
    with pytest.raises(ValueError, match="last dim 100"):
        lin(Tensor(np.ones((2, 99), np.float32)))


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])  # 1e4: naive softmax would overflow
def test_cross_entropy_matches_torch(scale):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((9, 5)) * scale
    targets = rng.integers(0, 5, 9)
    ours = Tensor(logits, requires_grad=True)
    ref = torch.tensor(logits, requires_grad=True)
    loss, tloss = cross_entropy(ours, targets), F.cross_entropy(ref, torch.tensor(targets))
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(ours.grad.data, ref.grad.numpy(), atol=1e-12)


def test_log_softmax_matches_torch():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    ours = log_softmax(Tensor(x), dim=1).data
    np.testing.assert_allclose(ours, F.log_softmax(torch.tensor(x), dim=1).numpy(), atol=1e-12)


def test_cross_entropy_shape_errors():
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(Tensor(np.zeros((2, 3))), [0, 1, 2])


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 1e-2)])
def test_sgd_matches_torch_over_steps(momentum, weight_decay):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    model = MLP([6, 8, 3], rng=rng, dtype=np.float64)
    ref = torch.nn.Sequential(
        torch.nn.Linear(6, 8, dtype=torch.float64), torch.nn.ReLU(),
        torch.nn.Linear(8, 3, dtype=torch.float64),
    )  # fmt: skip
    with torch.no_grad():
        for p, tp in zip(model.parameters(), ref.parameters(), strict=True):
            tp.copy_(torch.tensor(p.data))
    opt = SGD(model.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    topt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        F.cross_entropy(ref(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
        topt.step()
    for p, tp in zip(model.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), atol=1e-10)


def test_sgd_rejects_empty_params():
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
