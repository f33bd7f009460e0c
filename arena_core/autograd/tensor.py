"""A numpy-backed `Tensor` with reverse-mode autograd: the graph, `backward`, in-place semantics.

Used by days 21-24. The operations themselves (forward + backward functions) live in
`arena_core/autograd/ops.py`; this file holds what every operation shares:

* `Node` - the recipe that produced a tensor: the op name, a module-level backward function, one
  *edge* per input, arrays saved for backward, and the *versions* of the tensors those arrays
  belong to. A node never references its own output, so graphs contain no reference cycles and
  are freed as soon as the output is (one exception: `y += v` with `v` a view of `y` itself
  links y's new node to v and v to y; Python's garbage collector frees that cycle).
* Edges - an op records, for each input that requires grad, the pair (input tensor, the node
  that produced it *at that moment*). An in-place op later gives the tensor a new node, but every
  consumer recorded before keeps backpropagating through the history it saw, as in torch:
  `y = x * 2; s = y.sum(); y.mul_(3); s.backward()` gives dx = 2, not 6.
* `Tensor.backward` - an iterative topological sort of the nodes, then the chain rule from the
  output back to the leaves, accumulating into `.grad` of leaves that require grad (like torch).
  The graph is kept afterwards (as with torch's `retain_graph=True`) and freed with the output.
* Version counters - every in-place operation bumps the tensor's counter, which is shared with
  the views of its buffer (reshape/permute/basic indexing/detach results). An op that saves a
  tensor for backward records that tensor's version; if it has changed by the time backward
  needs it, backward raises the same error torch does instead of using overwritten values. Which
  tensors each op saves follows torch op by op (see ops.py), so the same programs raise.
* Views - a view remembers its base and the view op. When the base is modified in place, the
  view's history is rebuilt from the base's new history the next time the view is used
  (`_sync_view`), as torch regenerates a view's grad_fn, so `v = b[0]; b.mul_(w); v.backward()`
  reaches `w`.
* In-place ops (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `+=` ...) are implemented in
  `arena_core/autograd/inplace.py`: the tensor's history is rebased onto the new op, as in torch.
"""

import numpy as np

from arena_core.autograd.grad_mode import is_grad_enabled


class _Version:
    """A mutable counter shared by a tensor and the views of its buffer."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Node:
    """How a non-leaf tensor was computed; see the module docstring."""

    __slots__ = ("op", "backward", "edges", "saved", "meta", "versions")

    def __init__(self, op, backward, edges, saved, meta, versions):
        self.op = op
        self.backward = backward  # backward(grad_out, saved, meta) -> one grad (or None) per input
        self.edges = edges  # per input: (tensor, its node when this op ran), or None (no grad)
        self.saved = saved
        self.meta = meta
        self.versions = versions  # ((counter, value when saved, input shape or None: output), ...)

    def check_versions(self) -> None:
        for counter, expected, shape in self.versions:
            if counter.value != expected:
                what = "the output" if shape is None else f"an input of shape {shape}"
                # the first sentence is torch's, so code (and tests) written for torch match ours
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: {what} saved by `{self.op}` is at version "
                    f"{counter.value}; expected version {expected}. Use the out-of-place op "
                    f"(e.g. `y = y * 2` rather than `y *= 2`) or clone the tensor before "
                    f"modifying it."
                )


def _sync_view(view: "Tensor") -> None:
    """Rebuild a view's history if its buffer was modified in place since it was recorded.

    An in-place op on the base gives the base a new node; the view's node still points at the
    base's old history. Like torch (which regenerates a view's grad_fn), the view is re-derived
    from the base's current history before its next use. View ops save no arrays, so the new
    node needs only the op, its backward and its meta (kept in `_view_link`).
    """
    link = view._view_link
    if link is None or view._synced_version == view._version.value:
        return
    base, op, backward, meta = link
    _sync_view(base)  # a view of a view: bring its base up to date first
    view._synced_version = view._version.value
    view.requires_grad = base.requires_grad
    view._node = None
    if base.requires_grad:
        view._node = Node(op, backward, ((base, base._node),), (), meta, ())


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
        self._view_link = None  # (base, op, backward, meta) for views made while recording
        self._synced_version = 0  # the version at which a view's node was last (re)built
        if isinstance(data, Tensor) and np.may_share_memory(self.data, data.data):
            # `Tensor(t)` reuses t's buffer, so an in-place op on either must bump one counter
            self._version = data._version

    @staticmethod
    def _wrap(data: np.ndarray) -> "Tensor":
        """A tensor around `data` without copying or checks: no grad, no history, own counter."""
        out = Tensor.__new__(Tensor)
        out.data, out.requires_grad, out.grad, out._node = data, False, None, None
        out._version, out._is_view, out._view_link, out._synced_version = _Version(), False, None, 0
        return out

    # --- construction of op results (used by ops.py and custom ops) ------
    @staticmethod
    def from_op(data, op, backward, parents, saved=(), meta=None, save_from=(), view_of=None,
                save_output=False):  # fmt: skip
        """Wrap an op's output array; attach a Node when grad is on and a parent requires grad.

        `save_from` lists the input tensors whose data the backward reads, and `save_output` says
        that it reads the output: their versions are recorded now and checked at backward.
        `view_of` is the input when `data` may share its buffer (reshape, permute, basic indexing);
        such ops must save nothing, since a view's node may be rebuilt (`_sync_view`).
        """
        out = Tensor._wrap(np.asarray(data))  # 0-d results of numpy ops are scalars, not arrays
        recording = is_grad_enabled()
        needs_grad = False
        if recording:
            for p in parents:
                if p._view_link is not None:
                    _sync_view(p)
                needs_grad = needs_grad or p.requires_grad
        # a view shares its input's buffer (a fresh copy never overlaps it), hence its counter
        if view_of is not None and np.may_share_memory(out.data, view_of.data):
            out._version = view_of._version  # in-place on either side is visible to both
            out._is_view = True
            if recording:
                out._view_link = (view_of, op, backward, meta)
                out._synced_version = out._version.value
        if needs_grad:
            out.requires_grad = True
            versions = tuple((t._version, t._version.value, t.shape) for t in save_from)
            if save_output:
                versions += ((out._version, out._version.value, None),)
            edges = tuple((p, p._node) if p.requires_grad else None for p in parents)
            out._node = Node(op, backward, edges, saved, meta, versions)
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
        if self._view_link is not None:
            _sync_view(self)
        return self._node is None

    @property
    def version(self) -> int:
        return self._version.value

    @property
    def grad_fn(self) -> str | None:
        if self._view_link is not None:
            _sync_view(self)
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
        out = Tensor._wrap(self.data)
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
        if self._view_link is not None:
            _sync_view(self)
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
        root = (self, self._node)
        grads: dict[int, np.ndarray] = {_key(root): grad}
        for tensor, node in reversed(_graph_order(root)):
            g = grads.pop(id(tensor) if node is None else id(node), None)
            if g is None:
                continue
            if node is None:  # a leaf that requires grad
                g = np.array(g, dtype=tensor.data.dtype)  # own the buffer (broadcast views are not)
                if tensor.grad is None:
                    tensor.grad = Tensor(g)
                else:
                    tensor.grad.data = tensor.grad.data + g
                continue
            node.check_versions()
            for edge, pg in zip(node.edges, node.backward(g, node.saved, node.meta), strict=True):
                if pg is None or edge is None:
                    continue
                pg = np.asarray(pg)
                if pg.shape != edge[0].shape:
                    raise RuntimeError(
                        f"backward of `{node.op}` produced a gradient of shape {pg.shape} for an "
                        f"input of shape {edge[0].shape}"
                    )
                key = _key(edge)
                grads[key] = pg if key not in grads else grads[key] + pg

    # --- in-place operations ------
    def add_(self, other) -> "Tensor":
        return _inplace.apply(self, _ops.add, other)

    def sub_(self, other) -> "Tensor":
        return _inplace.apply(self, _ops.sub, other)

    def mul_(self, other) -> "Tensor":
        return _inplace.apply(self, _ops.mul, other)

    def div_(self, other) -> "Tensor":
        return _inplace.apply(self, _ops.div, other)

    def zero_(self) -> "Tensor":
        return _inplace.apply(self, _inplace.zero, None)

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


def _key(edge) -> int:
    """Gradients are summed per node (a non-leaf's history), or per tensor for a leaf."""
    tensor, node = edge
    return id(tensor) if node is None else id(node)


def _graph_order(root: tuple) -> list[tuple]:
    """Every edge `root` depends on, each node once, inputs before the ops that consume them."""
    order: list[tuple] = []
    visited: set[int] = set()
    stack: list[tuple[tuple, bool]] = [(root, False)]
    while stack:
        edge, expanded = stack.pop()
        if expanded:
            order.append(edge)
            continue
        key = _key(edge)
        if key in visited:
            continue
        visited.add(key)
        stack.append((edge, True))
        node = edge[1]
        if node is not None:
            for parent in node.edges:
                if parent is not None and _key(parent) not in visited:
                    stack.append((parent, False))
    return order


def _topological_order(root: Tensor) -> list[Tensor]:
    """The tensors whose history `root.backward()` walks, inputs before the ops that use them."""
    if root._view_link is not None:
        _sync_view(root)
    return [tensor for tensor, _ in _graph_order((root, root._node))]


from arena_core.autograd import inplace as _inplace  # noqa: E402  (both build Tensors, so
from arena_core.autograd import ops as _ops  # noqa: E402  they are imported last)
