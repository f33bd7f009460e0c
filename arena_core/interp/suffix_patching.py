"""Patching the last few positions of left-padded prompts, with the prefix computed once.

Activation patching at the *final* positions of a prompt (days 42–44: which heads carry an
in-context task to the last token, Todd et al.'s causal indirect effect) only changes what
happens at those positions: attention is causal, so every earlier position's keys and values are
the same in the patched and the unpatched run. So we run the prefix (all but the last `k`
columns) once with a KV cache, and each patched run only recomputes the last `k` columns
against that cache. To patch many things at once (every head of a layer, or every position), the
batch is repeated along the batch axis, one copy per patch, and one forward does them all:

    rows of the big batch:  copy c = 0..C-1, prompt i = 0..n-1  ->  row c * n + i

Compared with a full forward per patch this saves the prefix's cost, which for a 10-shot prompt is
nearly all of it. The results are checked against full forwards with hooks on a TransformerLens
twin (tests/interp/test_suffix_patching.py).

`patch_heads_last` replaces one head's `z` (its output before W_O) at the last position, with a
value per head (Todd et al.'s mean activation) or per prompt and head (clean-run activation
patching); `patch_resid_suffix` replaces the residual stream entering a layer at one of the last
`k` positions. Both return the probability of each prompt's answer token.
"""

from collections.abc import Iterator, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.icl import attached, left_padded
from arena_core.transformer.kv_cache import KVCache
from arena_core.utils.progress import progress


class SuffixPatchError(UserError, ValueError):
    """Patch values or prompts whose shapes do not fit the model or each other."""


def _prefix_batches(
    model: torch.nn.Module, rows: Sequence[Sequence[int]], k: int, batch_size: int
) -> Iterator[tuple[slice, KVCache, Tensor, Tensor]]:
    """(prompt slice, KV cache of all but the last k columns, last k tokens, their mask)."""
    if any(len(r) <= k for r in rows):
        raise SuffixPatchError(f"every prompt needs more than {k} tokens")
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    for b0 in range(0, len(rows), batch_size):
        tokens, mask = left_padded(rows[b0 : b0 + batch_size])
        tokens, mask = tokens.to(device), mask.to(device)
        cache = KVCache.empty(model.cfg, tokens.shape[0], device, dtype)
        with torch.no_grad():
            model(tokens[:, :-k], attention_mask=mask[:, :-k], kv_cache=cache, last_only=True)
        yield slice(b0, b0 + tokens.shape[0]), cache, tokens[:, -k:], mask[:, -k:]


def _answer_probs(logits: Tensor, answer_ids: Tensor) -> Tensor:
    """P(answer) at the last column (results are stored in float64; float32 models round)."""
    return logits[:, -1].softmax(-1).gather(-1, answer_ids[:, None])[:, 0].cpu()


def _run_copies(model, cache: KVCache, tokens: Tensor, mask: Tensor, copies: int, hooks) -> Tensor:
    """Logits at the last column of `copies` stacked copies of the suffix, hooks attached."""
    n = tokens.shape[0]
    big = cache.select(torch.arange(n, device=tokens.device).repeat(copies))
    with torch.no_grad(), attached(model, hooks):
        return model(tokens.repeat(copies, 1), attention_mask=mask.repeat(copies, 1),
                     kv_cache=big, last_only=True)  # fmt: skip


def head_z_last(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> Float[Tensor, "n layer head d_head"]:
    """Each head's `z` (attention output before W_O) at each prompt's last real token."""
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    names = [f"blocks.{L}.attn.hook_z" for L in layers]
    return _capture(model, rows, 1, batch_size, names, lambda z: z[:, -1])


def _capture(model, rows, k: int, batch_size: int, names: list[str], pick) -> Tensor:
    """`pick(activation)` at each hook of `names` on the last k columns, stacked on axis 1."""
    out = []
    for _, cache, tokens, mask in _prefix_batches(model, rows, k, batch_size):
        got: dict[str, Tensor] = {}

        def save(x: Tensor, hook, got=got) -> None:
            got[hook.name] = pick(x).detach()

        with torch.no_grad(), attached(model, [(name, save) for name in names]):
            model(tokens, attention_mask=mask, kv_cache=cache, last_only=True)
        out.append(torch.stack([got[name] for name in names], dim=1).cpu())
    return torch.cat(out)


def answer_probs(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    answer_ids: Int[Tensor, " n"],
    batch_size: int = 16,
) -> Float[Tensor, " n"]:
    """P(answer token) at each prompt's last token, unpatched (computed the same cached way)."""
    out = []
    for sl, cache, tokens, mask in _prefix_batches(model, rows, 1, batch_size):
        logits = _run_copies(model, cache, tokens, mask, 1, [])
        out.append(_answer_probs(logits, answer_ids[sl].to(logits.device)))
    return torch.cat(out)


def patch_heads_last(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    answer_ids: Int[Tensor, " n"],
    values: Float[Tensor, "*n layer head d_head"],
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    desc: str = "patching heads",
) -> Float[Tensor, "layer head n"]:
    """P(answer) when head (L, h)'s z at the last position is set to `values`, for every (L, h).

    `values`: `[layer head d_head]` (one value for all prompts, e.g. a mean over clean prompts)
    or `[n layer head d_head]` (each prompt's own clean value). The layer axis follows `layers`
    (default: all). One forward per layer and prompt batch, the heads stacked along the batch."""
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    H, e = model.cfg.n_heads, model.cfg.d_head
    if values.shape[-3:] != (len(layers), H, e) or values.dim() not in (3, 4):
        raise SuffixPatchError(f"values {tuple(values.shape)} != [(n) {len(layers)} {H} {e}]")
    if values.dim() == 4 and values.shape[0] != len(rows):
        raise SuffixPatchError(f"{values.shape[0]} per-prompt values for {len(rows)} prompts")
    if answer_ids.shape[0] != len(rows):
        raise SuffixPatchError(f"{answer_ids.shape[0]} answers for {len(rows)} prompts")
    out = torch.zeros(len(layers), H, len(rows), dtype=torch.float64)
    heads = torch.arange(H)
    batches = list(_prefix_batches(model, rows, 1, batch_size))
    for li, L in enumerate(progress(layers, desc=desc)):
        for sl, cache, tokens, mask in batches:
            n = tokens.shape[0]
            v = values[li] if values.dim() == 3 else values[sl, li].transpose(0, 1)
            src = v[:, None].expand(H, n, e) if values.dim() == 3 else v

            def set_z(z: Tensor, hook, src=src, n=n) -> Tensor:
                z = z.clone()
                # z [(copy n) 1 head e]: copy c patches head c of every prompt
                zz = z.view(H, n, z.shape[1], H, e)
                zz[heads, :, -1, heads] = src.to(z.device, z.dtype)
                return z

            logits = _run_copies(
                model, cache, tokens, mask, H, [(f"blocks.{L}.attn.hook_z", set_z)]
            )
            probs = _answer_probs(logits, answer_ids[sl].to(logits.device).repeat(H))
            out[li, :, sl] = probs.view(H, n)
    return out


def resid_pre_suffix(
    model: torch.nn.Module, rows: Sequence[Sequence[int]], k: int, batch_size: int = 16
) -> Float[Tensor, "n layer k d_model"]:
    """The residual stream entering every layer at each prompt's last `k` columns."""
    names = [f"blocks.{L}.hook_resid_pre" for L in range(model.cfg.n_layers)]
    return _capture(model, rows, k, batch_size, names, lambda x: x)


def patch_resid_suffix(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    answer_ids: Int[Tensor, " n"],
    values: Float[Tensor, "n layer k d_model"],
    batch_size: int = 16,
    desc: str = "patching residual stream",
) -> Float[Tensor, "layer k n"]:
    """P(answer) when `blocks.L.hook_resid_pre` at column -k+j is set to `values[:, L, j]`.

    The last k tokens of `rows` must be the ones the values were computed on (same query)."""
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    if values.dim() != 4 or values.shape[0] != len(rows) or values.shape[1] != n_layers:
        raise SuffixPatchError(f"values {tuple(values.shape)} != [{len(rows)} {n_layers} k {d}]")
    k = values.shape[2]
    out = torch.zeros(n_layers, k, len(rows), dtype=torch.float64)
    cols = torch.arange(k)
    batches = list(_prefix_batches(model, rows, k, batch_size))
    for L in progress(range(n_layers), desc=desc):
        for sl, cache, tokens, mask in batches:
            n = tokens.shape[0]
            src = values[sl, L].transpose(0, 1).to(tokens.device)  # [k n d]

            def set_resid(x: Tensor, hook, src=src, n=n) -> Tensor:
                x = x.clone()
                xx = x.view(k, n, k, d)  # copy j patches column j of every prompt
                xx[cols, :, cols] = src.to(x.dtype)
                return x

            logits = _run_copies(
                model, cache, tokens, mask, k, [(f"blocks.{L}.hook_resid_pre", set_resid)]
            )
            probs = _answer_probs(logits, answer_ids[sl].to(logits.device).repeat(k))
            out[L, :, sl] = probs.view(k, n)
    return out
