"""In-place operations on `Tensor`s (`add_`, `sub_`, `mul_`, `div_`, `zero_`, `+=`): day 21.

The rules follow torch's:
* on a leaf that requires grad, only inside `no_grad()` (that is what an optimizer step is);
* on a tensor inside a recorded graph, the old value becomes a hidden (copied) parent and the
  tensor's history is rebased onto the new op, so later gradients are right;
* the tensor's version counter is bumped, so a backward function that saved the old buffer
  raises instead of using overwritten values;
* on a view (reshape/permute/slice/detach result) while recording, refused: torch rewrites the
  base's history in that case, which this engine does not implement.
"""

import numpy as np

from arena_core.autograd.grad_mode import is_grad_enabled
from arena_core.autograd.tensor import Tensor, _Version


def apply(self: Tensor, op_fn, other) -> Tensor:
    """Apply `self = op_fn(self, other)` in place, with the rules in the module docstring."""
    other_t = other if isinstance(other, Tensor) else None
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
        result = op_fn(Tensor(self.data), Tensor(other_data)).data
        if np.broadcast_shapes(result.shape, self.shape) != self.shape:
            raise RuntimeError(
                f"in-place result of shape {result.shape} cannot be stored in a tensor of "
                f"shape {self.shape}"
            )
        self.data[...] = result
        self._version.value += 1
        return self
    # the old value becomes a private (copied) tensor that carries self's history
    old = Tensor.__new__(Tensor)
    old.data, old.grad, old._node = self.data.copy(), None, self._node
    old.requires_grad, old._version, old._is_view = self.requires_grad, _Version(), False
    new = op_fn(old, other)
    if new.shape != self.shape:
        raise RuntimeError(
            f"in-place result of shape {new.shape} cannot be stored in a tensor of shape "
            f"{self.shape}"
        )
    self.data[...] = new.data
    self._version.value += 1
    self._node, self.requires_grad = new._node, new.requires_grad
    return self
