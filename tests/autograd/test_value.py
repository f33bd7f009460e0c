"""The scalar `Value` engine against torch.autograd (float64 scalars), plus its graph hygiene:
no reference cycles, no recursion limit on deep graphs, correct accumulation."""

import gc
import math
import sys

import pytest
import torch

from arena_core.autograd import Value
from arena_core.autograd.value import topological_order

# float64 on both sides; the only differences are rounding in different evaluation orders
TOL = dict(rel=1e-12, abs=1e-12)


def _torch_grads(fn, xs):
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = fn(*leaves)
    out.backward()
    return out.item(), [leaf.grad.item() for leaf in leaves]


def _value_grads(fn, xs):
    leaves = [Value(x) for x in xs]
    out = fn(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


CASES = {
    "add": (lambda a, b: a + b, [1.5, -2.0]),
    "sub": (lambda a, b: a - b, [1.5, -2.0]),
    "mul": (lambda a, b: a * b, [1.5, -2.0]),
    "div": (lambda a, b: a / b, [1.5, -2.0]),
    "pow_int": (lambda a, b: a**3 * b, [1.5, -2.0]),
    "pow_frac": (lambda a, b: a**0.5 + b**-2, [2.5, -2.0]),
    "exp": (lambda a, b: (a * b).exp(), [0.3, -0.7]),
    "log": (lambda a, b: (a * a + b).log(), [1.3, 0.4]),
    "tanh": (lambda a, b: (a - b).tanh(), [0.3, -0.2]),
    "relu_pos": (lambda a, b: (a * b).relu(), [1.0, 2.0]),
    "relu_neg": (lambda a, b: (a * b).relu(), [1.0, -2.0]),
    "relu_zero": (lambda a, b: (a * b).relu(), [0.0, 2.0]),  # torch: relu'(0) = 0
    "radd_rsub": (lambda a, b: 3.0 + a - (2 - b), [0.5, 0.25]),
    "rmul_rdiv": (lambda a, b: 2.0 * a + 3.0 / b, [0.5, 0.25]),
    "neg_reuse": (lambda a, b: -(a * a * b) + a * b / a, [0.7, 1.9]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ops_match_torch(name):
    fn, xs = CASES[name]
    value, grads = _value_grads(fn, xs)
    t_value, t_grads = _torch_grads(fn, xs)
    assert value == pytest.approx(t_value, **TOL)
    assert grads == pytest.approx(t_grads, **TOL)


def test_sum_and_dot_nodes_match_torch():
    w, x = [0.5, -1.5, 2.0], [1.0, 3.0, -0.5]

    def fn(*leaves):
        ws, xs, b = leaves[:3], leaves[3:6], leaves[6]
        if isinstance(b, Value):
            return Value.dot(ws, xs, b).relu() + Value.sum(xi * xi for xi in xs)
        return (sum(wi * xi for wi, xi in zip(ws, xs)) + b).relu() + sum(xi * xi for xi in xs)

    value, grads = _value_grads(fn, [*w, *x, 4.0])
    t_value, t_grads = _torch_grads(fn, [*w, *x, 4.0])
    assert value == pytest.approx(t_value, **TOL)
    assert grads == pytest.approx(t_grads, **TOL)


def test_leaves_accumulate_and_intermediates_do_not_double_count():
    a = Value(2.0)
    h = a * a  # intermediate
    out = h * 3.0
    out.backward()
    out.backward()
    assert a.grad == pytest.approx(2 * 12.0)  # leaf accumulates like torch's .grad
    assert h.grad == pytest.approx(3.0)  # intermediate recomputed, not 6


def test_deep_graph_has_no_recursion_limit():
    depth = sys.getrecursionlimit() * 5
    x = Value(1.0)
    y = x
    for _ in range(depth):
        y = y + x * 1e-3
    y.backward()
    assert x.grad == pytest.approx(1 + depth * 1e-3)
    assert len(topological_order(y)) > depth


def _cyclic_garbage_after_one_step(value_cls) -> int:
    gc.collect()
    gc.disable()
    try:
        xs = [value_cls(0.1 * i) for i in range(50)]
        out = xs[0]
        for x in xs[1:]:
            out = out * x + x
        out.backward()
        del out, xs, x
        return gc.collect()  # objects that only the cycle collector could free
    finally:
        gc.enable()


def test_graph_is_freed_by_reference_counting():
    assert _cyclic_garbage_after_one_step(Value) == 0


def test_micrograd_does_leave_cycles():
    """The counter-example that makes the test above meaningful."""
    micrograd = pytest.importorskip("micrograd.engine")
    assert _cyclic_garbage_after_one_step(micrograd.Value) > 0


def test_errors():
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="non-positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="lengths"):
        Value.dot([Value(1.0)], [Value(1.0), Value(2.0)])


def test_exp_log_identity():
    x = Value(0.37)
    y = x.exp().log()
    y.backward()
    assert y.data == pytest.approx(0.37) and x.grad == pytest.approx(1.0)
    assert math.isclose(Value(1.0).exp().data, math.e)
