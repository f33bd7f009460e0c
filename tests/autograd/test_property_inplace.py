"""Property-based test: random small graphs in which tensors are modified in place *after* other
ops have used them, run on our numpy `Tensor` engine and on torch.autograd (float64).

Each program grows a pool of tensors from a few leaves (plus two constants): out-of-place ops
(some saving their inputs or outputs for backward, some views), and in-place ops on earlier
results - in grad mode, or under no_grad like an optimizer step. The loss sums every pool entry,
so views, overwritten tensors and stale consumers are all backpropagated through. Required:
the same loss and the same leaf gradients, or both engines raise torch's in-place RuntimeError.

What the generator avoids, and why: in-place ops on views while recording (torch rewrites the
base's history, this engine refuses) and on leaves that require grad (both refuse at once), so
those become the same op under no_grad; inputs of log/div/pow are kept in their domain, and
examples whose values overflow are discarded, since inf - inf cannot be compared.
Tolerance: float64, programs <= 10 ops, values O(1..1e3): 1e-8 relative is far above rounding
and far below any wrong derivative.
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.autograd._twins import Ours, Torch, assert_outcomes_match, run

UNARY = ["tanh", "relu", "exp_tanh", "log", "neg", "pow_number", "rpow_number", "rdiv_number",
         "mul_number", "square_plus_one", "sum_last", "mean_first", "amax_last",
         "view_permute_twice", "view_slice", "view_row"]  # fmt: skip
BINARY = ["add", "sub", "mul", "div", "maximum", "pow", "matmul"]
INPLACE = ["add_", "sub_", "mul_", "div_", "add_number_", "mul_number_", "zero_",
           "no_grad_mul_", "step_W"]  # fmt: skip
VIEW_OPS = {"view_permute_twice", "view_slice", "view_row"}


def positive(lib, t, margin=0.1) -> bool:
    """Decided on each engine's own values (equal up to rounding, far from the margin)."""
    return bool(np.all(lib.value(t) > margin))


def unary(lib, op, x):
    if op == "tanh":
        return x.tanh()
    if op == "relu":
        return x.relu()
    if op == "exp_tanh":  # exp saves its output (the pool entry), tanh keeps it bounded
        return x.tanh().exp()
    if op == "log":  # log saves its input: the pool entry itself when it is positive
        return x.log() if positive(lib, x) else (x * x + 1.0).log()
    if op == "neg":
        return -x
    if op == "pow_number":
        return x**2.0
    if op == "rpow_number":
        return 1.5 ** x.tanh()
    if op == "rdiv_number":
        return 2.0 / x if np.all(np.abs(lib.value(x)) > 0.1) else 2.0 / (x * x + 1.0)
    if op == "mul_number":
        return 0.3 * x - 1.7
    if op == "square_plus_one":
        return x * x + 1.0
    if op == "sum_last":
        return x.sum(dim=-1, keepdim=True)
    if op == "mean_first":
        return x.mean(dim=0) if x.ndim == 2 else x.mean(dim=0, keepdim=True)
    if op == "amax_last":
        return x.amax(dim=-1, keepdim=True)
    if op == "view_permute_twice":
        dims = tuple(reversed(range(x.ndim)))
        return x.permute(*dims).permute(*dims)
    if op == "view_slice":
        return x[..., :1]
    if op == "view_row":
        return x[0] if x.ndim == 2 else x[:1]
    raise ValueError(op)


def binary(lib, op, x, y, w):
    """Every pool shape is one of (a, b), (1, b), (a, 1), (b,), (1,), (1, 1): all broadcast."""
    if op == "matmul":  # x @ W with the square leaf W, when x's last dim fits
        return x @ w if x.shape[-1] == w.shape[0] else x * 0.5
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "div":
        return x / y if np.all(np.abs(lib.value(y)) > 0.1) else x / (y * y + 1.0)
    if op == "maximum":
        return x.maximum(y)
    if op == "pow":  # pow(Tensor, Tensor) saves base, exponent and output
        return x**y if positive(lib, x) else (x.tanh() + 1.5) ** y
    raise ValueError(op)


def inplace(lib, op, target, other):
    """`target op= other`; `other` fits target's shape (checked by the caller) or is a number."""
    if op == "add_":
        target.add_(other)
    elif op == "sub_":
        target.sub_(other)
    elif op in ("mul_", "no_grad_mul_"):
        target.mul_(other)
    elif op == "div_":
        safe = not hasattr(other, "shape") or np.all(np.abs(lib.value(other)) > 0.1)
        target.div_(other if safe else other * other + 1.0)
    elif op == "add_number_":
        target.add_(0.75)
    elif op == "mul_number_":
        target.mul_(-1.25)
    elif op == "zero_":
        target.zero_()
    else:
        raise ValueError(op)


def make_program(steps, coeffs):
    def program(lib, *leaves):
        *vectors, w, constant, constant_row = leaves
        pool = [*vectors, constant, constant_row]
        grad_leaf = [True] * len(vectors) + [False, False]  # in-place on these under no_grad
        view = [False] * len(pool)
        buffer = list(range(len(pool)))  # which pool entry's memory each one lives in
        for op, i, j in steps:
            x, y = pool[i % len(pool)], pool[j % len(pool)]
            if op in UNARY:
                pool.append(unary(lib, op, x))
                view.append(op in VIEW_OPS)
                buffer.append(buffer[i % len(buffer)] if op in VIEW_OPS else len(buffer))
                grad_leaf.append(False)
            elif op in BINARY:
                pool.append(binary(lib, op, x, y, w))
                view.append(False)
                buffer.append(len(buffer))
                grad_leaf.append(False)
            elif op == "step_W":  # an SGD-like update of W between forward and backward
                with lib.no_grad():
                    w.sub_(0.1 * w.detach())
            else:
                k, m = i % len(pool), j % len(pool)
                fits = np.broadcast_shapes(x.shape, y.shape) == x.shape
                # `x += view of x` is refused by ours and order-dependent in torch (see inplace.py)
                overlaps = buffer[k] == buffer[m] and k != m
                other = y if fits and not overlaps else 1.5
                if op.startswith("no_grad") or grad_leaf[k] or view[k]:
                    with lib.no_grad():
                        inplace(lib, op, x, other)
                else:
                    inplace(lib, op, x, other)
        total = None
        for c, p in zip(coeffs, pool, strict=False):
            term = (p * c).sum()
            total = term if total is None else total + term
        return total

    return program


@settings(deadline=None, max_examples=100, derandomize=True)
@given(
    a=st.integers(1, 3),
    b=st.integers(1, 3),
    shape_ids=st.lists(st.integers(0, 3), min_size=1, max_size=3),
    steps=st.lists(
        st.tuples(
            st.sampled_from(UNARY + BINARY + INPLACE), st.integers(0, 50), st.integers(0, 50)
        ),
        min_size=2,
        max_size=10,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_inplace_after_use_matches_torch_on_random_graphs(a, b, shape_ids, steps, seed):
    rng = np.random.default_rng(seed)
    shapes = [[(a, b), (1, b), (a, 1), (b,)][k] for k in shape_ids]
    arrays = [rng.standard_normal(s) for s in shapes]
    # W, and two constants that in-place ops may give a history
    arrays += [
        rng.standard_normal((b, b)) * 0.5,
        rng.standard_normal((a, b)),
        rng.standard_normal(b),
    ]
    requires_grad = [True] * (len(shapes) + 1) + [False, False]
    coeffs = rng.standard_normal(len(steps) + len(arrays)).tolist()
    program = make_program(steps, coeffs)
    theirs = run(Torch, program, arrays, requires_grad)
    finite = theirs.stage != "ok" or (
        np.isfinite(theirs.loss) and all(g is None or np.isfinite(g).all() for g in theirs.grads)
    )
    assume(finite)
    ours = run(Ours, program, arrays, requires_grad)
    assert_outcomes_match(ours, theirs, rtol=1e-8, atol=1e-9)
