"""In-place operations after a tensor has been used, checked against torch.autograd: an earlier
consumer keeps the history it recorded, and a saved tensor that was overwritten makes backward
raise torch's error - for exactly the ops and inputs for which torch raises. Also views of a
tensor modified in place, and pow's gradient where its formula meets 0 * inf.

Every expectation is torch's, computed live by running the same program on both engines
(`tests/autograd/_twins.py`); float64, so 1e-10 relative leaves room for rounding only.
"""

import gc
import warnings
import weakref

import numpy as np
import pytest
import torch

from arena_core.autograd import Tensor, no_grad
from tests.autograd._twins import INPLACE_ERROR, Ours, Torch, assert_same_outcome, run

rng = np.random.default_rng(0)
POSITIVE = np.abs(rng.standard_normal((2, 3))) + 0.5  # log, pow, div all defined, no ties


# --- the failures that motivated edges and version counters ---------------------------------------
def test_consumer_recorded_before_an_inplace_op_keeps_its_history():
    # s = sum(2x) was recorded before y *= 3, so ds/dx = 2 (torch agrees); rewiring gave 6
    def program(lib, x):
        y = x * 2.0
        s = y.sum()
        y.mul_(3.0)
        return s

    ours, _ = assert_same_outcome(program, [[1.0, 2.0]])
    np.testing.assert_array_equal(ours.grads[0], [2.0, 2.0])


def test_inplace_add_does_not_reach_an_earlier_consumer():
    def program(lib, x, w):
        y = x + 0.0
        s = (y + 1.0).sum()
        y.add_(w)  # after s was recorded: s does not depend on w
        return s

    ours, _ = assert_same_outcome(program, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ours.grads[0], [1.0, 1.0])
    assert ours.grads[1] is None


def test_later_consumers_see_the_new_history():
    def program(lib, x, w):
        y = x + 0.0
        s = (y + 1.0).sum()
        y.add_(w)
        return s + (y * y).sum()  # d/dw sum((x + w)^2) = 2 (x + w)

    ours, _ = assert_same_outcome(program, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ours.grads[1], [8.0, 12.0])


def test_pow_checks_the_version_of_its_saved_output():
    def program(lib, a, b):
        y = a**b  # backward of b reads y = a^b itself
        y += 1.0
        return y.sum()

    ours, _ = assert_same_outcome(program, [POSITIVE, POSITIVE[::-1].copy()])
    assert ours.stage == "backward"


def test_error_names_the_op_and_the_versions():
    x = Tensor([0.5, 1.5], requires_grad=True)
    y = x * 1.0
    z = y.log()
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match=rf"{INPLACE_ERROR}.*`log`.*version 1; expected.*0"):
        z.sum().backward()


# --- per op: which saved inputs/outputs raise after an in-place change, as torch decides ---------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "maximum": lambda a, b: a.maximum(b),
    "matmul": lambda a, b: a @ b.T,  # (2, 3) @ (3, 2)
}
UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "sum": lambda a: a.sum(),
    "sum_dim": lambda a: a.sum(dim=1, keepdim=True),
    "mean": lambda a: a.mean(dim=0),
    "amax": lambda a: a.amax(dim=1),
    "amax_keepdim": lambda a: a.amax(dim=0, keepdim=True),
    "mul_number": lambda a: a * 2.0,
    "rmul_number": lambda a: 2.0 * a,
    "add_number": lambda a: a + 2.0,
    "rsub_number": lambda a: 2.0 - a,
    "div_number": lambda a: a / 2.0,
    "rdiv_number": lambda a: 2.0 / a,  # torch: reciprocal(a) * 2, so a itself is not saved
    "pow_number": lambda a: a**2.0,
    "pow_zero": lambda a: a**0,
    "rpow_number": lambda a: 2.0**a,
    "getitem_int_array": lambda a: a[np.array([1, 1, 0])],
    "getitem_mask": lambda a: a[np.array([True, False])],
}
VIEWS = {  # outputs share the input's buffer: modifying them while recording is not supported
    "reshape": lambda a: a.reshape(3, 2),
    "permute": lambda a: a.permute(1, 0),
    "T": lambda a: a.T,
    "slice": lambda a: a[:, 1:],
    "int_index": lambda a: a[1],
}


def modified_after_use(op, target):
    """op on non-leaf copies of the leaves (so they may be changed in place), then `target`
    (an input index or "out") += 0.5 before backward; a leaf that does not need grad is used as
    a constant, which in-place ops may also change."""

    def program(lib, *leaves):
        inputs = [x * 1.0 if x.requires_grad else x for x in leaves]
        out = op(*inputs)
        (out if target == "out" else inputs[target]).add_(0.5)
        return out.sum()

    return program


@pytest.mark.parametrize("requires_grad", [(True, True), (True, False), (False, True)], ids=str)
@pytest.mark.parametrize("target", [0, 1, "out"])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_raise_where_torch_raises(name, target, requires_grad):
    b = POSITIVE[::-1].copy() + 0.25
    assert_same_outcome(
        modified_after_use(BINARY[name], target), [POSITIVE, b], list(requires_grad)
    )


@pytest.mark.parametrize("target", [0, "out"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ops_raise_where_torch_raises(name, target):
    assert_same_outcome(modified_after_use(UNARY[name], target), [POSITIVE])


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_ops_save_nothing(name):
    assert_same_outcome(modified_after_use(VIEWS[name], 0), [POSITIVE])


@pytest.mark.parametrize("index", [[0, 2], [True, False, True]], ids=["int", "mask"])
def test_tensor_index_is_saved_like_torch(index):
    def program(lib, x):
        idx = torch.tensor(index) if lib.name == "torch" else Tensor(np.array(index))
        y = (x * 1.0)[idx]
        with lib.no_grad():
            idx.zero_()  # backward would scatter to other positions: both engines refuse
        return (y * 2.0).sum()

    ours, _ = assert_same_outcome(program, [[1.0, 2.0, 3.0]])
    assert ours.stage == "backward"


# batched matmul whose operands torch multiplies as views of the inputs: torch's rule exactly
MATMUL_EXACT = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)), ((1, 1), (1, 1)),
                ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4,)),
                ((2, 1, 3, 4), (2, 1, 4, 5))]  # fmt: skip
# broadcast batch dims: torch sometimes multiplies a private copy and then cannot raise
MATMUL_BROADCAST = [((2, 1, 3, 4), (5, 4, 6)), ((4,), (2, 4, 3)), ((3, 4), (2, 4, 5)),
                    ((1, 3, 4), (2, 4, 5))]  # fmt: skip


def matmul_modified(target):
    def program(lib, a_leaf, b_leaf):
        a = a_leaf * 1.0 if a_leaf.requires_grad else a_leaf
        b = b_leaf * 1.0 if b_leaf.requires_grad else b_leaf
        out = a @ b
        (a if target == 0 else b).add_(0.5)
        return out.sum()

    return program


@pytest.mark.parametrize("requires_grad", [(True, True), (True, False), (False, True)], ids=str)
@pytest.mark.parametrize("target", [0, 1])
@pytest.mark.parametrize("shapes", MATMUL_EXACT, ids=str)
def test_matmul_raises_where_torch_raises(shapes, target, requires_grad):
    arrays = [rng.standard_normal(s) for s in shapes]
    assert_same_outcome(matmul_modified(target), arrays, list(requires_grad))


@pytest.mark.parametrize("target", [0, 1])
@pytest.mark.parametrize("shapes", MATMUL_BROADCAST + MATMUL_EXACT, ids=str)
def test_matmul_with_broadcast_batches_never_gives_a_wrong_gradient(shapes, target):
    """Where torch works on a copy, ours may raise instead; it must never return other grads."""
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = run(Ours, matmul_modified(target), arrays, [True, True])
    theirs = run(Torch, matmul_modified(target), arrays, [True, True])
    if theirs.stage == "backward":
        assert ours.stage == "backward" and INPLACE_ERROR in ours.error
    if ours.stage == "backward":
        assert INPLACE_ERROR in ours.error
    else:
        assert ours.stage == theirs.stage == "ok"
        for g, tg in zip(ours.grads, theirs.grads, strict=True):
            np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12)


# --- in-place ops save what they need, like torch ------------------------------------------------
def program_inplace(case):
    def program(lib, x, w):
        y = x * 1.0
        if case == "mul_then_modify":  # mul_ keeps a private copy of the old y (torch: a clone)
            y.mul_(w)
            y.add_(1.0)
        elif case == "div_then_modify":
            y.div_(w)
            y.mul_(2.0)
        elif case == "mul_self":  # y *= y reads the y that it overwrites: torch raises
            y.mul_(y)
        elif case == "div_self":
            y.div_(y)
        elif case == "add_self":
            y.add_(y)
        elif case == "sub_self":
            y.sub_(y)
        elif case == "other_modified":  # the saved multiplier changes after the product
            y.mul_(w)
            with lib.no_grad():
                w.add_(1.0)
        elif case == "constant_modified":
            k = lib.tensor([2.0, 3.0])
            y.mul_(k)
            k.add_(1.0)
        elif case == "zero_then_use":  # zeros carry a history, so y keeps requires_grad
            y = x * w
            s = (y * 1.0).sum()
            y.zero_()
            return s + (y * x).sum() + y.sum()
        elif case == "zero_saved":
            s = (y * w).sum()
            y.zero_()
            return s
        elif case == "constant_gains_history":
            y = lib.tensor([1.0, 1.0])
            y.mul_(w)
        elif case == "twice":
            y.add_(w)
            s = (y * 1.0).sum()
            y.mul_(w)
            return s + (y * y).sum()
        return (y * y).sum()

    return program


INPLACE_CASES = ["mul_then_modify", "div_then_modify", "mul_self", "div_self", "add_self",
                 "sub_self", "other_modified", "constant_modified", "zero_then_use", "zero_saved",
                 "constant_gains_history", "twice"]  # fmt: skip


@pytest.mark.parametrize("case", INPLACE_CASES)
def test_inplace_ops_match_torch(case):
    assert_same_outcome(program_inplace(case), [[1.5, 2.5], [0.7, -1.3]])


@pytest.mark.parametrize("op", ["mul_", "add_"])
def test_inplace_with_itself_leaves_no_reference_cycle(op):
    """`y *= y` must not link y's new node back to y: the graph is freed without the GC."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    gc.disable()
    try:
        y = x * 1.0
        getattr(y, op)(y)
        alive = weakref.ref(y)
        del y
        assert alive() is None
    finally:
        gc.enable()


def test_zero_keeps_requires_grad_like_torch():
    y = Tensor([1.0, 2.0], requires_grad=True) * 1.0
    y.zero_()
    ty = torch.tensor([1.0, 2.0], requires_grad=True) * 1.0
    ty.zero_()
    assert y.requires_grad == ty.requires_grad and y.grad_fn is not None


# --- views ---------------------------------------------------------------------------------------
def program_view(case):
    def program(lib, x, w):
        b = x * 1.0
        if case == "base_modified_then_view_used":  # the view is re-derived from b's new history
            v = b[0:1]
            b.mul_(w)
            return (v * 3.0).sum()
        if case == "view_used_then_base_modified":
            v = b[0:1]
            s = (v * 3.0).sum()
            b.mul_(w)
            return s
        if case == "view_saved_then_base_modified":  # the saved view shares b's version counter
            v = b[0:1]
            s = (v * w[0]).sum()
            b.add_(1.0)
            return s
        if case == "view_of_constant_gains_history":
            c = lib.tensor(np.ones(2))
            v = c[0:1]
            c.mul_(w)
            return (v * x[0]).sum()
        if case == "view_of_constant_as_inplace_operand":  # v gained a history through c
            c = lib.tensor(np.ones(2))
            v = c[0:1]
            c.mul_(w)
            y = lib.tensor(np.zeros(2))
            y.add_(v)
            return (y * x).sum()
        if case == "view_of_view":
            v = b.reshape(2, 1)[1]
            b.mul_(w)
            return (v * 3.0).sum()
        if case == "int_index_is_a_view":  # numpy gives a copy for x[1]; torch and ours a view
            v = b[1]
            b.mul_(w)
            return v * 3.0
        if case == "view_is_the_output":
            v = b.reshape(1, 2)[0, 1]
            b.mul_(w)
            return v
        if case == "permuted_view_squared":
            b = (x * 1.0).reshape(2, 1)
            b2 = b * 1.0
            v = b2.permute(1, 0)
            b2.add_(w.reshape(2, 1))
            return (v * v).sum()
        if case == "advanced_index_is_a_copy":
            v = b[np.array([0, 0, 1])]
            b.mul_(w)
            return (v * 2.0).sum()
        if case == "detached_then_base_modified":
            d = b.detach()
            b.mul_(w)
            return (d * x).sum()
        if case == "view_modified_under_no_grad":
            v = b[0:1]
            with lib.no_grad():
                v.mul_(2.0)
            return (b * b).sum() + (v * w[0]).sum()
        if case == "leaf_view_after_optimizer_step":
            v = x[0:1]
            with lib.no_grad():
                x.sub_(0.1 * w.detach())
            return (v * v).sum()
        raise ValueError(case)

    return program


VIEW_CASES = ["base_modified_then_view_used", "view_used_then_base_modified",
              "view_saved_then_base_modified", "view_of_constant_gains_history",
              "view_of_constant_as_inplace_operand", "view_of_view",
              "int_index_is_a_view", "view_is_the_output", "permuted_view_squared",
              "advanced_index_is_a_copy", "detached_then_base_modified",
              "view_modified_under_no_grad", "leaf_view_after_optimizer_step"]  # fmt: skip


@pytest.mark.parametrize("case", VIEW_CASES)
def test_views_of_tensors_modified_in_place_match_torch(case):
    assert_same_outcome(program_view(case), [[1.5, 2.5], [0.7, -1.3]])


def test_a_tensor_wrapping_another_shares_its_version():
    def program(lib, x, w):
        y = x * 1.0
        c = Tensor(y) if lib.name == "ours" else y.detach()  # same buffer, no history
        s = (c * w).sum()  # saves c for dw
        y.add_(1.0)  # overwrites c's buffer too
        return s

    ours, _ = assert_same_outcome(program, [[1.5, 2.5], [0.7, -1.3]])
    assert ours.stage == "backward"


def test_an_operand_overlapping_the_written_tensor_is_refused():
    # torch refuses x += x[:1] but computes x += x.T while overwriting its own input
    y = Tensor(np.arange(4.0).reshape(2, 2)) * 1.0
    for other in (y.T, y[:1], y[:, 1:]):
        with pytest.raises(RuntimeError, match="refer to a single memory location"):
            y.add_(other)
    np.testing.assert_array_equal(y.data, [[0.0, 1.0], [2.0, 3.0]])
    y.add_(y.reshape(2, 2))  # exactly its own elements: safe, as y += y
    np.testing.assert_array_equal(y.data, [[0.0, 2.0], [4.0, 6.0]])
    ty = torch.arange(4.0).reshape(2, 2) * 1.0
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        ty.add_(ty[:1])


def test_inplace_on_a_view_bumps_the_base_version():
    base = Tensor([1.0, 2.0, 3.0]) * 1.0
    view = base[1:]
    with no_grad():
        view.mul_(2.0)
    assert base.version == view.version == 1
    np.testing.assert_array_equal(base.data, [1.0, 4.0, 6.0])


# --- pow where its derivative formula meets 0 * inf ----------------------------------------------
POW_POINTS = [(0.0, 0.0), (0.0, 1.0), (0.0, 2.0), (0.0, 0.5), (0.0, -1.0), (0.0, 3.0), (-0.0, 0.0),
              (2.0, 0.0), (-2.0, 2.0), (-2.0, 0.5), (-1.0, 0.0), (np.inf, 0.0)]  # fmt: skip


@pytest.mark.parametrize("form", ["tensor**tensor", "tensor**number", "number**tensor"])
@pytest.mark.parametrize("point", POW_POINTS, ids=str)
def test_pow_gradient_at_zero_and_edge_values_matches_torch(point, form):
    a, b = point

    def grads(make):
        ta, tb = make(a), make(b)
        base = ta if form != "number**tensor" else a
        exponent = tb if form != "tensor**number" else b
        (base**exponent).sum().backward()
        return [t.grad for t in (ta, tb)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf and nan here are values, not numpy warnings
        ours = grads(lambda v: Tensor(np.array([v]), requires_grad=True))
    theirs = grads(lambda v: torch.tensor([v], dtype=torch.float64, requires_grad=True))
    for g, tg in zip(ours, theirs, strict=True):
        assert (g is None) == (tg is None)
        if tg is not None:
            np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-12)
