"""Autograd semantics of the Tensor engine, each checked against what torch does in the same
situation: grad accumulation, no_grad, non-scalar backward, in-place ops and version counters,
and the error messages for misuse."""

import numpy as np
import pytest
import torch

from arena_core.autograd import Tensor, is_grad_enabled, no_grad


def pair(array, requires_grad=True):
    array = np.asarray(array, dtype=np.float64)
    return Tensor(array.copy(), requires_grad), torch.tensor(array, requires_grad=requires_grad)


def test_grad_accumulates_over_backward_calls_like_torch():
    x, tx = pair([1.0, -2.0, 3.0])
    for _ in range(3):
        (x * x).sum().backward()
        (tx * tx).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_shared_subexpression_gradients_add():
    x, tx = pair([0.5, 1.5])
    y, ty = x.exp(), tx.exp()
    (y * y + y).sum().backward()
    (ty * ty + ty).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


def test_non_scalar_backward_needs_a_gradient():
    x, tx = pair(np.ones((2, 3)))
    with pytest.raises(RuntimeError):  # torch refuses too
        (tx * 2).backward()
    with pytest.raises(RuntimeError, match=r"scalar output.*shape \(2, 3\).*grad="):
        (x * 2).backward()
    with pytest.raises(ValueError, match="grad has shape"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_graph():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0, 2.0]).sum().backward()


def test_no_grad_records_nothing_and_restores_mode():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(ValueError), no_grad():
        raise ValueError
    assert is_grad_enabled()
    with torch.no_grad():
        assert not (torch.ones(2, requires_grad=True) * 2).requires_grad


def test_requires_grad_propagates_and_constants_get_no_grad():
    x, c = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


def test_shape_errors_are_clear():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 3\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 3\).*3 != 4"):
        a @ b
    with pytest.raises(ValueError, match="cannot reshape"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        Tensor(np.ones((2, 3, 4))).permute(0, 0, 1)
    with pytest.raises(IndexError, match="out of range"):
        a.sum(dim=2)
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


# --- in-place operations -------------------------------------------------------------------------
def test_inplace_on_leaf_requiring_grad_is_an_error_like_torch():
    x, tx = pair([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        tx.mul_(2)
    with pytest.raises(RuntimeError, match="leaf.*no_grad"):
        x.mul_(2)


def test_inplace_on_leaf_is_allowed_under_no_grad():
    x, tx = pair([1.0, 2.0])
    with no_grad():
        x -= 0.5 * Tensor([2.0, 4.0])
    with torch.no_grad():
        tx -= 0.5 * torch.tensor([2.0, 4.0])
    np.testing.assert_allclose(x.data, tx.detach().numpy())
    assert x.is_leaf and x.requires_grad and x.version == 1


def test_inplace_on_saved_tensor_raises_at_backward_like_torch():
    x, tx = pair([0.5, 1.5])
    y, ty = x * 1.0, tx * 1.0
    z, tz = y.log(), ty.log()  # log saves its input y
    y.mul_(2.0)
    ty.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tz.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1"):
        z.sum().backward()


def test_inplace_on_saved_output_raises_like_torch():
    x, tx = pair([0.5, 1.5])
    y, ty = x.exp(), tx.exp()  # exp saves its output
    y.add_(1.0)
    ty.add_(1.0)
    with pytest.raises(RuntimeError):
        ty.sum().backward()
    with pytest.raises(RuntimeError, match="the output saved by `exp`"):
        y.sum().backward()


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_"])
def test_valid_inplace_chains_give_torch_gradients(op):
    """In-place ops whose inputs are not needed elsewhere rebase the history, as torch does."""
    rng = np.random.default_rng(0)
    x, tx = pair(rng.standard_normal((3, 4)))
    w, tw = pair(rng.standard_normal(4) + 3.0)
    y, ty = x * 2.0, tx * 2.0
    getattr(y, op)(w)
    getattr(ty, op)(tw)
    getattr(y, op)(0.5)  # and with a plain number
    getattr(ty, op)(0.5)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-10)


def test_augmented_assignment_and_zero_():
    x, tx = pair([1.0, 2.0, 3.0])
    y, ty = x * 3.0, tx * 3.0
    y += x
    ty += tx
    y *= 2.0
    ty *= 2.0
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())
    z = x * 1.0
    z.zero_()
    np.testing.assert_array_equal(z.data, 0.0)


def test_inplace_result_must_fit():
    y = Tensor(np.ones(3), requires_grad=True) * 1.0
    with pytest.raises(RuntimeError, match="cannot be stored"):
        y.add_(Tensor(np.ones((2, 3))))
    with pytest.raises(RuntimeError, match="cannot be stored"), no_grad():
        Tensor(np.ones(3)).add_(np.ones((2, 3)))


def test_views_share_the_version_counter():
    x, tx = pair(np.arange(6.0))
    base, tbase = x * 1.0, tx * 1.0
    view, tview = base.reshape(2, 3), tbase.reshape(2, 3)
    assert view.version == base.version == 0
    with no_grad():
        base.data[0] = 0  # direct buffer writes bypass the counter, but in-place ops do not:
        Tensor.add_(base, 1.0)
    assert view.version == 1 and view.data[0, 0] == 1.0
    out = (view * view).sum()  # mul saved the view, which changed after it was created
    base.add_(1.0)
    tout = (tview * tview).sum()
    tbase.add_(1.0)
    with pytest.raises(RuntimeError):
        tout.backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


def test_inplace_on_a_view_in_the_graph_is_refused():
    x = Tensor(np.arange(6.0), requires_grad=True)
    view = (x * 1.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="view"):
        view.mul_(2.0)


def test_detach_shares_data_without_history():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert "grad_fn=mul" in repr(x * 2)
