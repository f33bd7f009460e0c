"""In-place operations on `Tensor`s (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `+=`): day 21.

The rules follow torch's:
* on a leaf that requires grad, only inside `no_grad()` (that is what an optimizer step is);
* on a tensor inside a recorded graph, the old value becomes a hidden (copied) input of the new
  op and the tensor's history is rebased onto it, so later uses get the right gradient. Ops that
  used the tensor *before* keep the history they recorded (their edges point at the old node);
* the tensor's version counter (shared with its views) is bumped, so a backward function that
  saved the old buffer raises instead of using overwritten values, and views of the tensor
  rebuild their history from the new one on their next use;
* on a view (reshape/permute/slice/detach result) while recording, refused: torch rewrites the
  base's history in that case, which this engine does not implement;
* with an operand that overlaps the tensor without being exactly it (`x += x.T`), refused: the
  result would depend on the order in which elements are written.
"""

import numpy as np

from arena_core.autograd.grad_mode import is_grad_enabled
from arena_core.autograd.tensor import Tensor, _sync_view


def _zero_backward(g, saved, meta):
    return (np.zeros_like(g),)  # the old value no longer matters (torch returns zeros, not None)


def zero(a: Tensor, _no_operand=None) -> Tensor:
    """The op behind `zero_` (called like the binary ops, hence the unused second argument)."""
    # not `a * 0` (inf * 0 = nan); recorded as an op so the result keeps requires_grad, like torch
    return Tensor.from_op(np.zeros_like(a.data), "zero_", _zero_backward, (a,))


def _reads_only_its_own_element(out: np.ndarray, other: np.ndarray) -> bool:
    """Whether `other`, broadcast to `out`'s shape, sits exactly on `out`'s elements."""
    try:
        other = np.broadcast_to(other, out.shape)
    except ValueError:
        return False
    same_start = out.__array_interface__["data"][0] == other.__array_interface__["data"][0]
    return same_start and all(
        n == 1 or s == t for n, s, t in zip(out.shape, out.strides, other.strides, strict=True)
    )


def apply(self: Tensor, op, other) -> Tensor:
    """Apply `self = op(self, other)` in place, with the rules in the module docstring."""
    other_t = other if isinstance(other, Tensor) else None
    if is_grad_enabled():
        for t in (self, other_t):  # a view's base may have gained a history since it was made,
            if t is not None and t._view_link is not None:  # and that decides `tracking`
                _sync_view(t)
    if (
        other_t is not None
        and np.may_share_memory(self.data, other_t.data)
        and not _reads_only_its_own_element(self.data, other_t.data)
    ):
        # e.g. `x += x.T` or `x += x[:, :1]`: torch refuses some of these and computes others
        # while overwriting its own input, so the result depends on its loop order; refuse all
        raise RuntimeError(
            "unsupported operation: some elements of the input tensor and the written-to tensor "
            "refer to a single memory location (the other operand is a view of this tensor); "
            "clone it first, e.g. `x.add_(x.T * 1.0)`"
        )
    tracking = is_grad_enabled() and (
        self.requires_grad or (other_t is not None and other_t.requires_grad)
    )
    if tracking and self.requires_grad and self.is_leaf:
        raise RuntimeError(
            "a leaf tensor that requires grad is being used in an in-place operation; do "
            "parameter updates inside `with no_grad():`"
        )
    if tracking and self._is_view:
        raise RuntimeError(
            "in-place operations on a view (reshape/permute/slice/detach result) are not "
            "supported while recording a graph; use the out-of-place op"
        )
    if not tracking:
        other_data = other_t.data if other_t is not None else other
        result = op(Tensor._wrap(self.data), other_data).data
        if np.broadcast_shapes(result.shape, self.shape) != self.shape:
            raise RuntimeError(
                f"in-place result of shape {result.shape} cannot be stored in a tensor of "
                f"shape {self.shape}"
            )
        self.data[...] = result
        self._version.value += 1
        return self
    # the old value becomes a private (copied) tensor that carries self's history, so that the
    # new op's backward reads the values from before the write (torch saves a clone likewise)
    old = Tensor._wrap(self.data.copy())
    old._node, old.requires_grad = self._node, self.requires_grad
    if other_t is self:
        # `y *= y`: the operand is the tensor being overwritten. An alias with the same buffer,
        # counter and history stands in for it, so that the new node does not reference `self`
        # (self -> node -> self would be a reference cycle); its version still gets checked
        other = Tensor._wrap(self.data)
        other._version, other._node = self._version, self._node
        other.requires_grad = self.requires_grad
    new = op(old, other)
    if new.shape != self.shape:
        raise RuntimeError(
            f"in-place result of shape {new.shape} cannot be stored in a tensor of shape "
            f"{self.shape}"
        )
    self.data[...] = new.data
    self._version.value += 1
    self._node, self.requires_grad = new._node, new.requires_grad
    return self
