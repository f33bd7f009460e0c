"""Patching over a whole IOI dataset: exact and attribution maps by position class (days 54–55).

IOI prompts come in (template, order) batches whose columns line up (`ioi.template_batches`), so
"patch the residual at S2" means a different column in each batch. This module runs one
patching experiment per batch and combines the results, prompt-weighted, into one map:

- *exact* patching copies clean activations into the abc (corrupted) run, one cell (a head, or a
  layer and position class) per copy of the batch, many copies per forward pass, each pass
  starting at the cell's layer from the cached corrupted residual
  (`arena_core.interp.patch_batch.run_cells`);
- *attribution* patching estimates all cells from one forward + backward per batch
  (`arena_core.interp.attribution_patching`).

Both report the change of the mean logit difference (patched − corrupted), in logits; divide by
LD(clean) − LD(corrupted) for the usual normalised metric (0 = corrupted, 1 = clean).
"""

import torch
from torch import Tensor

from arena_core.interp.attribution_patching import attribution_patching
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.patch_batch import run_cells
from arena_core.interp.patching import logit_diff

CLASSES = ("IO", "S1", "S1+1", "S2", "end")


def _pairs(batches: list[TemplateBatch], corrupted: list[TemplateBatch]):
    if len(batches) != len(corrupted) or any(
        b.tokens.shape != c.tokens.shape for b, c in zip(batches, corrupted, strict=True)
    ):
        raise ValueError("clean and corrupted batches must match one to one (same shapes)")
    n = sum(len(b.idx) for b in batches)
    return [(b, c, len(b.idx) / n) for b, c in zip(batches, corrupted, strict=True)]


def attribution_maps(
    model, batches: list[TemplateBatch], corrupted: list[TemplateBatch]
) -> dict[str, Tensor]:
    """`{"heads": [layers heads] (all positions), "heads_<class>": [layers heads],
    "resid_<class>": [layers]}`: estimated LD change, prompt-weighted over batches."""
    L = model.cfg.n_layers
    z_names = [f"blocks.{layer}.attn.hook_z" for layer in range(L)]
    r_names = [f"blocks.{layer}.hook_resid_pre" for layer in range(L)]
    out: dict[str, Tensor] = {}
    for b, c, w in _pairs(batches, corrupted):
        attr = attribution_patching(
            model, b.tokens, c.tokens, lambda lg, b=b: logit_diff(lg, b.answers), z_names + r_names
        )
        z = torch.stack([attr[n].sum(-1) for n in z_names]).double().cpu()  # [L pos heads]
        r = torch.stack([attr[n].sum(-1) for n in r_names]).double().cpu()  # [L pos]
        parts = {"heads": z.sum(1)}
        for cls in CLASSES:
            parts[f"heads_{cls}"] = z[:, b.positions[cls]]
            parts[f"resid_{cls}"] = r[:, b.positions[cls]]
        for key, value in parts.items():
            out[key] = out.get(key, 0.0) + w * value
    return out


def _corrupted_run(model, c: TemplateBatch) -> dict:
    with torch.no_grad():
        _, cache = model.run_with_cache(c.tokens, names_filter=lambda n: "resid_pre" in n)
    return cache


def exact_head_map(
    model,
    batches: list[TemplateBatch],
    corrupted: list[TemplateBatch],
    from_layer: int = 0,
    cells_per_pass: int = 9,
) -> Tensor:
    """`[layers heads]` LD change when one head's z is patched clean -> corrupted at every
    position (NaN for layers below `from_layer`)."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    cells = [(layer, h) for layer in range(from_layer, L) for h in range(H)]
    out = torch.zeros(len(cells), dtype=torch.float64)
    for b, c, w in _pairs(batches, corrupted):
        with torch.no_grad():
            _, clean = model.run_with_cache(b.tokens, names_filter=lambda n: n.endswith("hook_z"))
            base = logit_diff(model(c.tokens, last_only=True), b.answers).item()
        cache = _corrupted_run(model, c)

        def hooks_for(chunk, batch, clean=clean):
            def hook(z, hook=None):
                z = z.clone()
                for k, (_, h) in enumerate(chunk):
                    z[k * batch : (k + 1) * batch, :, h] = clean[hook.name][:, :, h]
                return z

            return [(f"blocks.{chunk[0][0]}.attn.hook_z", hook)]

        vals = run_cells(
            model, c.tokens, cells, lambda cell: cell[0], hooks_for,
            lambda lg, b=b: logit_diff(lg, b.answers),
            resid_pre=lambda layer, cache=cache: cache[f"blocks.{layer}.hook_resid_pre"],
            cells_per_pass=cells_per_pass, show_progress=False, last_only=True,
        )  # fmt: skip
        out += w * (vals - base)
    grid = torch.full((L, H), float("nan"), dtype=torch.float64)
    grid[from_layer:] = out.view(L - from_layer, H)
    return grid


def exact_resid_map(
    model,
    batches: list[TemplateBatch],
    corrupted: list[TemplateBatch],
    classes: tuple[str, ...] = CLASSES,
    cells_per_pass: int = 5,
) -> Tensor:
    """`[layers classes]` LD change when `resid_pre` of one layer at one position class is
    patched clean -> corrupted."""
    L = model.cfg.n_layers
    cells = [(layer, cls) for layer in range(L) for cls in classes]
    out = torch.zeros(len(cells), dtype=torch.float64)
    for b, c, w in _pairs(batches, corrupted):
        with torch.no_grad():
            _, clean = model.run_with_cache(b.tokens, names_filter=lambda n: "resid_pre" in n)
            base = logit_diff(model(c.tokens, last_only=True), b.answers).item()
        cache = _corrupted_run(model, c)

        def hooks_for(chunk, batch, clean=clean, b=b):
            def hook(x, hook=None):
                x = x.clone()
                for k, (_, cls) in enumerate(chunk):
                    p = b.positions[cls]
                    x[k * batch : (k + 1) * batch, p] = clean[hook.name][:, p]
                return x

            return [(f"blocks.{chunk[0][0]}.hook_resid_pre", hook)]

        vals = run_cells(
            model, c.tokens, cells, lambda cell: cell[0], hooks_for,
            lambda lg, b=b: logit_diff(lg, b.answers),
            resid_pre=lambda layer, cache=cache: cache[f"blocks.{layer}.hook_resid_pre"],
            cells_per_pass=cells_per_pass, show_progress=False, last_only=True,
        )  # fmt: skip
        out += w * (vals - base)
    return out.view(L, len(classes))


__all__ = ["CLASSES", "attribution_maps", "exact_head_map", "exact_resid_map"]
