"""Day 22's custom torch.autograd.Functions: torch.autograd.gradcheck in float64, agreement with
torch's built-ins, stability at extreme inputs, the straight-through gradient, and the memory that
checkpointing saves (measured through autograd's saved-tensor hooks)."""

import torch
import torch.nn.functional as F

from arena_core.autograd.torch_functions import (
    checkpoint,
    checkpoint_sequential,
    logsumexp,
    saved_activation_bytes,
    saved_tensor_bytes,
    softplus,
    straight_through_round,
)


def test_gradcheck_float64():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(softplus, (x,))
    assert torch.autograd.gradcheck(logsumexp, (x,))
    block = lambda x, w: torch.tanh(x @ w) @ w.T
    assert torch.autograd.gradcheck(lambda x, w: checkpoint(block, x, w), (x, w))


def test_values_match_torch_builtins_and_stay_finite():
    x = torch.tensor([[-1000.0, -3.0, 0.0, 2.5, 1000.0]], dtype=torch.float64)
    torch.testing.assert_close(softplus(x), F.softplus(x))
    torch.testing.assert_close(logsumexp(x), torch.logsumexp(x, dim=-1))
    x32 = (torch.randn(3, 7) * 300).requires_grad_()
    out = logsumexp(x32).sum() + softplus(x32).sum()
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(x32.grad).all()
    ref = x32.detach().clone().requires_grad_()
    (torch.logsumexp(ref, -1).sum() + F.softplus(ref).sum()).backward()
    torch.testing.assert_close(x32.grad, ref.grad)


def test_straight_through_round():
    x = torch.tensor([-1.7, -0.6, 0.2, 0.9, 1.4], requires_grad=True)
    y = straight_through_round(x)
    torch.testing.assert_close(y, torch.round(x.detach()))
    y.backward(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    torch.testing.assert_close(x.grad, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))  # identity
    # what torch's own round would give: zero everywhere, which is why the estimator exists
    x2 = x.detach().clone().requires_grad_()
    torch.round(x2).sum().backward()
    assert (x2.grad == 0).all()


def test_checkpoint_matches_plain_gradients_and_saves_memory():
    # activations (512 x 64) outweigh the weights (64 x 64), as in a real network
    x = torch.randn(512, 64, requires_grad=True)
    ws = [(torch.randn(64, 64) * 0.1).requires_grad_() for _ in range(4)]

    def block(x, *ws):
        for w in ws:
            x = torch.tanh(x @ w)
        return x

    plain = torch.autograd.grad(block(x, *ws).sum(), [x, *ws])
    ckpt = torch.autograd.grad(checkpoint(block, x, *ws).sum(), [x, *ws])
    for a, b in zip(plain, ckpt, strict=True):
        torch.testing.assert_close(a, b)
    full = saved_tensor_bytes(lambda: block(x, *ws).sum())
    small = saved_tensor_bytes(lambda: checkpoint(block, x, *ws).sum())
    assert small < full / 3  # inputs only vs inputs + 2 activations per layer


def test_saved_activation_bytes_counts_each_activation_once_and_no_weights():
    """A 9-layer tanh MLP keeps its input and 9 outputs; in 3 checkpointed blocks of 3 it keeps
    the 3 block inputs and the last output (the loss's square saves it)."""
    batch, width, depth = 4, 8, 9
    x = torch.randn(batch, width)
    ws = [torch.randn(width, width, requires_grad=True) for _ in range(depth)]
    layer = lambda h, w: torch.tanh(h @ w)  # noqa: E731
    one = batch * width * 4  # float32 bytes of one activation

    def plain():
        h = x
        for w in ws:
            h = layer(h, w)
        return h.square().mean()

    assert saved_activation_bytes(plain) == (depth + 1) * one
    assert saved_tensor_bytes(plain) > saved_activation_bytes(plain)  # counts repeats and weights
    ckpt = lambda: checkpoint_sequential(layer, x, ws, 3).square().mean()  # noqa: E731
    assert saved_activation_bytes(ckpt) == 4 * one
