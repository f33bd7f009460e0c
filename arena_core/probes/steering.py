"""Activation addition: add a scaled direction to a hook point's output (days 39, 43, 44).

Turner et al. (2023, "Activation Addition: Steering Language Models Without Optimization") add
α·v to the residual stream at one layer, v = h(" Love") − h(" Hate") or a probe direction,
and the continuation changes topic or sentiment. Marks & Tegmark (2023) use the same intervention
as the causal test of a truth direction, and Todd et al. (2023) add a function vector this way.

    h'[b, p] = h[b, p] + α · v     for the chosen positions p (all by default)

`steering_hook` returns a hook `fn(x, hook)` in the TransformerLens convention, so it runs on our
models and on a TL `HookedTransformer` alike; `add_direction` is a context manager for our
models. Positions are columns of the tensor the hook sees: with a KV cache each generation step
sees one new column, so "all positions" also steers every generated token (as in Turner et al.'s
"all positions" variant), while a list of positions only touches the prompt's columns.

Checked against hooks written directly on a TransformerLens twin of the same random model.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from arena_core.errors import UserError

Positions = None | int | Sequence[int] | Tensor


class SteeringError(UserError, ValueError):
    """A direction or positions that do not fit the hook's activation."""


def steering_hook(
    direction: Float[Tensor, " d"],
    scale: float = 1.0,
    positions: Positions = None,
) -> Callable[[Tensor, Any], Tensor]:
    """A hook adding `scale · direction` at `positions` of a `[batch pos d]` activation.

    `positions`: None (every column), an int or list of column indices (negative from the end),
    or a bool mask `[batch pos]` (e.g. each prompt's own last real token under padding)."""
    if direction.dim() != 1:
        raise SteeringError(f"direction must be 1-D [d], got shape {tuple(direction.shape)}")

    def hook(x: Tensor, hook: Any) -> Tensor:
        if x.shape[-1] != direction.shape[0]:
            raise SteeringError(
                f"direction has {direction.shape[0]} entries; {getattr(hook, 'name', 'the hook')}"
                f" has width {x.shape[-1]}"
            )
        delta = (scale * direction).to(x.device, x.dtype)
        if positions is None:
            return x + delta
        return x + delta * position_mask(x, positions)[..., None].to(x.dtype)

    return hook


def position_mask(
    x: Float[Tensor, "batch pos d"], positions: Positions
) -> Bool[Tensor, "batch pos"]:
    """Bool `[batch pos]` mask of the columns in `positions` (see `steering_hook`)."""
    batch, pos = x.shape[:2]
    if isinstance(positions, Tensor) and positions.dtype == torch.bool:
        if tuple(positions.shape) != (batch, pos):
            raise SteeringError(f"position mask {tuple(positions.shape)} != {(batch, pos)}")
        return positions.to(x.device)
    cols = [positions] if isinstance(positions, int) else [int(p) for p in positions]
    if any(not -pos <= c < pos for c in cols):
        raise SteeringError(f"positions {cols} outside a sequence of {pos} columns")
    mask = torch.zeros((batch, pos), dtype=torch.bool, device=x.device)
    mask[:, cols] = True
    return mask


@contextmanager
def add_direction(
    model: torch.nn.Module,
    hook_name: str,
    direction: Float[Tensor, " d"],
    scale: float = 1.0,
    positions: Positions = None,
) -> Iterator[torch.nn.Module]:
    """Within the block, every forward of our model adds `scale · direction` at `hook_name`.

    The hook is removed on exit (also after an exception); other hooks already attached stay."""
    if hook_name not in model.hook_dict:
        raise SteeringError(f"no hook point named {hook_name!r}; see model.hook_dict")
    point = model.hook_dict[hook_name]
    fn = steering_hook(direction, scale, positions)
    point.add_hook(fn)
    try:
        yield model
    finally:
        point.hooks.remove(fn)
