"""Activation patching with hooks (days 36–38, 50–55): which activations carry the answer?

Run the model on a *clean* prompt ("The Eiffel Tower is in the city of" -> " Paris") and on a
*corrupted* one that differs in the crucial tokens ("The Colosseum is in the city of" -> " Rome").
Then re-run the corrupted prompt, copying one clean activation into it (one layer's residual
stream at one position, one head's output, ...), and measure how much of the clean behaviour
comes back (causal tracing, Meng et al. 2022 "Locating and Editing Factual Associations in GPT";
path/activation patching in Wang et al. 2022 "Interpretability in the Wild").

The metric is the logit difference `LD = logit(clean answer) - logit(corrupted answer)` at the
last position, normalised so that the corrupted run scores 0 and the clean run 1:

    metric(patched) = (LD(patched) - LD(corrupted)) / (LD(clean) - LD(corrupted)).

Functions mirror `transformer_lens.patching` (`get_act_patch_resid_pre`, `..._attn_out`,
`..._mlp_out`, `..._attn_head_out_all_pos`): `(model, corrupted_tokens, clean_cache, metric)`,
where `metric(logits) -> scalar`. They work on our `CausalLM` and on a TL `HookedTransformer`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.utils.progress import progress

Metric = Callable[[Tensor], Tensor]


def logit_diff(
    logits: Float[Tensor, "batch pos d_vocab"], answers: Int[Tensor, "batch 2"]
) -> Float[Tensor, ""]:
    """Mean over the batch of logit(answers[:, 0]) - logit(answers[:, 1]) at the last position."""
    last = logits[:, -1]
    return (last.gather(-1, answers[:, :1]) - last.gather(-1, answers[:, 1:])).mean()


def normalised_logit_diff(
    answers: Int[Tensor, "batch 2"], clean: float, corrupted: float
) -> Metric:
    """`metric(logits)` = (LD - corrupted) / (clean - corrupted): 0 = corrupted, 1 = clean."""
    if abs(clean - corrupted) < 1e-6:
        raise ValueError("clean and corrupted logit differences are equal: nothing to patch")
    return lambda logits: (logit_diff(logits, answers) - corrupted) / (clean - corrupted)


@dataclass
class PatchingSetup:
    """Everything a patching experiment needs from the two unpatched runs."""

    clean_cache: dict  # our ActivationCache or TL's ActivationCache of the clean run
    metric: Metric  # normalised logit difference
    clean_logit_diff: float
    corrupted_logit_diff: float


def patching_setup(
    model,
    clean_tokens: Int[Tensor, "batch pos"],
    corrupted_tokens: Int[Tensor, "batch pos"],
    answers: Int[Tensor, "batch 2"],
) -> PatchingSetup:
    """Run clean (with a full cache) and corrupted once; build the normalised metric.

    `answers[i] = (clean answer, corrupted answer)` for pair i: clean and corrupted prompts must
    have the same length so that positions line up (patching copies position p onto position p)."""
    if clean_tokens.shape != corrupted_tokens.shape:
        raise ValueError(
            f"clean {tuple(clean_tokens.shape)} and corrupted {tuple(corrupted_tokens.shape)} "
            "prompts must have the same shape (same number of tokens)"
        )
    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(clean_tokens)
        corrupted_logits = model(corrupted_tokens)
    clean = logit_diff(clean_logits, answers).item()
    corrupted = logit_diff(corrupted_logits, answers).item()
    return PatchingSetup(cache, normalised_logit_diff(answers, clean, corrupted), clean, corrupted)


def _scan(
    model,
    corrupted_tokens: Tensor,
    metric: Metric,
    shape: tuple[int, int],
    hook_for: Callable[[int, int], tuple[str, Callable]],
    desc: str,
    show_progress: bool,
) -> Tensor:
    """metric of the corrupted run with one hook `hook_for(i, j)` attached, for every (i, j)."""
    out = torch.zeros(shape)
    cells = [(i, j) for i in range(shape[0]) for j in range(shape[1])]
    with torch.no_grad():
        for i, j in progress(cells, desc=desc, disable=not show_progress or None):
            logits = model.run_with_hooks(corrupted_tokens, fwd_hooks=[hook_for(i, j)])
            out[i, j] = metric(logits).item()
    return out


def _pos_setter(clean: Tensor, pos: int) -> Callable:
    def hook(act: Tensor, hook=None) -> Tensor:
        act = act.clone()
        act[:, pos] = clean[:, pos]  # [batch pos ...]: copy one position from the clean run
        return act

    return hook


def _head_setter(clean: Tensor, head: int) -> Callable:
    def hook(act: Tensor, hook=None) -> Tensor:
        act = act.clone()
        act[:, :, head] = clean[:, :, head]  # z [batch pos n_heads d_head]: every position
        return act

    return hook


def patch_resid_pre(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    show_progress: bool = True,
) -> Float[Tensor, "layers pos"]:
    """Patch `blocks.{l}.hook_resid_pre` at one position from the clean run, for each (l, p)."""
    return patch_by_layer_pos(
        model, corrupted_tokens, clean_cache, metric, "hook_resid_pre", show_progress
    )


def patch_by_layer_pos(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    hook: str = "hook_resid_pre",
    show_progress: bool = True,
) -> Float[Tensor, "layers pos"]:
    """Patch `blocks.{l}.{hook}` (`hook_resid_pre`, `hook_resid_mid`, `hook_attn_out`,
    `hook_mlp_out`, ...) at one position from the clean run, for each (layer, position)."""
    if hook == "hook_mlp_out" and getattr(model.cfg, "attn_only", False):
        raise ValueError("an attention-only model has no hook_mlp_out")
    shape = (model.cfg.n_layers, corrupted_tokens.shape[1])

    def hook_for(layer: int, pos: int):
        name = f"blocks.{layer}.{hook}"
        return name, _pos_setter(clean_cache[name], pos)

    return _scan(
        model, corrupted_tokens, metric, shape, hook_for, f"patching {hook}", show_progress
    )


def patch_attn_out(model, corrupted_tokens, clean_cache, metric, show_progress=True) -> Tensor:
    """`[layers pos]`: patch a whole attention layer's output at one position."""
    return patch_by_layer_pos(
        model, corrupted_tokens, clean_cache, metric, "hook_attn_out", show_progress
    )


def patch_mlp_out(model, corrupted_tokens, clean_cache, metric, show_progress=True) -> Tensor:
    """`[layers pos]`: patch an MLP layer's output at one position."""
    return patch_by_layer_pos(
        model, corrupted_tokens, clean_cache, metric, "hook_mlp_out", show_progress
    )


def patch_head_z_all_pos(
    model,
    corrupted_tokens: Int[Tensor, "batch pos"],
    clean_cache,
    metric: Metric,
    show_progress: bool = True,
) -> Float[Tensor, "layers heads"]:
    """Patch one head's `hook_z` (its output before W_O) at every position, for each (l, h)."""
    shape = (model.cfg.n_layers, model.cfg.n_heads)

    def hook_for(layer: int, head: int):
        name = f"blocks.{layer}.attn.hook_z"
        return name, _head_setter(clean_cache[name], head)

    return _scan(model, corrupted_tokens, metric, shape, hook_for, "patching heads", show_progress)
