"""Linear, Flatten, ReLU, Sequential and day 12's classifiers vs their torch.nn counterparts."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.nn import ConvNet, Flatten, Linear, ReLU, Sequential, SimpleMLP


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (1, 7), (7,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias, device):
    ours = Linear(7, 4, bias=bias).double().to(device)
    ref = torch.nn.Linear(7, 4, bias=bias).double().to(device)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(shape, dtype=torch.float64, device=device, requires_grad=True)
    y_ours, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y_ours, y_ref)
    grad = torch.randn_like(y_ref)
    torch.testing.assert_close(
        torch.autograd.grad(y_ours, [x, ours.weight], grad),
        torch.autograd.grad(y_ref, [x, ref.weight], grad),
    )


def test_relu_and_flatten_match_torch():
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(ReLU()(x), F.relu(x))
    g = torch.randn_like(x)
    torch.testing.assert_close(
        torch.autograd.grad(ReLU()(x), x, g)[0], torch.autograd.grad(F.relu(x), x, g)[0]
    )
    for start, end in [(1, -1), (0, 1), (2, 3), (1, 2), (-2, -1), (3, 3), (-4, 0)]:
        assert Flatten(start, end)(x).shape == torch.nn.Flatten(start, end)(x).shape
    # a 0-d tensor is indexed as if it were 1-d: Flatten(0) gives shape [1]
    scalar = torch.tensor(2.0)
    assert Flatten(0)(scalar).shape == torch.nn.Flatten(0)(scalar).shape == (1,)


def test_sequential_names_and_order_match_torch():
    ours = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(6, 3)
    torch.testing.assert_close(ours(x), ref(x))
    assert len(ours) == 3 and isinstance(ours[-1], Linear)
    assert ours[-3] is ours[0]
    # an index past either end is an error in torch, not a wrap-around to another layer
    for index in (3, -4):
        with pytest.raises(IndexError):
            ref[index]
        with pytest.raises(IndexError, match=f"index {index} is out of range for 3 modules"):
            ours[index]


def test_simple_mlp_has_79510_parameters():
    # 784*100 + 100 + 100*10 + 10, the number ARENA reports for SimpleMLP
    assert sum(p.numel() for p in SimpleMLP().parameters()) == 79_510


def test_convnet_matches_torch_built_twin():
    ours = ConvNet()
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(3136, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    ref.load_state_dict(ours.layers.state_dict())
    x = torch.rand(4, 1, 28, 28)
    # float32 through 4 layers with up to 3136-term sums: 1e-5 absolute on O(0.1) logits
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
