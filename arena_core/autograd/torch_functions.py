"""Custom backward passes in torch with `torch.autograd.Function` (day 22).

Three reasons to write your own backward:

* numerical stability - `Softplus` and `LogSumExp` compute log(1 + e^x) and log sum_i e^(x_i) in
  forms that never overflow, and their backward reuses quantities from the forward pass
  (sigmoid(x) and softmax(x));
* a gradient that is not the true derivative - `StraightThroughRound` rounds in the forward pass
  but passes the gradient through unchanged, as if it were the identity (the straight-through
  estimator of Bengio, Leonard & Courville 2013, used for quantisation and VQ-VAE codes);
* memory - `checkpoint` saves only the inputs of a block and recomputes the block's
  intermediate activations during backward (Chen et al. 2016, "Training Deep Nets with
  Sublinear Memory Cost"), trading one extra forward pass for activation memory.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor


class Softplus(torch.autograd.Function):
    """softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|);  d/dx = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(x)


class LogSumExp(torch.autograd.Function):
    """log sum_i e^(x_i) over the last dim, as m + log sum_i e^(x_i - m) with m = max_i x_i.

    d/dx_i = softmax(x)_i, computed from the saved output: e^(x_i - lse).
    """

    @staticmethod
    def forward(ctx, x):
        m = x.amax(dim=-1, keepdim=True)
        out = m + torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))
        ctx.save_for_backward(x, out)
        return out.squeeze(-1)

    @staticmethod
    def backward(ctx, grad_out):
        x, out = ctx.saved_tensors
        return grad_out.unsqueeze(-1) * torch.exp(x - out)


class StraightThroughRound(torch.autograd.Function):
    """round(x) forward; backward pretends the op was the identity (round' = 0 almost everywhere,
    which would stop all learning upstream)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out


class _Checkpoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, *inputs):
        ctx.fn = fn
        ctx.save_for_backward(*inputs)  # only the inputs; the block's activations are dropped
        with torch.no_grad():
            return fn(*inputs)

    @staticmethod
    def backward(ctx, grad_out):
        inputs = [x.detach().requires_grad_(x.requires_grad) for x in ctx.saved_tensors]
        with torch.enable_grad():
            out = ctx.fn(*inputs)  # recompute the forward pass, this time recording a graph
        wanted = [x for x in inputs if x.requires_grad]
        grads = iter(torch.autograd.grad(out, wanted, grad_out, allow_unused=True))
        return (None, *(next(grads) if x.requires_grad else None for x in inputs))


def softplus(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    return Softplus.apply(x)


def logsumexp(x: Float[Tensor, "*batch n"]) -> Float[Tensor, "*batch"]:
    return LogSumExp.apply(x)


def straight_through_round(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    return StraightThroughRound.apply(x)


def checkpoint(fn: Callable[..., Tensor], *inputs: Tensor) -> Tensor:
    """fn(*inputs) whose backward recomputes fn instead of storing its intermediates.

    Parameters that `fn` closes over must be passed as inputs to receive gradients.
    """
    return _Checkpoint.apply(fn, *inputs)


def checkpoint_sequential(
    layer: Callable[[Tensor, Tensor], Tensor], x: Tensor, weights: list[Tensor], segment: int
) -> Tensor:
    """x = layer(x, w) for each w, checkpointing every `segment` consecutive layers as one block:
    only each block's input is kept; activations inside a block are recomputed in backward."""

    def block(h: Tensor, *ws: Tensor) -> Tensor:
        for w in ws:
            h = layer(h, w)
        return h

    for i in range(0, len(weights), segment):
        x = checkpoint(block, x, *weights[i : i + segment])
    return x


def saved_tensor_bytes(fn: Callable[[], Tensor]) -> int:
    """Bytes of tensors that autograd saves for backward while running `fn()` (each counted once
    per save, the way the graph holds them)."""
    total = 0

    def pack(t: Tensor) -> Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def saved_activation_bytes(fn: Callable[[], Tensor]) -> int:
    """Bytes of the distinct non-parameter tensors autograd keeps for backward while running `fn()`.

    `saved_tensor_bytes` counts every save; a tanh output that the next matmul saves again is the
    same memory, and the weights are in memory whether or not backward keeps them. This counts
    each storage once and skips leaves that require grad (parameters), which leaves what
    checkpointing can remove: the activations.
    """
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        if not (t.is_leaf and t.requires_grad):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())
