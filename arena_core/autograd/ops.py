"""The operations of the numpy `Tensor` engine: each is a forward function plus a module-level
backward function `(grad_out, saved, meta) -> one gradient per parent` (days 21-24).

Broadcasting: numpy broadcasts inputs in the forward pass, so an input of shape (3, 1) may have
been stretched to (2, 3, 5). Its gradient is the output gradient summed over every stretched
dimension (`unbroadcast`): each input element contributed to all the outputs it was copied to.

Ties: `maximum(a, b)` with a == b sends half of the gradient to each input and `amax` splits it
evenly among the tied maxima, as torch does; `relu'(0)` is 0, as in torch.

What each op saves for backward follows torch's choice op by op, so that an in-place change of a
saved tensor raises exactly where torch raises (the version check in tensor.py):

    add, sub, neg, sum, mean, views     nothing
    mul, matmul                         each operand, if the *other* one requires grad
    div                                 the divisor; the dividend if the divisor requires grad
    number / b                          nothing the user can reach (torch: reciprocal(b) * number)
    pow(a, b)  /  pow(a, number)        a, b and the output  /  a only
    maximum                             both operands
    exp, tanh, relu                     the output
    log                                 the input
    amax                                the input and the output
    getitem                             Tensor indices (integer or boolean)

matmul: for 1-d and 2-d operands, and batched ones that torch multiplies as views, this is
torch's rule. When batch dims broadcast, torch's decomposition sometimes multiplies a private
copy of an operand and then does not raise; this engine raises there (never a wrong gradient).
"""

import builtins
import numbers

import numpy as np

from arena_core.autograd.grad_mode import is_grad_enabled
from arena_core.autograd.tensor import Tensor, _sync_view


def unbroadcast(grad, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing numpy broadcasting (leading dims, then size-1 dims)."""
    grad = np.asarray(grad)  # products of 0-d arrays are numpy scalars
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return np.asarray(grad)  # a full reduction gives a numpy scalar; keep it an array


def _is_number(x) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, np.ndarray)


def _lift(x, like: Tensor | None = None) -> Tensor:
    """Python numbers and arrays become constant Tensors (numbers take `like`'s float dtype)."""
    if isinstance(x, Tensor):
        if x._view_link is not None and is_grad_enabled():
            _sync_view(x)  # its requires_grad decides what the op saves, so it must be current
        return x
    if like is not None and isinstance(x, (int, float)) and like.dtype.kind == "f":
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def _pair(a, b, op: str) -> tuple[Tensor, Tensor]:
    a = _lift(a, b if isinstance(b, Tensor) else None)
    b = _lift(b, a)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together (dims are aligned "
            f"from the right; each pair must be equal or contain a 1)"
        ) from None
    return a, b


# --- elementwise binary ops ------
def _add_backward(g, saved, shapes):
    return unbroadcast(g, shapes[0]), unbroadcast(g, shapes[1])


def add(a, b) -> Tensor:
    a, b = _pair(a, b, "add")
    return Tensor.from_op(a.data + b.data, "add", _add_backward, (a, b), meta=(a.shape, b.shape))


def _sub_backward(g, saved, shapes):
    return unbroadcast(g, shapes[0]), unbroadcast(-g, shapes[1])


def sub(a, b) -> Tensor:
    a, b = _pair(a, b, "sub")
    return Tensor.from_op(a.data - b.data, "sub", _sub_backward, (a, b), meta=(a.shape, b.shape))


def _mul_backward(g, saved, shapes):
    a, b = saved
    return unbroadcast(g * b, shapes[0]), unbroadcast(g * a, shapes[1])


def _each_if_other_needs_grad(a: Tensor, b: Tensor) -> tuple[Tensor, ...]:
    """For products: d(ab)/da reads b and d(ab)/db reads a, so keep each only if that is asked."""
    return (a,) * b.requires_grad + (b,) * a.requires_grad


def mul(a, b) -> Tensor:
    a, b = _pair(a, b, "mul")
    return Tensor.from_op(a.data * b.data, "mul", _mul_backward, (a, b), (a.data, b.data),
                          (a.shape, b.shape), _each_if_other_needs_grad(a, b))  # fmt: skip


def _div_backward(g, saved, shapes):
    a, b = saved
    # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    return unbroadcast(g / b, shapes[0]), unbroadcast(-g * a / (b * b), shapes[1])


def _number_div_backward(g, saved, meta):
    (reciprocal,) = saved
    number, shape = meta
    return None, unbroadcast(-g * number * reciprocal * reciprocal, shape)  # d(c/b)/db = -c/b^2


def div(a, b) -> Tensor:
    if _is_number(a):
        # `number / b` is reciprocal(b) * number, as in torch: backward reads only 1/b, a private
        # array, so modifying b in place afterwards is harmless (and torch does not raise)
        a, b = _pair(a, b, "div")
        reciprocal = 1.0 / b.data
        return Tensor.from_op(a.data * reciprocal, "div", _number_div_backward, (a, b),
                              (reciprocal,), (a.data, b.shape))  # fmt: skip
    a, b = _pair(a, b, "div")
    # d(a/b)/da = 1/b needs b, d(a/b)/db = -a/b^2 needs a and b
    saved_from = (a,) * b.requires_grad + (b,)
    return Tensor.from_op(a.data / b.data, "div", _div_backward, (a, b), (a.data, b.data),
                          (a.shape, b.shape), saved_from)  # fmt: skip


def _pow_backward(g, saved, shapes):
    a, b, out = saved
    # inf and nan below are the true values (0^-1, log of a negative base): no warnings, like torch
    with np.errstate(divide="ignore", invalid="ignore"):
        # d(a^b)/da = b a^(b-1), except that b = 0 gives exactly 0: a^0 = 1 is flat even at a = 0,
        # where the formula would be 0 * 0^-1 = 0 * inf = nan
        da = np.where(b == 0, 0.0, b * a ** (b - 1))
        ga = unbroadcast(g * da, shapes[0])
        gb = None
        if shapes[2]:  # d(a^b)/db = a^b ln a, only asked for when b requires grad
            # at a = 0 with b >= 0 this is 0 (0^b ln 0 -> 0 as a -> 0+; torch uses the same
            # limit), where the formula would give 0 * -inf = nan
            db = np.where((a == 0) & (b >= 0), 0.0, out * np.log(a))
            gb = unbroadcast(g * db, shapes[1])
    return ga, gb


def pow(a, b) -> Tensor:
    number_exponent = _is_number(b)
    a, b = _pair(a, b, "pow")
    with np.errstate(divide="ignore", invalid="ignore"):  # 0^-1 = inf, (-1)^0.5 = nan, as torch
        out = a.data**b.data
    meta = (a.shape, b.shape, b.requires_grad)
    if number_exponent:  # torch's pow(Tensor, Scalar) keeps only the base
        return Tensor.from_op(out, "pow", _pow_backward, (a, b), (a.data, b.data, None), meta, (a,))
    return Tensor.from_op(out, "pow", _pow_backward, (a, b), (a.data, b.data, out), meta, (a, b),
                          save_output=True)  # fmt: skip


def _maximum_backward(g, saved, shapes):
    a, b = saved
    # ties (a == b) split the gradient 50/50, matching torch.maximum
    to_a = (a > b) + 0.5 * (a == b)
    return unbroadcast(g * to_a, shapes[0]), unbroadcast(g * (1.0 - to_a), shapes[1])


def maximum(a, b) -> Tensor:
    a, b = _pair(a, b, "maximum")
    return Tensor.from_op(
        np.maximum(a.data, b.data), "maximum", _maximum_backward, (a, b),
        (a.data, b.data), (a.shape, b.shape), (a, b),
    )  # fmt: skip


# --- elementwise unary ops ------
def _neg_backward(g, saved, meta):
    return (-g,)


def neg(a: Tensor) -> Tensor:
    return Tensor.from_op(-a.data, "neg", _neg_backward, (a,))


def _exp_backward(g, saved, meta):
    return (g * saved[0],)  # d/dx e^x = e^x, the output itself


def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)
    return Tensor.from_op(out, "exp", _exp_backward, (a,), (out,), save_output=True)


def _log_backward(g, saved, meta):
    return (g / saved[0],)


def log(a: Tensor) -> Tensor:
    return Tensor.from_op(np.log(a.data), "log", _log_backward, (a,), (a.data,), save_from=(a,))


def _tanh_backward(g, saved, meta):
    return (g * (1.0 - saved[0] ** 2),)


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.data)
    return Tensor.from_op(out, "tanh", _tanh_backward, (a,), (out,), save_output=True)


def _relu_backward(g, saved, meta):
    return (g * (saved[0] > 0),)  # the output is positive exactly where the input is; relu'(0) = 0


def relu(a: Tensor) -> Tensor:
    out = np.maximum(a.data, 0).astype(a.dtype, copy=False)
    return Tensor.from_op(out, "relu", _relu_backward, (a,), (out,), save_output=True)


# --- reductions ------
def _axes(dim, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -ndim <= d < builtins.max(ndim, 1):
            raise IndexError(f"dimension {d} out of range for a tensor with {ndim} dims")
    return tuple(sorted(d % builtins.max(ndim, 1) for d in dims))


def _expand_back(g, shape, axes, keepdim):
    if not keepdim:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _sum_backward(g, saved, meta):
    shape, axes, keepdim = meta
    return (_expand_back(g, shape, axes, keepdim),)


def sum(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, a.ndim)
    out = np.asarray(a.data.sum(axis=axes, keepdims=keepdim))
    return Tensor.from_op(out, "sum", _sum_backward, (a,), meta=(a.shape, axes, keepdim))


def _mean_backward(g, saved, meta):
    shape, axes, keepdim, count = meta
    return (_expand_back(g / count, shape, axes, keepdim),)


def mean(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, a.ndim)
    count = int(np.prod([a.shape[d] for d in axes]))
    out = np.asarray(a.data.mean(axis=axes, keepdims=keepdim))
    return Tensor.from_op(out, "mean", _mean_backward, (a,), meta=(a.shape, axes, keepdim, count))


def _amax_backward(g, saved, meta):
    a, top = saved
    shape, axes, keepdim = meta
    mask = (a == top).astype(a.dtype)
    # split evenly among tied maxima (torch.amax does the same)
    share = mask / mask.sum(axis=axes, keepdims=True)
    return (_expand_back(g, shape, axes, keepdim) * share,)


def amax(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, a.ndim)
    top = a.data.max(axis=axes, keepdims=True)
    out = top if keepdim else np.squeeze(top, axis=axes)  # a view of `top`: one buffer, one version
    return Tensor.from_op(np.asarray(out), "amax", _amax_backward, (a,), (a.data, top),
                          (a.shape, axes, keepdim), (a,), save_output=True)  # fmt: skip


# --- shape ops ------
def _reshape_backward(g, saved, shape):
    return (g.reshape(shape),)


def reshape(a: Tensor, *shape) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(
            f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) to {shape}"
        ) from None
    return Tensor.from_op(out, "reshape", _reshape_backward, (a,), meta=a.shape, view_of=a)


def _permute_backward(g, saved, dims):
    return (np.transpose(g, np.argsort(dims)),)


def permute(a: Tensor, *dims) -> Tensor:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if sorted(d % builtins.max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {a.ndim} dims of {a.shape}")
    dims = tuple(d % a.ndim for d in dims)
    return Tensor.from_op(
        np.transpose(a.data, dims), "permute", _permute_backward, (a,), meta=dims, view_of=a
    )


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(a.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, *dims)


def _index_arrays(index):
    """Tensors inside an index become integer/bool numpy arrays (listed: backward reads them)."""
    parts = index if isinstance(index, tuple) else (index,)
    tensors = tuple(i for i in parts if isinstance(i, Tensor))
    parts = tuple(i.data if isinstance(i, Tensor) else i for i in parts)
    if all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts):
        # basic indexing: numpy returns a copied scalar for `x[1]` on a 1-d array but a 0-d view
        # for `x[1, ...]`; torch always returns a view, so make numpy do the same
        if not any(i is Ellipsis for i in parts):
            parts += (Ellipsis,)
        return parts, tensors
    return (parts if isinstance(index, tuple) else parts[0]), tensors


def _getitem_backward(g, saved, meta):
    shape, dtype, index = meta
    grad = np.zeros(shape, dtype=dtype)
    np.add.at(grad, index, g)  # repeated indices accumulate (plain `grad[index] += g` would not)
    return (grad,)


def getitem(a: Tensor, index) -> Tensor:
    index, index_tensors = _index_arrays(index)
    out = np.asarray(a.data[index])
    return Tensor.from_op(out, "getitem", _getitem_backward, (a,), meta=(a.shape, a.dtype, index),
                          save_from=index_tensors, view_of=a)  # fmt: skip


# --- matrix multiplication ------
def _matmul_backward(g, saved, meta):
    a, b = saved
    a_shape, b_shape = meta
    a2 = a[None, :] if a.ndim == 1 else a  # promote 1-d operands as numpy does
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g = g.reshape(*batch, a2.shape[-2], b2.shape[-1])  # put back the dims numpy dropped
    ga = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a_shape)
    gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b_shape)
    return ga, gb


def matmul(a, b) -> Tensor:
    a, b = _lift(a), _lift(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs tensors with at least one dimension; use * for scalars")
    k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})")
    try:
        out = a.data @ b.data
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
        ) from None
    return Tensor.from_op(np.asarray(out), "matmul", _matmul_backward, (a, b), (a.data, b.data),
                          (a.shape, b.shape), _each_if_other_needs_grad(a, b))  # fmt: skip
