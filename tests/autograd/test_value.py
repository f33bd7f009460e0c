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


def test_graph_with_every_op_is_freed_by_reference_counting():
    """Every node type (unary, binary, n-ary sum/dot, constants from plain numbers) frees its graph
    without the cycle collector, and leaves nothing else behind either."""
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        ws = [Value(0.1 * i - 0.3) for i in range(8)]
        xs = [Value(0.05 * i) for i in range(8)]
        h = Value.dot(ws, xs, 0.5).tanh() + Value.sum([w * w for w in ws])
        out = (h.exp() - 2 / (h * h + 1.0) + (h**2).log() + (-h).relu()) / 3.0
        out.backward()
        del ws, xs, h, out
        assert gc.collect() == 0
        assert len(gc.get_objects()) <= before + 5  # nothing was kept alive
    finally:
        gc.enable()


def test_binary_node_is_one_gc_tracked_object():
    """The design choice the benchmark measures: a unary/binary node keeps its parents and local
    derivatives in its own slots, so the cyclic GC has one object per node to walk, not three."""
    gc.collect()
    gc.disable()
    try:
        x, y = Value(1.0), Value(2.0)
        before = len(gc.get_objects())
        nodes = []
        for _ in range(1000):
            nodes.append(x * y + x)  # two nodes per iteration
        assert len(gc.get_objects()) - before <= 2000 + 10
    finally:
        gc.enable()


def test_micrograd_network_code_runs_on_our_engine_with_the_same_graph(monkeypatch):
    """The benchmark's equal-shape row runs micrograd's own `nn` module on our `Value`: same
    weights, same graph size, same loss and gradients as on micrograd's engine."""
    mg_engine = pytest.importorskip("micrograd.engine")
    import random

    import micrograd.nn

    def run(value_cls):
        monkeypatch.setattr(micrograd.nn, "Value", value_cls)
        random.seed(0)
        model = micrograd.nn.MLP(2, [4, 4, 1])
        xs = [(0.5, -1.0), (-0.3, 0.8), (1.2, 0.1)]
        scores = [model([value_cls(a), value_cls(b)]) for a, b in xs]
        loss = sum((1 + -yi * s).relu() for yi, s in zip([1, -1, 1], scores)) * (1 / 3)
        loss = loss + 1e-2 * sum(p * p for p in model.parameters())
        loss.backward()
        return loss, [p.grad for p in model.parameters()]

    ours, grads = run(Value)
    theirs, ref_grads = run(mg_engine.Value)
    assert ours.data == pytest.approx(theirs.data, **TOL)
    assert grads == pytest.approx(ref_grads, **TOL)
    seen, stack = {theirs}, [theirs]
    while stack:
        for p in stack.pop()._prev:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    assert len(topological_order(ours)) == len(seen)


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
