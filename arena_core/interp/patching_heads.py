"""Activation patching per head and position, several cells per forward pass (days 53–55).

Extends `patching` (one layer's residual / attention / MLP output at one position, one head's z at
every position) with the finer sweeps of `transformer_lens.patching`:

- `patch_head_out_by_pos`: one head's output `z` at one position -> `[layers pos heads]`
  (TL's `get_act_patch_attn_head_out_by_pos`);
- `patch_head_all_pos(kind)`: one head's `z`, `q`, `k`, `v` or attention `pattern` at every
  position -> `[layers heads]` (TL's `get_act_patch_attn_head_{out,q,k,v,pattern}_all_pos`);
- `patch_block_every`: resid_pre, attn_out and mlp_out at each (layer, position) ->
  `[3 layers pos]` (TL's `get_act_patch_block_every`).

Each cell copies one clean activation into the corrupted run and scores the metric
(0 = corrupted, 1 = clean with the normalised logit difference of `patching`). Cells run
`cells_per_pass` at a time in one forward pass, from the corrupted `resid_pre` of the cell's layer
(`patch_batch`); the results equal one cell per pass (tested).

Grouped-query attention: keys and values exist per KV head (SmolLM2: 3, each read by 3 query
heads). `kind="k"`/`"v"` with `per="kv_head"` (the default) patches KV head g's `hook_k`/`hook_v`,
so every query head of group g sees the clean key/value: the grid is `[layers n_kv_heads]`.
This is what TransformerLens does on its GQA model (its `hook_k` is per KV head; its grid has
n_key_value_heads columns). `per="query_head"` gives `[layers n_heads]`: only query head h gets the
clean key/value of its group (its z is recomputed from its own query and the clean k/v, after
RoPE), which equals TL's sweep with `ungroup_grouped_query_attention=True`. Without GQA the two
agree. Prompts must have equal length (no padding), as in every patching function here.
"""

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.interp.patch_batch import (
    Metric,
    PatchingError,
    attend,
    check_tokens,
    qkv_names,
    run_cells,
)

HEAD_KINDS = {"z": "hook_z", "q": "hook_q", "k": "hook_k", "v": "hook_v", "pattern": "hook_pattern"}
BLOCK_HOOKS = ("hook_resid_pre", "hook_attn_out", "hook_mlp_out")


def _layers(model, layers: Sequence[int] | None) -> list[int]:
    n = model.cfg.n_layers
    layers = list(range(n)) if layers is None else list(layers)
    bad = [layer for layer in layers if not 0 <= layer < n]
    if bad or not layers:
        raise PatchingError(f"layers {bad or layers} out of range: the model has {n} layers")
    return layers


def _clean(clean_cache, name: str, tokens: Tensor) -> Tensor:
    try:
        act = clean_cache[name]
    except KeyError:
        raise PatchingError(f"the clean cache has no {name!r}: cache it (run_with_cache)") from None
    axis = 2 if name.endswith(("hook_pattern", "hook_attn_scores")) else 1
    if act.shape[0] != tokens.shape[0] or act.shape[axis] != tokens.shape[1]:
        raise PatchingError(
            f"clean {name} has shape {tuple(act.shape)}, which does not match the corrupted "
            f"tokens {tuple(tokens.shape)} (same prompts count and length needed)"
        )
    return act


def _setter(cells: list, batch: int, clean: dict, index) -> Callable:
    """Hook writing, for copy c, the clean values selected by `index(cell)` (a tuple of slices
    over the non-batch axes) from `clean[cell]` into rows c*batch:(c+1)*batch."""

    def hook(act: Tensor, hook=None) -> Tensor:
        act = act.clone()
        for c, cell in enumerate(cells):
            if cell is None:  # copy c patches another hook point
                continue
            idx = index(cell)
            act[(slice(c * batch, (c + 1) * batch), *idx)] = clean[cell][(slice(None), *idx)]
        return act

    return hook


def _sweep(model, tokens, clean_cache, metric, cells, name_of, index, cells_per_pass, desc,
           show_progress, forward_kwargs) -> Tensor:  # fmt: skip
    """Metric per cell; `cells` are tuples starting with the layer, `name_of(cell)` its hook."""
    check_tokens(model, tokens)
    clean = {cell: _clean(clean_cache, name_of(cell), tokens) for cell in cells}
    with torch.no_grad():
        _, base = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_resid_pre"))

    def hooks_for(chunk: list, batch: int):
        by_name: dict[str, list] = {}
        for cell in chunk:
            by_name.setdefault(name_of(cell), []).append(cell)
        out = []
        for name, group in by_name.items():
            copies = [cell if cell in group else None for cell in chunk]
            out.append((name, _setter(copies, batch, clean, index)))
        return out

    return run_cells(
        model, tokens, cells, lambda cell: cell[0], hooks_for, metric,
        resid_pre=lambda layer: base[f"blocks.{layer}.hook_resid_pre"],
        cells_per_pass=cells_per_pass, desc=desc, show_progress=show_progress, **forward_kwargs,
    )  # fmt: skip


def _grid(values: Tensor, cells: list, shape: tuple[int, ...], key) -> Tensor:
    grid = torch.full(shape, float("nan"), dtype=torch.float64)
    for v, cell in zip(values, cells, strict=True):
        grid[key(cell)] = v
    return grid


def patch_head_out_by_pos(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    layers: Sequence[int] | None = None,
    cells_per_pass: int = 16,
    show_progress: bool = True,
    **forward_kwargs,
) -> Float[Tensor, "layers pos heads"]:
    """Patch one head's `hook_z` at one position, for every (layer, pos, head); float64 grid
    (NaN for layers not in `layers`)."""
    layers = _layers(model, layers)
    n_pos, n_heads = corrupted_tokens.shape[-1], model.cfg.n_heads
    cells = [(la, p, h) for la in layers for p in range(n_pos) for h in range(n_heads)]
    values = _sweep(
        model, corrupted_tokens, clean_cache, metric, cells,
        lambda cell: f"blocks.{cell[0]}.attn.hook_z", lambda cell: (cell[1], cell[2]),
        cells_per_pass, "patching heads by position", show_progress, forward_kwargs,
    )  # fmt: skip
    return _grid(values, cells, (model.cfg.n_layers, n_pos, n_heads), lambda cell: cell)


def patch_head_all_pos(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    kind: str = "z",
    per: str = "kv_head",
    layers: Sequence[int] | None = None,
    cells_per_pass: int = 16,
    show_progress: bool = True,
    **forward_kwargs,
) -> Float[Tensor, "layers heads"]:
    """Patch one head's `kind` ("z", "q", "k", "v", "pattern") at every position, for each
    (layer, head). For k and v, `per="kv_head"` -> `[layers n_kv_heads]`, `per="query_head"` ->
    `[layers n_heads]` (see the module docstring)."""
    if kind not in HEAD_KINDS:
        raise PatchingError(f"kind must be one of {sorted(HEAD_KINDS)}, got {kind!r}")
    if per not in ("kv_head", "query_head"):
        raise PatchingError(f'per must be "kv_head" or "query_head", got {per!r}')
    layers = _layers(model, layers)
    cfg = model.cfg
    grouped = kind in ("k", "v") and per == "kv_head"
    n_heads = cfg.kv_heads if grouped else cfg.n_heads
    cells = [(la, h) for la in layers for h in range(n_heads)]
    shape = (cfg.n_layers, n_heads)
    if kind in ("k", "v") and per == "query_head" and cfg.kv_heads != cfg.n_heads:
        values = _query_head_kv(model, corrupted_tokens, clean_cache, metric, kind, cells,
                                cells_per_pass, show_progress, forward_kwargs)  # fmt: skip
        return _grid(values, cells, shape, lambda cell: cell)
    hook = HEAD_KINDS[kind]
    if kind == "pattern":
        index = lambda cell: (cell[1],)  # noqa: E731  [batch head q k]
    else:
        index = lambda cell: (slice(None), cell[1])  # noqa: E731  [batch pos head d_head]
    values = _sweep(
        model, corrupted_tokens, clean_cache, metric, cells,
        lambda cell: f"blocks.{cell[0]}.attn.{hook}", index,
        cells_per_pass, f"patching heads' {kind}", show_progress, forward_kwargs,
    )  # fmt: skip
    return _grid(values, cells, shape, lambda cell: cell)


def _query_head_kv(model, tokens, clean_cache, metric, kind, cells, cells_per_pass,
                   show_progress, forward_kwargs) -> Tensor:  # fmt: skip
    """GQA, one query head at a time: recompute z_h from its live query and the clean k or v of
    its group (the other input live), written into `hook_z[:, :, h]` of copy c only."""
    check_tokens(model, tokens)
    cfg = model.cfg
    group = cfg.n_heads // cfg.kv_heads
    layers = sorted({cell[0] for cell in cells})
    names = {layer: qkv_names(model, layer) for layer in layers}
    clean = {layer: _clean(clean_cache, names[layer][kind], tokens) for layer in layers}
    with torch.no_grad():
        _, base = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_resid_pre"))

    def hooks_for(chunk: list, batch: int):
        layer, live = chunk[0][0], {}

        def save(key):
            return lambda act, hook=None: live.__setitem__(key, act)

        def put_z(z: Tensor, hook=None) -> Tensor:
            z = z.clone()
            scale = model.blocks[layer].attn.attn_scale
            for c, (_, h) in enumerate(chunk):
                rows, g = slice(c * batch, (c + 1) * batch), h // group
                src = {i: live[i][rows, :, g] for i in ("k", "v")}
                src[kind] = clean[layer][:, :, g]
                z[rows, :, h] = attend(live["q"][rows, :, h], src["k"], src["v"], scale)
            return z

        hooks = [(names[layer][i], save(i)) for i in ("q", "k", "v")]
        return hooks + [(f"blocks.{layer}.attn.hook_z", put_z)]

    return run_cells(
        model, tokens, cells, lambda cell: cell[0], hooks_for, metric,
        resid_pre=lambda layer: base[f"blocks.{layer}.hook_resid_pre"],
        cells_per_pass=cells_per_pass, desc=f"patching query heads' {kind}",
        show_progress=show_progress, **forward_kwargs,
    )  # fmt: skip


def patch_block_every(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    layers: Sequence[int] | None = None,
    cells_per_pass: int = 16,
    show_progress: bool = True,
    **forward_kwargs,
) -> Float[Tensor, "3 layers pos"]:
    """`[3 layers pos]`: patch resid_pre, attn_out, mlp_out (in that order) at one (layer, pos)."""
    if getattr(model.cfg, "attn_only", False):
        raise PatchingError("an attention-only model has no hook_mlp_out: use patch_by_layer_pos")
    layers = _layers(model, layers)
    n_pos = corrupted_tokens.shape[-1]
    cells = [(la, p, i) for la in layers for p in range(n_pos) for i in range(3)]
    values = _sweep(
        model, corrupted_tokens, clean_cache, metric, cells,
        lambda cell: f"blocks.{cell[0]}.{BLOCK_HOOKS[cell[2]]}", lambda cell: (cell[1],),
        cells_per_pass, "patching every block", show_progress, forward_kwargs,
    )  # fmt: skip
    shape = (3, model.cfg.n_layers, n_pos)
    return _grid(values, cells, shape, lambda cell: (cell[2], cell[0], cell[1]))
