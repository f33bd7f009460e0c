"""The operations of the numpy `Tensor` engine: each is a forward function plus a module-level
backward function `(grad_out, saved, meta) -> one gradient per parent` (days 21-24).

Broadcasting: numpy broadcasts inputs in the forward pass, so an input of shape (3, 1) may have
been stretched to (2, 3, 5). Its gradient is the output gradient summed over every stretched
dimension (`unbroadcast`): each input element contributed to all the outputs it was copied to.

Ties: `maximum(a, b)` with a == b sends half of the gradient to each input and `amax` splits it
evenly among the tied maxima, as torch does; `relu'(0)` is 0, as in torch.
"""

import builtins

import numpy as np

from arena_core.autograd.tensor import Tensor


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


def _lift(x, like: Tensor | None = None) -> Tensor:
    """Python numbers and arrays become constant Tensors (numbers take `like`'s float dtype)."""
    if isinstance(x, Tensor):
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


def mul(a, b) -> Tensor:
    a, b = _pair(a, b, "mul")
    return Tensor.from_op(
        a.data * b.data, "mul", _mul_backward, (a, b), (a.data, b.data), (a.shape, b.shape), (a, b)
    )


def _div_backward(g, saved, shapes):
    a, b = saved
    # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    return unbroadcast(g / b, shapes[0]), unbroadcast(-g * a / (b * b), shapes[1])


def div(a, b) -> Tensor:
    a, b = _pair(a, b, "div")
    return Tensor.from_op(
        a.data / b.data, "div", _div_backward, (a, b), (a.data, b.data), (a.shape, b.shape), (a, b)
    )


def _pow_backward(g, saved, shapes):
    a, b, out = saved
    # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b ln a  (only asked for when b requires grad)
    ga = unbroadcast(g * b * a ** (b - 1), shapes[0])
    gb = unbroadcast(g * out * np.log(a), shapes[1]) if shapes[2] else None
    return ga, gb


def pow(a, b) -> Tensor:
    a, b = _pair(a, b, "pow")
    out = a.data**b.data
    meta = (a.shape, b.shape, b.requires_grad)
    return Tensor.from_op(out, "pow", _pow_backward, (a, b), (a.data, b.data, out), meta, (a, b))


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
    result = Tensor.from_op(out, "exp", _exp_backward, (a,), (out,))
    if result._node is not None:  # the saved array is the output: watch its version too
        result._node.versions = ((result._version, 0, "the output of exp"),)
    return result


def _log_backward(g, saved, meta):
    return (g / saved[0],)


def log(a: Tensor) -> Tensor:
    return Tensor.from_op(np.log(a.data), "log", _log_backward, (a,), (a.data,), save_from=(a,))


def _tanh_backward(g, saved, meta):
    return (g * (1.0 - saved[0] ** 2),)


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.data)
    result = Tensor.from_op(out, "tanh", _tanh_backward, (a,), (out,))
    if result._node is not None:
        result._node.versions = ((result._version, 0, "the output of tanh"),)
    return result


def _relu_backward(g, saved, meta):
    return (g * saved[0],)


def relu(a: Tensor) -> Tensor:
    positive = a.data > 0  # a private mask, so no version check is needed; relu'(0) = 0
    return Tensor.from_op(np.where(positive, a.data, 0).astype(a.dtype), "relu", _relu_backward,
                          (a,), (positive.astype(a.dtype),))  # fmt: skip


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
    (mask,) = saved
    shape, axes, keepdim = meta
    # split evenly among tied maxima (torch.amax does the same)
    share = mask / mask.sum(axis=axes, keepdims=True)
    return (_expand_back(g, shape, axes, keepdim) * share,)


def amax(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = _axes(dim, a.ndim)
    top = a.data.max(axis=axes, keepdims=True)
    mask = (a.data == top).astype(a.dtype)
    out = top if keepdim else np.squeeze(top, axis=axes)
    return Tensor.from_op(
        np.asarray(out), "amax", _amax_backward, (a,), (mask,), (a.shape, axes, keepdim)
    )


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
    """Tensors inside an index become integer/bool numpy arrays."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def _getitem_backward(g, saved, meta):
    shape, dtype, index = meta
    grad = np.zeros(shape, dtype=dtype)
    np.add.at(grad, index, g)  # repeated indices accumulate (plain `grad[index] += g` would not)
    return (grad,)


def getitem(a: Tensor, index) -> Tensor:
    index = _index_arrays(index)
    out = np.asarray(a.data[index])
    return Tensor.from_op(
        out, "getitem", _getitem_backward, (a,), meta=(a.shape, a.dtype, index), view_of=a
    )


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
    return Tensor.from_op(
        np.asarray(out),
        "matmul",
        _matmul_backward,
        (a, b),
        (a.data, b.data),
        (a.shape, b.shape),
        (a, b),
    )
