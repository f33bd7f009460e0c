"""Reverse-mode automatic differentiation from scratch (ARENA 0.4, days 20-24).

- `Value` (value.py): a scalar engine without reference cycles; `value_nn.py`: scalar MLPs.
- `Tensor` (tensor.py + ops.py + inplace.py): a numpy-backed engine with broadcasting, in-place
  semantics and version counters; `no_grad` (grad_mode.py); `nn.py`: Parameter, Module, Linear,
  MLP, cross_entropy; `optim.py`: SGD; `training.py`: the day-23 training loop and torch twin.
- `gradcheck.py`: finite-difference checks for both engines; `torch_functions.py`: custom
  `torch.autograd.Function`s (day 22).
"""

from arena_core.autograd.grad_mode import is_grad_enabled, no_grad
from arena_core.autograd.ops import unbroadcast
from arena_core.autograd.tensor import Tensor
from arena_core.autograd.value import Value

__all__ = ["Tensor", "Value", "is_grad_enabled", "no_grad", "unbroadcast"]
