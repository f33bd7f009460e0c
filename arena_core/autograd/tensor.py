"""A numpy-backed `Tensor` with reverse-mode autograd: the graph, `backward`, in-place semantics.

Used by days 21-24. The operations themselves (forward + backward functions) live in
`arena_core/autograd/ops.py`; this file holds what every operation shares:

* `Node` - the recipe that produced a tensor: the op name, a module-level backward function, the
  parent tensors, arrays saved for backward, and the *versions* of the tensors those arrays belong
  to. A node never references its own output, so graphs contain no reference cycles.
* `Tensor.backward` - an iterative topological sort, then the chain rule from the output back to
  the leaves, accumulating into `.grad` of leaves that require grad (like torch). The graph is
  kept afterwards (as with torch's `retain_graph=True`); it is freed when the output is.
* Version counters - every in-place operation bumps the tensor's counter (shared with numpy views
  of it, like torch's). A backward function that needs an array which has since been overwritten
  raises the same kind of error torch does instead of silently computing a wrong gradient.
* In-place ops (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `+=` ...) are implemented in
  `arena_core/autograd/inplace.py`: history is rebased onto the new op, as in torch.
"""

import numpy as np

from arena_core.autograd.grad_mode import is_grad_enabled


class _Version:
    """A mutable counter shared by a tensor and the numpy views of its buffer."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Node:
    """How a non-leaf tensor was computed; see the module docstring."""

    __slots__ = ("op", "backward", "parents", "saved", "meta", "versions")

    def __init__(self, op, backward, parents, saved, meta, versions):
        self.op = op
        self.backward = backward  # backward(grad_out, saved, meta) -> one grad (or None) per parent
        self.parents = parents
        self.saved = saved
        self.meta = meta
        self.versions = versions  # ((version counter, value at save time, what it was), ...)

    def check_versions(self) -> None:
        for counter, expected, what in self.versions:
            if counter.value != expected:
                raise RuntimeError(
                    f"one of the tensors needed for the gradient of `{self.op}` ({what}) has been "
                    f"modified by an in-place operation: it is at version "
                    f"{counter.value}, expected "
                    f"version {expected}. Use the out-of-place op (e.g. `x = x * 2` rather than "
                    f"`x *= 2`) or clone the tensor before modifying it."
                )


def _as_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == np.float16:
        array = array.astype(np.float32)
    return array


class Tensor:
    """An n-d array with `.grad`, `.requires_grad` and a recorded history (`_node`)."""

    __array_priority__ = 1000  # make `ndarray * Tensor` defer to Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require grad, not {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self._node: Node | None = None
        self._version = _Version()
        self._is_view = False

    # --- construction of op results (used by ops.py and custom ops) ------
    @staticmethod
    def from_op(data, op, backward, parents, saved=(), meta=None, save_from=(), view_of=None):
        """Wrap an op's output array; attach a Node when grad is on and a parent requires grad.

        `save_from` lists the tensors whose data the backward reads, so their versions are checked.
        `view_of` is the input when `data` may share its buffer (reshape, permute, basic indexing).
        """
        out = Tensor.__new__(Tensor)
        out.data = np.asarray(data)  # 0-d results of numpy ops are scalars, not arrays
        out.grad = None
        out._is_view = False
        out._version = _Version()
        if view_of is not None and np.shares_memory(data, view_of.data):
            out._version = view_of._version  # in-place on either side is visible to both
            out._is_view = True
        out.requires_grad = is_grad_enabled() and any(p.requires_grad for p in parents)
        out._node = None
        if out.requires_grad:
            versions = tuple(
                (t._version, t._version.value, f"input of shape {t.shape}") for t in save_from
            )
            out._node = Node(op, backward, parents, saved, meta, versions)
        return out

    # --- basic properties ------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def version(self) -> int:
        return self._version.value

    @property
    def grad_fn(self) -> str | None:
        return None if self._node is None else self._node.op

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        extra = f", grad_fn={self.grad_fn}" if self._node else ""
        extra += ", requires_grad=True" if self.requires_grad and not self._node else ""
        return f"Tensor({np.array2string(self.data, precision=4, separator=', ')}{extra})"

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> "Tensor":
        """Same buffer, no history (like torch: in-place on either is visible to the other)."""
        out = Tensor.__new__(Tensor)
        out.data, out.requires_grad, out.grad, out._node = self.data, False, None, None
        out._version, out._is_view = self._version, True
        return out

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors")
        self.requires_grad = bool(flag)
        return self

    # --- backward ------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) * grad into `.grad` of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph)")
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient only works for a scalar output, but this "
                    f"tensor has shape {self.shape}; pass `grad=` with that shape (or reduce it "
                    f"first, e.g. `.sum()`)"
                )
            grad = np.ones_like(self.data)
        grad = _as_array(grad, self.data.dtype)
        if grad.shape != self.shape:
            raise ValueError(
                f"backward grad has shape {grad.shape}, but the output has {self.shape}"
            )
        grads: dict[int, np.ndarray] = {id(self): grad}
        for tensor in reversed(_topological_order(self)):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            node = tensor._node
            if node is None:
                g = np.array(g, dtype=tensor.data.dtype)  # own the buffer (broadcast views are not)
                if tensor.grad is None:
                    tensor.grad = Tensor(g)
                else:
                    tensor.grad.data = tensor.grad.data + g
                continue
            node.check_versions()
            for parent, pg in zip(
                node.parents, node.backward(g, node.saved, node.meta), strict=True
            ):
                if pg is None or not parent.requires_grad:
                    continue
                pg = np.asarray(pg)
                if pg.shape != parent.shape:
                    raise RuntimeError(
                        f"backward of `{node.op}` produced a gradient of shape {pg.shape} for an "
                        f"input of shape {parent.shape}"
                    )
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    # --- in-place operations ------
    def add_(self, other) -> "Tensor":
        return _inplace.apply(self, lambda a, b: a + b, other)

    def sub_(self, other) -> "Tensor":
        return _inplace.apply(self, lambda a, b: a - b, other)

    def mul_(self, other) -> "Tensor":
        return _inplace.apply(self, lambda a, b: a * b, other)

    def div_(self, other) -> "Tensor":
        return _inplace.apply(self, lambda a, b: a / b, other)

    def zero_(self) -> "Tensor":
        # not `a * 0` (inf * 0 = nan); the gradient to the old value is zero, i.e. none at all
        return _inplace.apply(self, lambda a, b: Tensor(np.zeros_like(a.data)), None)

    # --- operators (implemented in ops.py) ------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def tanh(self):
        return _ops.tanh(self)

    def relu(self):
        return _ops.relu(self)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def sum(self, dim=None, keepdim: bool = False):
        return _ops.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False):
        return _ops.mean(self, dim, keepdim)

    def amax(self, dim=None, keepdim: bool = False):
        return _ops.amax(self, dim, keepdim)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def permute(self, *dims):
        return _ops.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int):
        return _ops.transpose(self, dim0, dim1)

    @property
    def T(self):
        return _ops.permute(self, *reversed(range(self.ndim)))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_


def _topological_order(root: Tensor) -> list[Tensor]:
    """All tensors `root` depends on through recorded nodes, parents before children."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, expanded = stack.pop()
        if expanded:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        if tensor._node is not None:
            for parent in tensor._node.parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


from arena_core.autograd import inplace as _inplace  # noqa: E402  (both build Tensors, so
from arena_core.autograd import ops as _ops  # noqa: E402  they are imported last)
