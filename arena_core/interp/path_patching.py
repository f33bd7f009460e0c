"""Path patching (Wang et al. 2022, "Interpretability in the Wild", §3; day 53).

Activation patching asks "does this head matter?"; path patching asks "does this head matter
*through this route*?": does sender head S change the answer by writing into receiver head R's
query (or key, or value), or straight into the logits?

Two prompt sets of the same shape: `orig` (the clean IOI prompts) and `new` (the same prompts with
other names). Three runs:

1. run orig and new, caching every head's output `z` (`blocks.{l}.attn.hook_z`);
2. run orig again, with the SENDERS' z taken from the new run and EVERY OTHER head's z frozen
   to its orig value. Then the only change reaching later layers is the senders' new output,
   plus whatever the MLPs make of it: MLPs recompute by default (as in the paper: an MLP is
   treated as part of the residual route, not a component of the path), `freeze_mlps=True`
   pins them to orig too. Cache the receivers' inputs (their q / k / v);
3. run orig once more, patching only the receivers' inputs with the values of run 2; every other
   activation (receivers' other inputs, later heads, MLPs) computes freely. The metric of this
   run is the path-patching result.

Receiver "logits": the direct path. Run 2 freezes every head except the senders AND every MLP,
so its final residual is `resid_orig - sender_out_orig + sender_out_new`; the metric of its
logits is the answer (no run 3).

Grouped-query attention: k and v exist per KV head, shared by `n_heads / n_kv_heads` query heads.
Patching receiver h's k must change only head h, so run 3 does not patch `hook_k`; it recomputes
head h's output from its own query and the patched key/value,
`z_h = softmax(q_h k_g^T / scale + causal mask) v_g` with g = h // group (after RoPE: the
`hook_rot_q/k` values), and writes it into `hook_z[:, :, h]`. The same recomputation serves q,
k and v on every model (equal to patching `hook_q` per head without GQA). No padding: the prompts
of one call must have equal length (batch IOI per template).

Speed: the sweep (every earlier head as sender -> fixed receivers) runs many cells per forward
pass (`patch_batch`), run 2 stops after the last receiver's layer and starts at the sender's
layer from the cached orig `resid_pre`, run 3 starts at the first receiver layer.
"""

from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.interp.patch_batch import (
    Metric,
    PatchingError,
    check_head,
    check_tokens,
    chunk_cells,
    forward_rows,
    repeat_rows,
    stop_after,
)
from arena_core.utils.progress import progress

Head = tuple[int, int]
INPUTS = ("q", "k", "v")


def _names(model, layer: int) -> dict[str, str]:
    rot = f"blocks.{layer}.attn.hook_rot_q" in model.hook_dict
    a = f"blocks.{layer}.attn."
    return {
        "q": a + ("hook_rot_q" if rot else "hook_q"),
        "k": a + ("hook_rot_k" if rot else "hook_k"),
        "v": a + "hook_v",
    }


def attend(
    q: Float[Tensor, "batch pos d_head"],
    k: Float[Tensor, "batch pos d_head"],
    v: Float[Tensor, "batch pos d_head"],
    scale: float,
) -> Float[Tensor, "batch pos d_head"]:
    """One head's causal attention output from its query, key and value."""
    scores = q @ k.transpose(-1, -2) / scale
    n = scores.shape[-1]
    mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _check(model, orig, new, receivers, inputs) -> tuple[list[Head] | None, tuple[str, ...]]:
    check_tokens(model, orig, new)
    if isinstance(inputs, str):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if not inputs or any(i not in INPUTS for i in inputs):
        raise PatchingError(f"inputs must be some of {INPUTS}, got {inputs!r}")
    if isinstance(receivers, str):
        if receivers != "logits":
            raise PatchingError(
                f'receivers must be "logits" or a list of (layer, head), got {receivers!r}'
            )
        return None, inputs
    receivers = [tuple(r) for r in receivers]
    if not receivers:
        raise PatchingError('no receiver heads given: pass [(layer, head), ...] or "logits"')
    for layer, head in receivers:
        check_head(model, layer, head)
    return receivers, inputs


def _path_cells(
    model,
    orig: Tensor,
    new: Tensor,
    cells: list[tuple[Head, ...]],
    receivers: list[Head] | None,
    inputs: tuple[str, ...],
    metric: Metric,
    freeze_mlps: bool,
    cells_per_pass: int,
    desc: str,
    show_progress: bool,
    forward_kwargs: dict,
) -> Tensor:
    """float64 `[len(cells)]`: the path-patching metric for each set of sender heads."""
    cfg = model.cfg
    n_layers, batch = cfg.n_layers, orig.shape[0]
    direct = receivers is None
    last = n_layers if direct else max(layer for layer, _ in receivers)
    first_receiver = n_layers if direct else min(layer for layer, _ in receivers)
    freeze_mlps = (freeze_mlps or direct) and not getattr(cfg, "attn_only", False)
    r_layers = sorted({layer for layer, _ in receivers or []})
    r_names = {layer: _names(model, layer) for layer in r_layers}
    sender_layers = sorted({layer for cell in cells for layer, _ in cell})

    def z_name(layer: int) -> str:
        return f"blocks.{layer}.attn.hook_z"

    def mlp_name(layer: int) -> str:
        return f"blocks.{layer}.hook_mlp_out"

    wanted = {z_name(layer) for layer in range(last)} | {
        f"blocks.{layer}.hook_resid_pre" for layer in range(n_layers)
    }
    if freeze_mlps:
        wanted |= {mlp_name(layer) for layer in range(last)}
    with torch.no_grad():
        _, oc = model.run_with_cache(orig, names_filter=lambda n: n in wanted)
        _, nc = model.run_with_cache(new, names_filter={z_name(layer) for layer in sender_layers})

    def freeze_z(layer: int, chunk: list[tuple[Head, ...]]):
        def hook(z: Tensor, hook=None) -> Tensor:
            out = repeat_rows(oc[z_name(layer)], len(chunk))
            for c, cell in enumerate(chunk):
                for sl, sh in cell:
                    if sl == layer:
                        out[c * batch : (c + 1) * batch, :, sh] = nc[z_name(layer)][:, :, sh]
            return out

        return hook

    def freeze_mlp(layer: int, k: int):
        return lambda act, hook=None: repeat_rows(oc[mlp_name(layer)], k)

    def saver(store: dict, key):
        def hook(act: Tensor, hook=None) -> None:
            store[key] = act

        return hook

    def recompute(layer: int, patched: dict, live: dict):
        attn, group = model.blocks[layer].attn, cfg.n_heads // cfg.kv_heads

        def hook(z: Tensor, hook=None) -> Tensor:
            z = z.clone()
            for rl, h in receivers:
                if rl != layer:
                    continue
                src = {i: (patched if i in inputs else live)[(layer, i)] for i in INPUTS}
                g = h // group
                z[:, :, h] = attend(
                    src["q"][:, :, h], src["k"][:, :, g], src["v"][:, :, g], attn.attn_scale
                )
            return z

        return hook

    out = torch.full((len(cells),), float("nan"), dtype=torch.float64)
    chunks = chunk_cells(cells, lambda cell: min(layer for layer, _ in cell), cells_per_pass)
    for idx in progress(chunks, desc=desc, disable=not show_progress or None):
        chunk = [cells[i] for i in idx]
        k, start = len(chunk), min(layer for layer, _ in chunk[0])
        # run 2: orig input, senders from new, every other head (and maybe MLP) frozen
        hooks = [(z_name(layer), freeze_z(layer, chunk)) for layer in range(start, last)]
        if freeze_mlps:
            hooks += [(mlp_name(layer), freeze_mlp(layer, k)) for layer in range(start, last)]
        patched: dict = {}
        for layer in r_layers:
            hooks += [(r_names[layer][i], saver(patched, (layer, i))) for i in INPUTS]
        if not direct:
            hooks.append((z_name(last), stop_after(lambda act, hook=None: None)))
        x = repeat_rows(orig if start == 0 else oc[f"blocks.{start}.hook_resid_pre"], k)
        logits = forward_rows(model, x, hooks, start, **forward_kwargs)
        if not direct:
            # run 3: orig input; only the receivers' chosen inputs come from run 2
            live: dict = {}
            hooks = []
            for layer in r_layers:
                hooks += [(r_names[layer][i], saver(live, (layer, i))) for i in INPUTS]
                hooks.append((z_name(layer), recompute(layer, patched, live)))
            x = repeat_rows(oc[f"blocks.{first_receiver}.hook_resid_pre"], k)
            logits = forward_rows(model, x, hooks, first_receiver, **forward_kwargs)
        for c, i in enumerate(idx):
            out[i] = float(metric(logits[c * batch : (c + 1) * batch]))
    return out


def path_patch(
    model,
    orig_tokens: Int[Tensor, "batch pos"],
    new_tokens: Tensor,  # [batch pos] like orig_tokens (checked, with a clear error)
    senders: Sequence[Head],
    receivers: str | Sequence[Head],
    metric: Metric,
    inputs: str | Sequence[str] = "q",
    freeze_mlps: bool = False,
    **forward_kwargs,
) -> float:
    """Metric of run 3 when `senders` (a list of (layer, head)) are patched from `new_tokens`
    along the path into `receivers`: "logits" (direct path) or a list of (layer, head) whose
    `inputs` ("q", "k", "v" or several) receive the patch. Every sender must sit in an earlier
    layer than every receiver. `forward_kwargs` go to the model (e.g. `last_only=True`)."""
    receivers, inputs = _check(model, orig_tokens, new_tokens, receivers, inputs)
    senders = [tuple(s) for s in senders]
    if not senders:
        raise PatchingError("no sender heads given: pass [(layer, head), ...]")
    for layer, head in senders:
        check_head(model, layer, head)
    if receivers is not None:
        first = min(layer for layer, _ in receivers)
        late = [s for s in senders if s[0] >= first]
        if late:
            raise PatchingError(
                f"senders {late} are not before the first receiver layer {first}: a head can "
                "only send to heads in later layers"
            )
    cells = [tuple(sorted(set(senders)))]
    return _path_cells(
        model, orig_tokens, new_tokens, cells, receivers, inputs, metric, freeze_mlps, 1,
        "path patching", False, forward_kwargs,
    )[0].item()  # fmt: skip


def path_patch_sweep(
    model,
    orig_tokens: Int[Tensor, "batch pos"],
    new_tokens: Tensor,  # [batch pos] like orig_tokens (checked, with a clear error)
    receivers: str | Sequence[Head],
    metric: Metric,
    inputs: str | Sequence[str] = "q",
    freeze_mlps: bool = False,
    cells_per_pass: int = 16,
    show_progress: bool = True,
    **forward_kwargs,
) -> Float[Tensor, "layers heads"]:
    """`[layers heads]` float64: `path_patch` with each single head as the sender, for every head
    in a layer before the first receiver (NaN for the others), `cells_per_pass` senders per
    forward pass (identical results to one at a time)."""
    receivers, inputs = _check(model, orig_tokens, new_tokens, receivers, inputs)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    first = n_layers if receivers is None else min(layer for layer, _ in receivers)
    if first == 0:
        raise PatchingError("a receiver in layer 0 has no earlier heads to send to it")
    cells = [((layer, head),) for layer in range(first) for head in range(n_heads)]
    values = _path_cells(
        model, orig_tokens, new_tokens, cells, receivers, inputs, metric, freeze_mlps,
        cells_per_pass, "path patching", show_progress, forward_kwargs,
    )  # fmt: skip
    grid = torch.full((n_layers, n_heads), float("nan"), dtype=torch.float64)
    grid[:first] = values.view(first, n_heads)
    return grid


__all__ = ["attend", "path_patch", "path_patch_sweep"]
