"""An SAE spliced into a model with its error term kept: edit latents, leave the rest alone (58).

To ask what a model does *through* an SAE's latents, replace the activation x at the SAE's hook by

    x = x̂(f) + e,        x̂(f) = f W_dec + b_dec,   f = σ(x W_enc + b_enc),   e = x − x̂(f)

(the splice of Marks et al. 2024, "Sparse Feature Circuits", https://arxiv.org/abs/2403.19647).
With f and e unchanged the model computes exactly what it did before, however poor the
reconstruction: e carries whatever the SAE misses. Edits then act on f (and optionally on e):

- exact latent patching: f[p, i] ← f_clean[p, i] for chosen latents i at positions p;
- mean ablation: f[p, i] ← mean over a reference set of prompts;
- patching every latent *and* e at a position equals patching the activation there.

The code f enters the rest of the forward as a fresh leaf (no ReLU after the edit), so the
metric is a smooth function of it and its gradient is the one latent attribution patching
uses (`attribution.py`). `replace_codes` builds the usual edit: overwrite the codes selected by a
`[pos d_sae]` mask with given values (and the error at given positions).

Used by day 58 (SAE latents in the IOI circuit of SmolLM2-135M-Instruct).
"""

from collections.abc import Callable
from typing import Any

import torch
from jaxtyping import Bool
from torch import Tensor

from arena_core.sae.base import SAE, SAEError

CodeEdit = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def splice_hook(
    sae: SAE, edit: CodeEdit | None = None, store: dict | None = None, grad: bool = False
) -> Callable[[Tensor, Any], Tensor]:
    """A hook returning x̂(f') + e' where (f', e') = `edit(f, e)` (unchanged when None).

    `store` (a dict) receives the unedited "codes" f [batch pos d_sae] and "error" e
    [batch pos d]; with `grad=True` both are leaves that require grad, so that after a backward
    pass `store["codes"].grad` is ∂metric/∂f. TransformerLens's calling convention."""

    def hook(x: Tensor, hook: Any = None) -> Tensor:
        if x.shape[-1] != sae.cfg.d_in:
            raise SAEError(f"activation width {x.shape[-1]} != SAE d_in {sae.cfg.d_in}")
        with torch.no_grad():
            xs = x.to(sae.W_dec.dtype)
            f = sae.encode(xs)
            e = xs - sae.decode(f)
        if grad:
            f.requires_grad_(True)
            e.requires_grad_(True)
        if store is not None:
            store["codes"], store["error"] = f, e
        f2, e2 = (f, e) if edit is None else edit(f, e)
        if f2.shape != f.shape or e2.shape != e.shape:
            raise SAEError("an edit must return codes and error of unchanged shapes")
        return (sae.decode(f2) + e2).to(x.dtype)

    return hook


def replace_codes(
    values: Tensor,  # broadcastable to the codes [batch pos d_sae]: clean codes, or [pos d_sae]
    mask: Tensor,  # bool [pos d_sae] (checked with a clear error)
    error_values: Tensor | None = None,  # [batch pos d]
    error_positions: Tensor | None = None,  # bool [pos]
) -> CodeEdit:
    """An edit that sets f[:, p, i] = values[..., p, i] where mask[p, i], and (optionally)
    e[:, p] = error_values[:, p] where error_positions[p]."""
    if mask.dtype != torch.bool or mask.dim() != 2:
        raise SAEError(f"mask must be a bool [pos d_sae] tensor, got {mask.dtype} {mask.dim()}-D")
    if (error_values is None) != (error_positions is None):
        raise SAEError("give both error_values and error_positions, or neither")

    def edit(f: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        if mask.shape != f.shape[-2:]:
            raise SAEError(f"mask {tuple(mask.shape)} does not match codes {tuple(f.shape)}")
        m = mask.to(f.device)
        f = torch.where(m, values.to(f.device, f.dtype), f)
        if error_values is not None:
            if error_values.shape != e.shape or error_positions.shape != e.shape[1:2]:
                raise SAEError(
                    f"error values {tuple(error_values.shape)} / positions "
                    f"{tuple(error_positions.shape)} do not fit {tuple(e.shape)}"
                )
            p = error_positions.to(e.device)[:, None]
            e = torch.where(p, error_values.to(e.device, e.dtype), e)
        return f, e

    return edit


def unit_mask(n_pos: int, d_sae: int, units: list[tuple[int, int]]) -> Bool[Tensor, "pos d_sae"]:
    """A [pos d_sae] mask that is True at the given (position, latent) pairs."""
    mask = torch.zeros(n_pos, d_sae, dtype=torch.bool)
    for p, i in units:
        if not (-n_pos <= p < n_pos and 0 <= i < d_sae):
            raise SAEError(f"unit (pos {p}, latent {i}) outside [{n_pos} pos, {d_sae} latents]")
        mask[p, i] = True
    return mask


@torch.no_grad()
def run_spliced(
    model, sae: SAE, hook_name: str, tokens: Tensor, edit: CodeEdit | None = None, **fwd
) -> tuple[Tensor, Tensor, Tensor]:
    """Logits of `tokens` with the SAE spliced in at `hook_name` (edited by `edit`), and the
    unedited codes [batch pos d_sae] and error [batch pos d] there. `fwd` goes to the forward
    (e.g. `last_only=True`)."""
    if hook_name not in model.hook_dict:
        raise SAEError(f"unknown hook {hook_name!r}; see model.hook_dict")
    store: dict = {}
    logits = model.run_with_hooks(tokens, fwd_hooks=[(hook_name, splice_hook(sae, edit, store))],
                                  **fwd)  # fmt: skip
    return logits, store["codes"], store["error"]
