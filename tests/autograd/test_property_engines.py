"""Property-based tests: hypothesis builds random expression graphs (random ops, shapes, reuse of
intermediate results), runs the same program on our engines and on torch.autograd in float64, and
requires the same gradients for every leaf.

Ops are domain-safe by construction: log and pow 0.5 only see x^2 + 1, exp only sees tanh(x),
denominators are y^2 + 1, so no NaN/inf can make two correct engines disagree.
Tolerances: float64 with different summation orders, so ~1e-12 relative per op; graphs are at
most 8 ops deep, 1e-9 leaves ample margin while a wrong derivative is off by O(1).
"""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.autograd import Tensor, Value

UNARY = ["tanh", "relu", "exp_tanh", "log_sq1", "neg", "pow2", "pow3", "sqrt_sq1", "affine",
         "rdiv", "sum_last", "sum_first", "mean_last"]  # fmt: skip
BINARY = ["add", "sub", "mul", "maximum", "div_safe", "matmul"]


def apply_unary(op, x):
    if op == "tanh":
        return x.tanh()
    if op == "relu":
        return x.relu()
    if op == "exp_tanh":
        return x.tanh().exp()
    if op == "log_sq1":
        return (x * x + 1.0).log()
    if op == "neg":
        return -x
    if op == "pow2":
        return x**2
    if op == "pow3":
        return x**3
    if op == "sqrt_sq1":
        return (x * x + 1.0) ** 0.5
    if op == "affine":
        return 0.3 - 1.7 * x + 0.5
    if op == "rdiv":
        return 2.0 / (x * x + 1.0)
    if op == "sum_last":
        return x.sum(dim=-1, keepdim=True) if x.ndim else x
    if op == "sum_first":
        return x.sum(dim=0) if x.ndim == 2 else x
    if op == "mean_last":
        return x.mean(dim=-1, keepdim=True) if x.ndim else x
    raise ValueError(op)


def apply_binary(op, x, y, w):
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "maximum":
        return x.maximum(y)
    if op == "div_safe":
        return x / (y * y + 1.0)
    if op == "matmul":  # x @ W with a square leaf W, when x's last dim fits
        return x @ w if x.ndim >= 1 and x.shape[-1] == w.shape[0] else x * 0.5
    raise ValueError(op)


def run_program(leaves, w, program, coeffs):
    pool = list(leaves)
    for op, i, j in program:
        x, y = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(apply_unary(op, x) if op in UNARY else apply_binary(op, x, y, w))
    # every intermediate result contributes, so every leaf gets a gradient through the graph
    total = None
    for c, p in zip(coeffs, pool, strict=False):
        term = p * c if isinstance(p, Value) else (p * c).sum()
        total = term if total is None else total + term
    return total


programs = st.lists(
    st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 50), st.integers(0, 50)),
    min_size=1,
    max_size=8,
)


@settings(deadline=None, max_examples=60)
@given(
    a=st.integers(1, 4),
    b=st.integers(1, 4),
    shape_ids=st.lists(st.integers(0, 3), min_size=1, max_size=3),
    program=programs,
    seed=st.integers(0, 2**32 - 1),
)
def test_tensor_engine_matches_torch_on_random_graphs(a, b, shape_ids, program, seed):
    shapes = [[(a, b), (1, b), (a, 1), (b,)][k] for k in shape_ids]
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    w_array = rng.standard_normal((b, b)) * 0.5
    coeffs = rng.standard_normal(len(program) + len(shapes)).tolist()

    ours = [Tensor(x.copy(), requires_grad=True) for x in arrays]
    w = Tensor(w_array.copy(), requires_grad=True)
    theirs = [torch.tensor(x, requires_grad=True) for x in arrays]
    tw = torch.tensor(w_array, requires_grad=True)
    out = run_program(ours, w, program, coeffs)
    t_out = run_program(theirs, tw, program, coeffs)
    np.testing.assert_allclose(out.item(), t_out.item(), rtol=1e-9, atol=1e-10)
    out.backward()
    t_out.backward()
    for leaf, t_leaf in zip([*ours, w], [*theirs, tw], strict=True):
        expected = t_leaf.grad.numpy() if t_leaf.grad is not None else np.zeros(t_leaf.shape)
        got = leaf.grad.data if leaf.grad is not None else np.zeros(leaf.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


SCALAR_UNARY = ["tanh", "relu", "exp_tanh", "log_sq1", "neg", "pow2", "pow3", "sqrt_sq1",
                "affine", "rdiv"]  # fmt: skip
SCALAR_BINARY = ["add", "sub", "mul", "div_safe"]


@settings(deadline=None, max_examples=60)
@given(
    xs=st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=4),
    program=st.lists(
        st.tuples(
            st.sampled_from(SCALAR_UNARY + SCALAR_BINARY), st.integers(0, 50), st.integers(0, 50)
        ),
        min_size=1,
        max_size=10,
    ),
    coeff_seed=st.integers(0, 2**32 - 1),
)
def test_value_engine_matches_torch_on_random_graphs(xs, program, coeff_seed):
    coeffs = np.random.default_rng(coeff_seed).standard_normal(len(program) + len(xs)).tolist()
    ours = [Value(x) for x in xs]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = run_program(ours, None, program, coeffs)
    t_out = run_program(theirs, None, program, coeffs)
    np.testing.assert_allclose(out.data, t_out.item(), rtol=1e-9, atol=1e-10)
    out.backward()
    t_out.backward()
    for leaf, t_leaf in zip(ours, theirs, strict=True):
        expected = t_leaf.grad.item() if t_leaf.grad is not None else 0.0
        np.testing.assert_allclose(leaf.grad, expected, rtol=1e-9, atol=1e-10)
