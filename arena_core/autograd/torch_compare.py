"""Run one function on our `Tensor` engine and on torch.autograd, report how far apart the
outputs and input gradients are (days 21, 23, 24). float64 by default, so differences are
rounding only (~1e-15 relative) unless a backward function is wrong."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from arena_core.autograd.tensor import Tensor


@dataclass(frozen=True)
class TorchComparison:
    output_error: float  # max |ours - torch| over the output
    grad_error: float  # max |ours - torch| over all input gradients


def compare_with_torch(
    fn: Callable, arrays: list[np.ndarray], torch_fn: Callable | None = None, seed: int = 0
) -> TorchComparison:
    """Forward + backward (with a random output gradient) through both engines."""
    torch_fn = torch_fn or fn
    ours = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, t_out = fn(*ours), torch_fn(*theirs)
    v = np.random.default_rng(seed).standard_normal(t_out.shape)
    out.backward(v)
    t_out.backward(torch.tensor(v))
    out_err = float(np.abs(out.data - t_out.detach().numpy()).max(initial=0.0))
    grad_err = 0.0
    for leaf, t_leaf in zip(ours, theirs, strict=True):
        g = leaf.grad.data if leaf.grad is not None else np.zeros(leaf.shape)
        tg = t_leaf.grad.numpy() if t_leaf.grad is not None else np.zeros(leaf.shape)
        grad_err = max(grad_err, float(np.abs(g - tg).max(initial=0.0)))
    return TorchComparison(out_err, grad_err)
