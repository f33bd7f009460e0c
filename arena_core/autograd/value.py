"""A scalar reverse-mode autograd engine (`Value`), micrograd-style but without reference cycles.

Used by days 20 (the engine and its graph), 24 (gradient checking) and
`benchmarks/bench_micrograd.py`.

Every `Value` remembers the operation that produced it, its parents, and the *local derivatives*
d(out)/d(parent) evaluated during the forward pass. Backward is then one loop over the graph in
reverse topological order applying the chain rule

    parent.grad += local_derivative * node.grad.

Three design choices, each measured on micrograd's demo (`benchmarks/bench_micrograd.py`, which
runs micrograd's own network code on both engines, so the graphs are identical):

1. Numbers, not closures. micrograd (Karpathy, 2020) stores a `_backward` closure per node; the
   closure captures the output node itself, so every node sits in a reference cycle
   (node -> closure -> node) and only Python's cyclic garbage collector can free a graph. Storing
   the local derivatives as plain floats keeps the graph a DAG of references from children to
   parents, so a graph is freed by reference counting the moment its loss goes out of scope.
2. One Python object per node. A graph that is *alive* still costs: CPython's cyclic collector
   periodically walks every container object that survived its young generations, and a
   training step's graph (65,818 nodes in the demo, built in one go) is exactly that. Every
   primitive op has one or two inputs, so a node keeps its parents and their local derivatives in
   its own slots (`_a`, `_da`, `_b`, `_db`) instead of in a tuple of parents and a tuple of
   floats: one GC-tracked object per node instead of two or three, and no tuple allocations.
   On the demo this cut the engine's CPU time 2.8x (full collections: 17 -> 7 per 10 steps).
   Only the n-ary nodes of `Value.sum` / `Value.dot` (class `_NaryValue`) keep tuples.
3. An iterative topological sort, so deep graphs (long chains of `+`) do not hit Python's
   recursion limit. (A tape instead, i.e. stamping every node with its creation number and
   sorting the graph by stamp, measured no faster here, so the depth-first search stays.)
"""

import math
import operator
from collections.abc import Iterable, Sequence


class Value:
    """A scalar that records how it was computed, so that `backward()` can fill in `.grad`."""

    __slots__ = ("data", "grad", "_op", "_a", "_da", "_b", "_db")

    def __init__(self, data, _a=None, _da=0.0, _b=None, _db=0.0, _op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._op = _op  # the operation's name ("" for a leaf), for plots and debugging
        self._a = _a  # first parent (None for a leaf) and d(self)/d(_a), a plain float
        self._da = _da
        self._b = _b  # second parent (None for a leaf or a unary op) and d(self)/d(_b)
        self._db = _db

    @property
    def _parents(self) -> tuple:
        """The Values this one was computed from (for graph walks and plots, not the hot path)."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    # --- arithmetic --------------------------------------------------------------------------
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, self, 1.0, other, 1.0, "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, self, other.data, other, self.data, "*")

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"Value ** only supports int/float exponents, got {type(exponent)}")
        # d/dx x^k = k x^(k-1)
        out = self.data**exponent
        return Value(out, self, exponent * self.data ** (exponent - 1), _op=f"**{exponent:g}")

    def __neg__(self):
        return Value(-self.data, self, -1.0, _op="neg")

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, self, 1.0, other, -1.0, "-")

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
        inv = 1.0 / other.data
        return Value(self.data * inv, self, inv, other, -self.data * inv * inv, "/")

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value(other) - self

    def __rtruediv__(self, other):
        return Value(other) / self

    # --- elementary functions ------------------------------------------------------------------
    def exp(self):
        out = math.exp(self.data)
        return Value(out, self, out, _op="exp")  # d/dx e^x = e^x

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log of a non-positive Value ({self.data})")
        return Value(math.log(self.data), self, 1.0 / self.data, _op="log")

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, self, 1.0 - t * t, _op="tanh")  # d/dx tanh = 1 - tanh^2

    def relu(self):
        # derivative at exactly 0 is taken as 0, as torch does
        positive = self.data > 0
        return Value(self.data if positive else 0.0, self, 1.0 if positive else 0.0, _op="relu")

    # --- n-ary helpers: one node instead of a chain of binary ones -------------------------------
    @staticmethod
    def sum(values: Iterable) -> "Value":
        values = [v if isinstance(v, Value) else Value(v) for v in values]
        total = math.fsum(v.data for v in values)
        return _NaryValue(total, tuple(values), (1.0,) * len(values), "sum")

    @staticmethod
    def dot(weights: Sequence, inputs: Sequence, bias=None) -> "Value":
        """sum_i w_i x_i (+ b) as a single node: d/dw_i = x_i, d/dx_i = w_i, d/db = 1."""
        if len(weights) != len(inputs):
            raise ValueError(f"dot of lengths {len(weights)} and {len(inputs)}")
        try:  # fast path: everything is already a Value
            wd = [v.data for v in weights]
            xd = [v.data for v in inputs]
        except AttributeError:  # plain numbers among them become constant Values
            weights = [v if isinstance(v, Value) else Value(v) for v in weights]
            inputs = [v if isinstance(v, Value) else Value(v) for v in inputs]
            wd = [v.data for v in weights]
            xd = [v.data for v in inputs]
        total = sum(map(operator.mul, wd, xd))
        parents, local = (*weights, *inputs), (*xd, *wd)
        if bias is not None:
            bias = bias if isinstance(bias, Value) else Value(bias)
            total += bias.data
            parents, local = (*parents, bias), (*local, 1.0)
        return _NaryValue(total, parents, local, "dot")

    # --- backward ---------------------------------------------------------------------------------
    def backward(self) -> None:
        """Fill `.grad` of every Value this one depends on with d(self)/d(value).

        Leaves accumulate (call `zero_grad` between steps, as in torch); intermediate nodes are
        reset first, so calling backward twice on the same graph does not double-count inside it.
        """
        order = _interior_order(self)
        for node in order:
            node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            a = node._a
            if a is None:  # an n-ary node: its parents are in tuples
                for parent, local in zip(node._parents_tuple, node._local_grads, strict=True):
                    parent.grad += local * g
                continue
            a.grad += node._da * g
            b = node._b
            if b is not None:
                b.grad += node._db * g

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


class _NaryValue(Value):
    """A node with any number of parents (`Value.sum`, `Value.dot`), kept in two tuples.

    `_a` stays None; backward recognises such a node by its non-empty `_op` and `_a is None`.
    """

    __slots__ = ("_parents_tuple", "_local_grads")

    def __init__(self, data: float, parents: tuple, local_grads: tuple, op: str):
        # every slot set here, without a call to Value.__init__: a dot node per neuron is hot
        self.data = float(data)
        self.grad = 0.0
        self._op = op
        self._a = self._b = None
        self._da = self._db = 0.0
        self._parents_tuple = parents
        self._local_grads = local_grads  # d(self)/d(parent) for each parent, as plain floats

    @property
    def _parents(self) -> tuple:
        return self._parents_tuple


def topological_order(root: Value) -> list[Value]:
    """Every Value `root` depends on, parents before children (iterative depth-first search)."""
    return _depth_first_order(root, leaves=True)


def _interior_order(root: Value) -> list[Value]:
    """Like `topological_order`, but without the leaves: they only receive gradient, so backward
    never needs to visit them (most edges of an MLP's graph end at a weight or an input)."""
    if not root._op:
        return []
    return _depth_first_order(root, leaves=False)


def _depth_first_order(root: Value, leaves: bool) -> list[Value]:
    """Iterative depth-first search that appends a node after all of its parents.

    A node is pushed, and when it is first popped it is marked visited and pushed back with a
    `None` marker above it, then its unvisited parents above that. When the marker comes off the
    stack, everything pushed after it (the node's parents and their ancestors) has been emitted,
    so the node below the marker is emitted next. (Marking a node visited when it is *pushed*
    instead would be wrong: it could then be emitted before a parent that was pushed earlier.)
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Value | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:
            order.append(stack.pop())
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append(node)
        stack.append(None)
        a = node._a
        if a is None:  # a leaf (no parents) or an n-ary node (parents in a tuple)
            for parent in node._parents_tuple if node._op else ():
                if (leaves or parent._op) and parent not in visited:
                    stack.append(parent)
            continue
        if (leaves or a._op) and a not in visited:
            stack.append(a)
        b = node._b
        if b is not None and (leaves or b._op) and b not in visited:
            stack.append(b)
    return order
