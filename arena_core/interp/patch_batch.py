"""Many patching cells in one forward pass (days 53–55): the engine under the patching sweeps.

A patching sweep asks one question per *cell* (a layer and position, a head, a sender head...):
"what is the metric when this one thing is patched?". TransformerLens' `patching` module runs one
forward pass per cell. Here K cells share one pass: the base input (`[batch pos]`) is repeated
K times along the batch axis, and the hooks of the pass write cell k's patch into copy k only
(rows `k*batch : (k+1)*batch`). Nothing mixes rows in a transformer (attention runs within a
row), so copy k computes exactly what a pass with cell k alone computes; the logits are cut back
into K slices and the metric is applied to each. A test checks batched == one cell per pass.

Second saving: a patch at layer l leaves layers < l untouched, so cells are grouped by the first
layer they touch, and a group starting at layer l runs only blocks l.. from the cached base
`resid_pre` of layer l (`model(resid, start_at_layer=l)`). On a sweep over all layers this skips
about half the blocks.

`run_cells` returns one metric per cell; `stop_after(name)` ends a pass early (after the hook
that caches what a later step needs), used by path patching.
"""

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from arena_core.errors import UserError
from arena_core.utils.progress import progress

Metric = Callable[[Tensor], Tensor]
Hooks = list[tuple[str, Callable]]


class PatchingError(UserError, ValueError):
    """A patching request that cannot run: shape mismatch, index out of range, missing hook."""


class _Stop(Exception):
    """Raised by a hook to end a forward pass once what is needed has been cached."""


def stop_after(fn: Callable) -> Callable:
    """Wrap a hook so that the forward pass stops right after it (caught by `forward_rows`)."""

    def hook(act: Tensor, hook=None):
        fn(act, hook)
        raise _Stop

    return hook


def repeat_rows(x: Tensor, k: int) -> Tensor:
    """`[batch ...]` -> `[k*batch ...]`: copy c is rows c*batch:(c+1)*batch."""
    return x.repeat(k, *([1] * (x.dim() - 1)))


def forward_rows(model, x: Tensor, hooks: Hooks, start_layer: int = 0, **kwargs) -> Tensor | None:
    """One forward pass with `hooks` from tokens (`start_layer=0`) or from a `resid_pre`
    (`start_layer > 0`); returns the logits, or None when a `stop_after` hook ended it."""
    if start_layer > 0:
        kwargs["start_at_layer"] = start_layer
    try:
        with torch.no_grad():
            return model.run_with_hooks(x, fwd_hooks=hooks, **kwargs)
    except _Stop:
        return None


def check_tokens(model, tokens: Tensor, other: Tensor | None = None) -> None:
    if tokens.dim() != 2 or tokens.shape[0] == 0 or tokens.shape[1] == 0:
        raise PatchingError(
            f"tokens must be a non-empty [batch pos] tensor, got {tuple(tokens.shape)}"
        )
    if other is not None and other.shape != tokens.shape:
        raise PatchingError(
            f"the two prompt sets must have the same shape (positions line up), got "
            f"{tuple(tokens.shape)} and {tuple(other.shape)}"
        )


def check_head(model, layer: int, head: int, n_heads: int | None = None) -> None:
    n_layers, n_heads = model.cfg.n_layers, n_heads or model.cfg.n_heads
    if not 0 <= layer < n_layers:
        raise PatchingError(f"layer {layer} out of range: the model has {n_layers} layers")
    if not 0 <= head < n_heads:
        raise PatchingError(f"head {head} out of range: there are {n_heads} heads per layer")


def chunk_cells(cells: Sequence, layer_of: Callable, cells_per_pass: int) -> list[list[int]]:
    """Indices of `cells` in passes of at most `cells_per_pass`, sorted by `layer_of(cell)`; a
    pass never mixes two start layers."""
    if cells_per_pass < 1:
        raise PatchingError(f"cells_per_pass must be >= 1, got {cells_per_pass}")
    chunks: list[list[int]] = []
    for i in sorted(range(len(cells)), key=lambda i: layer_of(cells[i])):
        last = chunks[-1] if chunks else None
        if last and len(last) < cells_per_pass and layer_of(cells[last[0]]) == layer_of(cells[i]):
            last.append(i)
        else:
            chunks.append([i])
    return chunks


def run_cells(
    model,
    tokens: Tensor,
    cells: Sequence,
    layer_of: Callable,
    hooks_for: Callable[[list, int], Hooks],
    metric: Metric,
    resid_pre: Callable[[int], Tensor] | None = None,
    cells_per_pass: int = 16,
    desc: str = "patching",
    show_progress: bool = True,
    **forward_kwargs,
) -> Tensor:
    """`[len(cells)]` float64: the metric of the base run with each cell's patch applied.

    `layer_of(cell)`: the first layer the cell touches (cells are grouped by it).
    `hooks_for(chunk, batch)`: the hooks of one pass in which copy c carries `chunk[c]`'s patch.
    `resid_pre(l)`: the base run's `blocks.{l}.hook_resid_pre` (None: always start from tokens)."""
    batch = tokens.shape[0]
    out = torch.full((len(cells),), float("nan"), dtype=torch.float64)
    chunks = chunk_cells(cells, layer_of, cells_per_pass)
    bar = progress(chunks, desc=desc, disable=not show_progress or None)
    for chunk in bar:
        k, layer = len(chunk), layer_of(cells[chunk[0]]) if resid_pre is not None else 0
        x = repeat_rows(tokens if layer == 0 else resid_pre(layer), k)
        logits = forward_rows(
            model, x, hooks_for([cells[i] for i in chunk], batch), layer, **forward_kwargs
        )
        for c, i in enumerate(chunk):
            out[i] = float(metric(logits[c * batch : (c + 1) * batch]))
    return out
