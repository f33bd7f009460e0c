"""Zero- and mean-ablation of attention heads and MLP neurons with hooks (days 36–38, 50–55).

Ablating a component means replacing its output by a constant and measuring what breaks
(the knock-out experiments of Wang et al. 2022, "Interpretability in the Wild", and Olsson et al.
2022 on induction heads). A head's contribution to the residual stream is `z_h @ W_O[h]`, so
editing `blocks.{l}.attn.hook_z[..., h, :]` removes exactly that head and nothing else:
- zero-ablation sets `z_h = 0` (the head writes nothing; biases `b_O` are untouched);
- mean-ablation sets `z_h` to its mean over a reference distribution (the head writes its
  "average" message, which is kinder to later components that expect *something* there).
Neurons are ablated the same way at `blocks.{l}.mlp.hook_post[..., n]`.

Every function here takes either our `CausalLM` or a TransformerLens `HookedTransformer`:
both have `run_with_hooks(tokens, fwd_hooks=[(name, fn)])` and call `fn(tensor, hook)`.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.utils.progress import progress

HookFn = Callable[..., Tensor | None]
Hooks = list[tuple[str, HookFn]]


def _group_by_layer(units: list[tuple[int, int]]) -> dict[int, list[int]]:
    by_layer: dict[int, list[int]] = {}
    for layer, idx in units:
        by_layer.setdefault(int(layer), []).append(int(idx))
    return by_layer


def _replace_hook(index: list[int], mean: Tensor | None) -> HookFn:
    """A hook that overwrites the units `index` of the last-but-one axis (heads of `z`) or of the
    last axis (neurons of `post`) with zero or with `mean` (broadcast over batch)."""

    def hook(act: Tensor, hook=None) -> Tensor:
        act = act.clone()  # never edit a tensor another hook (or a cache) may hold
        idx = torch.tensor(index, device=act.device)
        if act.ndim == 4:  # z: [batch pos n_heads d_head]
            if mean is None:
                act[:, :, idx] = 0.0
            else:
                # mean is [n_heads d_head] or [pos n_heads d_head]; either broadcasts over batch
                m = mean.to(act.device, act.dtype)
                act[:, :, idx] = m[..., idx, :].expand_as(act[:, :, idx])
        else:  # post: [batch pos d_mlp]
            if mean is None:
                act[..., idx] = 0.0
            else:
                m = mean.to(act.device, act.dtype)
                act[..., idx] = m[..., idx].expand_as(act[..., idx])
        return act

    return hook


def head_ablation_hooks(
    heads: list[tuple[int, int]], means: dict[int, Tensor] | None = None
) -> Hooks:
    """Hooks on `blocks.{l}.attn.hook_z` that ablate the given (layer, head) pairs.

    `means=None`: zero-ablation. Otherwise `means[layer]` is `[n_heads d_head]` (or
    `[pos n_heads d_head]`, position-wise means) and the head's z is set to it (mean-ablation).
    Use as `model.run_with_hooks(tokens, fwd_hooks=head_ablation_hooks([(9, 6)]))`."""
    return [
        (f"blocks.{layer}.attn.hook_z", _replace_hook(hs, None if means is None else means[layer]))
        for layer, hs in _group_by_layer(heads).items()
    ]


def neuron_ablation_hooks(
    neurons: list[tuple[int, int]], means: dict[int, Tensor] | None = None
) -> Hooks:
    """Hooks on `blocks.{l}.mlp.hook_post` ablating (layer, neuron) pairs; `means[layer]` is
    `[d_mlp]` or `[pos d_mlp]` (see `mean_post`), `None` zero-ablates."""
    return [
        (
            f"blocks.{layer}.mlp.hook_post",
            _replace_hook(ns, None if means is None else means[layer]),
        )
        for layer, ns in _group_by_layer(neurons).items()
    ]


def _mean_act(model, tokens: Tensor, short: str, per_position: bool) -> dict[int, Tensor]:
    suffix = f".{short}"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith(suffix))
    dims = (0,) if per_position else (0, 1)
    return {
        layer: cache[f"blocks.{layer}{suffix}"].mean(dim=dims)
        for layer in range(model.cfg.n_layers)
    }


def mean_z(
    model, tokens: Int[Tensor, "batch pos"], per_position: bool = False
) -> dict[int, Tensor]:
    """Per-layer mean of `hook_z` over batch and position: `{layer: [n_heads d_head]}`
    (`per_position=True`: over batch only, `[pos n_heads d_head]`)."""
    return _mean_act(model, tokens, "attn.hook_z", per_position)


def mean_post(
    model, tokens: Int[Tensor, "batch pos"], per_position: bool = False
) -> dict[int, Tensor]:
    """Per-layer mean of `mlp.hook_post`: `{layer: [d_mlp]}` (or `[pos d_mlp]`)."""
    if getattr(model.cfg, "attn_only", False):
        raise ValueError("an attention-only model has no MLP neurons to ablate")
    return _mean_act(model, tokens, "mlp.hook_post", per_position)


def next_token_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"], per_token: bool
) -> Tensor:
    """Cross-entropy of token t+1 given the logits at t: scalar, or `[batch pos-1]`."""
    # at least fp32 for the log-softmax (bf16 logits lose the small differences we measure)
    logp = logits[:, :-1].to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(-1)
    loss = -logp.gather(-1, tokens[:, 1:, None])[..., 0]
    return loss if per_token else loss.mean()


def loss_with_hooks(
    model, tokens: Int[Tensor, "batch pos"], fwd_hooks: Hooks = (), per_token: bool = False
) -> Tensor:
    """Next-token cross-entropy of `model` run with `fwd_hooks` (mean, or `[batch pos-1]`)."""
    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))
    return next_token_loss(logits, tokens, per_token)


def head_ablation_scan(
    model,
    tokens: Int[Tensor, "batch pos"],
    kind: str = "zero",
    means: dict[int, Tensor] | None = None,
    show_progress: bool = True,
) -> Float[Tensor, "layers heads"]:
    """Loss increase (ablated - clean, nats per token) when ablating each head on its own.

    `kind="mean"` uses `means` (default: `mean_z(model, tokens)`, the mean over these tokens).
    The unablated prefix is computed once: for head (l, h) only blocks l.. are re-run, starting
    from the cached `resid_pre` of layer l, which halves the work of a naive scan."""
    if kind not in ("zero", "mean"):
        raise ValueError(f"kind must be 'zero' or 'mean', not {kind!r}")
    if kind == "mean" and means is None:
        means = mean_z(model, tokens)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: "hook_resid_pre" in n)
        clean = next_token_loss(logits, tokens, per_token=False)
        out = torch.zeros(n_layers, n_heads)
        units = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
        bar = progress(units, desc=f"{kind}-ablating heads", disable=not show_progress or None)
        for layer, head in bar:
            hooks = head_ablation_hooks([(layer, head)], None if kind == "zero" else means)
            with model.hooks(fwd_hooks=hooks):  # same keyword in TL
                ablated = model(cache[f"blocks.{layer}.hook_resid_pre"], start_at_layer=layer)
            out[layer, head] = next_token_loss(ablated, tokens, per_token=False) - clean
    return out


__all__ = [
    "head_ablation_hooks",
    "head_ablation_scan",
    "loss_with_hooks",
    "mean_post",
    "mean_z",
    "neuron_ablation_hooks",
    "next_token_loss",
]
