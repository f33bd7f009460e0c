"""BatchNorm2d: training/eval outputs, gradients and running statistics vs torch.nn.BatchNorm2d."""

import pytest
import torch

from arena_core.nn import BatchNorm2d


def _pair(channels, momentum, device):
    ours = BatchNorm2d(channels, momentum=momentum).double().to(device)
    ref = torch.nn.BatchNorm2d(channels, momentum=momentum).double().to(device)
    with torch.no_grad():  # non-trivial affine parameters, identical in both
        ours.weight.copy_(torch.randn(channels)), ours.bias.copy_(torch.randn(channels))
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_train_steps_then_eval_match_torch(momentum, device):
    ours, ref = _pair(5, momentum, device)
    for step, shape in enumerate([(4, 5, 3, 3), (2, 5, 7, 1), (3, 5, 4, 6), (1, 5, 2, 3)]):
        x = torch.randn(shape, dtype=torch.float64, device=device) * (step + 1) + step
        x.requires_grad_(True)
        y_ours, y_ref = ours(x), ref(x)
        torch.testing.assert_close(y_ours, y_ref)
        grad = torch.randn_like(y_ref)
        params_ours = (x, ours.weight, ours.bias)
        params_ref = (x, ref.weight, ref.bias)
        for a, r in zip(
            torch.autograd.grad(y_ours, params_ours, grad),
            torch.autograd.grad(y_ref, params_ref, grad),
        ):
            torch.testing.assert_close(a, r)
    # running mean, (unbiased) running var and the step counter after several steps
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(ref, name))
    ours.eval(), ref.eval()
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64, device=device)
    torch.testing.assert_close(ours(x), ref(x))


def test_batchnorm_training_function_gradcheck():
    from arena_core.nn.batchnorm import _BatchNormTrainFunction

    x = torch.randn(4, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    gamma = torch.randn(3, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, g, b: _BatchNormTrainFunction.apply(x, g, b, 1e-5)[0], (x, gamma, beta)
    )


def test_batchnorm_state_dict_keys_match_torch():
    assert set(BatchNorm2d(4).state_dict()) == set(torch.nn.BatchNorm2d(4).state_dict())


def test_batchnorm_needs_two_values_per_channel():
    with pytest.raises(ValueError, match="more than one value"):
        BatchNorm2d(2)(torch.randn(1, 2, 1, 1))
