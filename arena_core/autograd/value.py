"""A scalar reverse-mode autograd engine (`Value`), micrograd-style but without reference cycles.

Used by days 20 (the engine and its graph), 24 (gradient checking) and
`benchmarks/bench_micrograd.py`.

Every `Value` remembers the operation that produced it, its parents, and the *local derivatives*
d(out)/d(parent) evaluated during the forward pass. Backward is then one loop over the graph in
reverse topological order applying the chain rule

    parent.grad += local_derivative * node.grad.

micrograd (Karpathy, 2020) instead stores a `_backward` closure per node. The closure captures the
output node itself, so every node sits in a reference cycle (node -> closure -> node): nothing is
freed by reference counting and Python's cyclic garbage collector has to walk the whole (large,
growing) heap again and again. Storing plain numbers instead of closures keeps the graph a DAG of
strong references from children to parents only, so a graph is freed the moment its loss goes
out of scope. The topological sort is iterative, so deep graphs (long chains of `+`) do not hit
Python's recursion limit.
"""

import math
import operator
from collections.abc import Iterable, Sequence


class Value:
    """A scalar that records how it was computed, so that `backward()` can fill in `.grad`."""

    __slots__ = ("data", "grad", "_parents", "_local_grads", "_op")

    def __init__(self, data, _parents: tuple = (), _local_grads: tuple = (), _op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._parents = _parents  # the Values this one was computed from
        self._local_grads = _local_grads  # d(self)/d(parent) for each parent, as plain floats
        self._op = _op  # the operation's name, for plots and debugging

    # --- arithmetic --------------------------------------------------------------------------
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"Value ** only supports int/float exponents, got {type(exponent)}")
        # d/dx x^k = k x^(k-1)
        out = self.data**exponent
        return Value(out, (self,), (exponent * self.data ** (exponent - 1),), f"**{exponent:g}")

    def __neg__(self):
        return Value(-self.data, (self,), (-1.0,), "neg")

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), (1.0, -1.0), "-")

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
        inv = 1.0 / other.data
        return Value(self.data * inv, (self, other), (inv, -self.data * inv * inv), "/")

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
        return Value(out, (self,), (out,), "exp")  # d/dx e^x = e^x

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log of a non-positive Value ({self.data})")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")  # d/dx tanh = 1 - tanh^2

    def relu(self):
        # derivative at exactly 0 is taken as 0, as torch does
        positive = self.data > 0
        return Value(self.data if positive else 0.0, (self,), (1.0 if positive else 0.0,), "relu")

    # --- n-ary helpers: one node instead of a chain of binary ones -------------------------------
    @staticmethod
    def sum(values: Iterable) -> "Value":
        values = [v if isinstance(v, Value) else Value(v) for v in values]
        total = math.fsum(v.data for v in values)
        return Value(total, tuple(values), (1.0,) * len(values), "sum")

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
        return Value(total, parents, local, "dot")

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
            for parent, local in zip(node._parents, node._local_grads, strict=False):
                parent.grad += local * g

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


def topological_order(root: Value) -> list[Value]:
    """Every Value `root` depends on, parents before children (iterative depth-first search)."""
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        for parent in node._parents:
            if parent not in visited:
                stack.append((parent, False))
    return order


def _interior_order(root: Value) -> list[Value]:
    """Like `topological_order`, but without the leaves: they only receive gradient, so backward
    never needs to visit them (most edges of an MLP's graph end at a weight or an input)."""
    if not root._parents:
        return []
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)  # marked when expanded, not when pushed: parents must finish first
        stack.append((node, True))
        for parent in node._parents:
            if parent._parents and parent not in visited:
                stack.append((parent, False))
    return order
