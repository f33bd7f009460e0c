"""Every op of the numpy `Tensor` engine against torch.autograd: values and input gradients,
with random shapes, broadcasting and edge cases (ties, repeated indices, 1-d matmul). float64
throughout, so agreement to ~1e-10 is expected (only summation order differs)."""

import numpy as np
import pytest
import torch

from arena_core.autograd import Tensor, unbroadcast

ATOL, RTOL = 1e-10, 1e-9


def check_against_torch(fn, *arrays, torch_fn=None):
    """Run fn on our Tensors and (torch_fn or fn) on torch tensors; compare output and grads.

    The output gradient is random (not ones), so each backward is a general vector-Jacobian product.
    """
    torch_fn = torch_fn or fn
    ours = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, t_out = fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), atol=ATOL, rtol=RTOL)
    v = np.random.default_rng(1).standard_normal(t_out.shape)
    out.backward(v)
    t_out.backward(torch.tensor(v))
    for leaf, t_leaf in zip(ours, theirs, strict=True):
        expected = t_leaf.grad.numpy() if t_leaf.grad is not None else np.zeros(t_leaf.shape)
        got = leaf.grad.data if leaf.grad is not None else np.zeros(leaf.shape)
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)


rng = np.random.default_rng(0)
BROADCAST_PAIRS = [
    ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 5)), ((2, 1, 5), (3, 1)),
    ((), (2, 3)), ((7,), ()), ((1,), (4, 1, 1)), ((2, 3, 1, 5), (3, 4, 1)),
]  # fmt: skip


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum"])
def test_binary_ops_broadcast(op, shapes):
    a = rng.standard_normal(shapes[0])
    b = rng.standard_normal(shapes[1])
    if op in ("div", "pow"):
        a, b = np.abs(a) + 0.5, b + np.sign(b) * 0.5  # positive base for pow, b away from 0
    fns = {
        "add": lambda x, y: x + y,
        "sub": lambda x, y: x - y,
        "mul": lambda x, y: x * y,
        "div": lambda x, y: x / y,
        "pow": lambda x, y: x**y,
    }
    if op == "maximum":
        check_against_torch(lambda x, y: x.maximum(y), a, b, torch_fn=torch.maximum)
    else:
        check_against_torch(fns[op], a, b)


@pytest.mark.parametrize("op", ["radd", "rsub", "rmul", "rdiv", "rpow", "pow_scalar", "neg"])
def test_ops_with_python_numbers(op):
    a = np.abs(rng.standard_normal((3, 5))) + 0.1
    fns = {
        "radd": lambda x: 2.5 + x,
        "rsub": lambda x: 2.5 - x,
        "rmul": lambda x: 2.5 * x,
        "rdiv": lambda x: 2.5 / x,
        "rpow": lambda x: 2.5**x,
        "pow_scalar": lambda x: x**-1.5 + x**3,
        "neg": lambda x: -x,
    }
    check_against_torch(fns[op], a)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "relu"])
@pytest.mark.parametrize("shape", [(), (1,), (4, 7), (2, 3, 5)], ids=str)
def test_unary_ops(op, shape):
    a = rng.standard_normal(shape)
    if op == "log":
        a = np.abs(a) + 0.1
    check_against_torch(lambda x: getattr(x, op)(), a)


def test_relu_gradient_at_zero_matches_torch():
    check_against_torch(lambda x: x.relu(), np.array([-1.0, 0.0, 0.0, 2.0]))


def test_maximum_ties_split_like_torch():
    a = np.array([1.0, 2.0, 3.0, -0.5])
    b = np.array([1.0, 5.0, 3.0, -1.0])
    check_against_torch(lambda x, y: x.maximum(y), a, b, torch_fn=torch.maximum)
    check_against_torch(lambda x: x.maximum(x), a, torch_fn=lambda x: torch.maximum(x, x))


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (-1, -3)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "amax"])
def test_reductions(op, dim, keepdim):
    a = rng.standard_normal((3, 4, 5))
    if op == "amax":
        a[0, 1, :2] = 9.0  # a tie in the max: torch.amax splits the gradient evenly
        a[:2, 0, 3] = 9.0
    check_against_torch(
        lambda x: getattr(x, op)(dim=dim, keepdim=keepdim),
        a,
        torch_fn=lambda x: (
            getattr(x, op)(dim=dim, keepdim=keepdim)
            if dim is not None
            else getattr(x, op)()
            if not keepdim
            else getattr(x, op)(dim=(0, 1, 2), keepdim=True)
        ),
    )


@pytest.mark.parametrize(
    "shape,new", [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((5,), (1, 5, 1)), ((), (1,))], ids=str
)
def test_reshape(shape, new):
    check_against_torch(lambda x: x.reshape(*new) * 2.0, rng.standard_normal(shape))


@pytest.mark.parametrize("dims", [(1, 0, 2), (2, 0, 1), (-1, 0, 1), (0, 1, 2)], ids=str)
def test_permute_and_transpose(dims):
    a = rng.standard_normal((2, 3, 4))
    check_against_torch(lambda x: x.permute(*dims) ** 2, a)
    check_against_torch(lambda x: x.transpose(0, 2) * 3.0, a)
    check_against_torch(lambda x: x.T * 1.0, a[0], torch_fn=lambda x: x.T * 1.0)


INDICES = {
    "int": 1,
    "slice": (slice(1, None), slice(None, None, 2)),
    "negative_step_free": (slice(None), -1),
    "ellipsis_none": (Ellipsis, None, 0),
    "int_array": np.array([0, 2, 2, 1]),  # repeated index: gradients must add up
    "pair_arrays": (np.array([0, 1, 0, 2]), np.array([3, 3, 3, 0])),
    "mixed": (np.array([2, 2]), slice(1, 3)),
    "bool_mask": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", list(INDICES))
def test_getitem(name):
    index = INDICES[name]
    a = rng.standard_normal((3, 4))
    t_index = (
        tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)
        if isinstance(index, tuple)
        else torch.as_tensor(index)
        if isinstance(index, np.ndarray)
        else index
    )
    check_against_torch(lambda x: x[index] * 1.5, a, torch_fn=lambda x: x[t_index] * 1.5)


def test_getitem_with_tensor_index():
    a = rng.standard_normal((5, 3))
    idx = np.array([4, 0, 4])
    check_against_torch(lambda x: x[Tensor(idx)], a, torch_fn=lambda x: x[torch.as_tensor(idx)])


MATMUL_SHAPES = [
    ((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)), ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)), ((1, 1), (1, 1)),
]  # fmt: skip


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_against_torch(lambda x, y: x @ y, *(rng.standard_normal(s) for s in shapes))


def test_unbroadcast_matches_torch_sum_to_size():
    g = rng.standard_normal((2, 3, 4, 5))
    for shape in [(3, 1, 5), (1, 5), (4, 1), (), (2, 3, 4, 5), (1, 1, 1, 1)]:
        expected = torch.tensor(g).sum_to_size(shape).numpy()
        np.testing.assert_allclose(unbroadcast(g, shape), expected, atol=1e-12)


def test_composite_mlp_like_expression():
    x, w1, b1, w2 = (rng.standard_normal(s) for s in [(6, 4), (4, 8), (8,), (8, 3)])

    def fn(x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        logits = h @ w2
        return (logits - logits.exp().sum(dim=1, keepdim=True).log()).mean()

    check_against_torch(fn, x, w1, b1, w2)
