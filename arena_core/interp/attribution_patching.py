"""Attribution patching: every activation patch at once, from one backward pass (days 54–55).

Exact activation patching (`arena_core.interp.patching`) needs one forward per patched unit:
30 layers x 9 heads is 270 forwards. Attribution patching (Nanda 2023, "Attribution Patching:
Activation Patching At Industrial Scale"; Syed, Rager & Conmy 2023, "Attribution Patching
Outperforms Automated Circuit Discovery") replaces each of them by the first-order Taylor term
around the *corrupted* run. With `a` an activation, `a_clean`/`a_corr` its value in the two runs
and `M` the metric,

    M(corrupted, a := a_clean) ~= M(corrupted) + dM/da |_corrupted . (a_clean - a_corr),

so one forward + backward on the corrupted prompt (for the gradient) and one cached forward on
the clean prompt (for `a_clean`) give the estimated effect of every patch: the dot product is
summed over the coordinates that one patch replaces (d_head for a head's `z` at one position,
d_model for a residual or block output at one position) and over the batch (the metric is a
batch mean and a patch replaces every prompt of the batch at once). It is exact when the model
is linear between `a` and the metric, and it misses saturation (attention softmax, norms): it
is a map to be checked against exact patching where it matters, never a replacement for it.

The gradient is taken with respect to a zero tensor added at each hook point (`a + 0`), so it is
the derivative of the metric with respect to that activation even when the weights do not
require gradients. Works on our `CausalLM` and on a TransformerLens `HookedTransformer`.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError

Metric = Callable[[Tensor], Tensor]


class AttributionPatchingError(UserError, ValueError):
    """Inputs attribution patching cannot use (unknown hook, mismatched prompts)."""


def _check(model, clean_tokens: Tensor, corrupted_tokens: Tensor, names: list[str]) -> None:
    if clean_tokens.shape != corrupted_tokens.shape:
        raise AttributionPatchingError(
            f"clean {tuple(clean_tokens.shape)} and corrupted {tuple(corrupted_tokens.shape)} "
            "prompts must have the same shape (positions are patched onto the same positions)"
        )
    if not names:
        raise AttributionPatchingError("no hook names given")
    unknown = [n for n in names if n not in model.hook_dict]
    if unknown:
        raise AttributionPatchingError(
            f"unknown hook names {unknown[:3]} (e.g. 'blocks.0.attn.hook_z', "
            "'blocks.0.hook_resid_pre')"
        )


def attribution_patching(
    model,
    clean_tokens: Int[Tensor, "batch pos"],
    corrupted_tokens: Int[Tensor, "_batch _pos"],  # checked by _check (clear error)
    metric: Metric,
    names: list[str],
) -> dict[str, Tensor]:
    """`{hook name: grad * (clean - corrupted)}` summed over the batch, every other axis kept
    (`[pos n_heads d_head]` for `hook_z`, `[pos d_model]` for a residual): sum it over the
    coordinates one patch replaces to get that patch's estimated effect on `metric(logits)`."""
    names = list(dict.fromkeys(names))
    _check(model, clean_tokens, corrupted_tokens, names)
    with torch.no_grad():
        _, clean = model.run_with_cache(clean_tokens, names_filter=lambda n: n in names)
    zeros: dict[str, Tensor] = {}
    corr: dict[str, Tensor] = {}

    def add_zero(act: Tensor, hook) -> Tensor:
        zero = torch.zeros_like(act, requires_grad=True)
        zeros[hook.name], corr[hook.name] = zero, act.detach()
        return act + zero  # d metric / d zero = d metric / d act

    with torch.enable_grad():
        logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[(n, add_zero) for n in names])
        grads = torch.autograd.grad(metric(logits), [zeros[n] for n in names])
    return {
        n: (g * (clean[n] - corr[n])).sum(0).detach() for n, g in zip(names, grads, strict=True)
    }


def attr_patch_head_z(
    model,
    clean_tokens: Int[Tensor, "batch pos"],
    corrupted_tokens: Int[Tensor, "batch pos"],
    metric: Metric,
) -> Float[Tensor, "layers pos heads"]:
    """Estimated effect of patching each head's `z` at each position (sum over positions gives
    the all-positions patch of `patching.patch_head_z_all_pos`)."""
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(model.cfg.n_layers)]
    out = attribution_patching(model, clean_tokens, corrupted_tokens, metric, names)
    return torch.stack([out[n].sum(-1) for n in names])


def attr_patch_layer_pos(
    model,
    clean_tokens: Int[Tensor, "batch pos"],
    corrupted_tokens: Int[Tensor, "batch pos"],
    metric: Metric,
    hook: str = "hook_resid_pre",
) -> Float[Tensor, "layers pos"]:
    """Estimated effect of patching `blocks.{l}.{hook}` at one position, for each (l, p): the
    attribution counterpart of `patching.patch_by_layer_pos`."""
    names = [f"blocks.{layer}.{hook}" for layer in range(model.cfg.n_layers)]
    out = attribution_patching(model, clean_tokens, corrupted_tokens, metric, names)
    return torch.stack([out[n].sum(-1) for n in names])


def pearson(x: Tensor, y: Tensor) -> float:
    """Pearson correlation of two same-size tensors (flattened), as a float."""
    x, y = x.flatten().double(), y.flatten().double()
    if x.numel() != y.numel() or x.numel() < 2:
        raise AttributionPatchingError(f"need two tensors of equal size >= 2, got "
                                       f"{x.numel()} and {y.numel()}")  # fmt: skip
    x, y = x - x.mean(), y - y.mean()
    return (x @ y / (x.norm() * y.norm()).clamp_min(1e-30)).item()


__all__ = [
    "AttributionPatchingError",
    "attr_patch_head_z",
    "attr_patch_layer_pos",
    "attribution_patching",
    "pearson",
]
