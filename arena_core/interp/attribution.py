"""Residual-stream decomposition and direct logit attribution (days 35, 38, 40, 41).

Elhage et al. (2021), "A Mathematical Framework for Transformer Circuits"
(https://transformer-circuits.pub/2021/framework/index.html): the residual stream is a sum of
what every component wrote into it,

    resid_final = W_E[tok] (+ W_pos[p]) + sum_l ( sum_h z_{l,h} W_O[l,h] + b_O[l] + mlp_out_l ).

The final norm is not linear, but with its scale *frozen* at the cached value `s` (one number
per position) it is: LN(x) = (x - mean x) / s * w + b, RMSNorm(x) = x / s * w. Applying that to
every component and projecting on a direction `d` in the unembedding space (e.g.
`W_U[:, correct] - W_U[:, wrong]`) splits the logit difference exactly into per-component terms
(direct logit attribution, DLA). It measures only *direct* effects: what a head writes that the
unembedding reads, not what it changes in later layers (see activation patching, day 36).

Works on our `CausalLM` and on a TransformerLens `HookedTransformer` with its cache.
"""

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.interp.logit_lens import final_norm, unembed_params
from arena_core.transformer.hooks import ActivationCache


def head_results(
    model: Any, cache: ActivationCache, layer: int
) -> Float[Tensor, "batch pos head d_model"]:
    """What each head of `layer` writes into the residual stream: `z_h @ W_O[h]` (no bias)."""
    W_O = model.blocks[layer].attn.W_O  # [head d_head d_model]
    return torch.einsum("bphe,hed->bphd", cache["z", layer], W_O)


def residual_components(
    model: Any, cache: ActivationCache, layer: int | None = None
) -> tuple[Float[Tensor, "component batch pos d_model"], list[str]]:
    """The residual stream entering `layer` (default: the final residual) split into components:
    embed, pos_embed (GPT-2), then per layer L{l}H{h} heads, L{l} attn bias, L{l} MLP."""
    cfg = model.cfg
    layer = cfg.n_layers if layer is None else layer
    parts, labels = [cache["hook_embed"]], ["embed"]
    if "hook_pos_embed" in cache:
        parts.append(cache["hook_pos_embed"])
        labels.append("pos_embed")
    for l in range(layer):  # noqa: E741 — l is the layer, as in the papers
        heads = head_results(model, cache, l)
        parts.extend(heads.unbind(2))
        labels.extend(f"L{l}H{h}" for h in range(cfg.n_heads))
        b_O = model.blocks[l].attn.b_O
        if b_O is not None:
            parts.append(b_O.expand_as(parts[0]))
            labels.append(f"L{l} attn bias")
        if not cfg.attn_only:
            parts.append(cache["mlp_out", l])
            labels.append(f"L{l} MLP")
    return torch.stack(parts), labels


def apply_final_norm_to_stack(
    model: Any,
    cache: ActivationCache,
    stack: Float[Tensor, "component batch pos d_model"],
    labels: list[str],
) -> tuple[Float[Tensor, "component2 batch pos d_model"], list[str]]:
    """The final norm applied linearly to each component with the cached final scale.

    LayerNorm: centre, divide by the scale, multiply by w; its bias b is appended as one more
    component ("ln_final.b"), so the normalised components sum to the norm's output.
    RMSNorm: divide by the scale, multiply by w."""
    norm = final_norm(model)
    scale = cache["ln_final.hook_scale"]  # [batch pos 1]
    if norm.kind == "LN":
        stack = stack - stack.mean(-1, keepdim=True)
    out = stack / scale * norm.w
    if norm.b is not None:
        out = torch.cat([out, norm.b.expand_as(out[:1])])
        labels = [*labels, "ln_final.b"]
    return out, labels


def logit_diff_direction(model: Any, correct: int, wrong: int | None = None) -> Tensor:
    """`W_U[:, correct] - W_U[:, wrong]` (or just `W_U[:, correct]`): a direction in d_model."""
    W_U, _ = unembed_params(model)
    return W_U[:, correct] - (W_U[:, wrong] if wrong is not None else 0.0)


def direct_logit_attribution(
    normalised: Float[Tensor, "component batch pos d_model"],
    direction: Float[Tensor, " d_model"],
) -> Float[Tensor, "component batch pos"]:
    """Each (already normalised) component's contribution to the logit along `direction`."""
    return normalised @ direction


def dla(
    model: Any, cache: ActivationCache, direction: Float[Tensor, " d_model"]
) -> tuple[Float[Tensor, "component batch pos"], list[str]]:
    """Decompose the final residual, apply the frozen final norm, project on `direction`.
    The terms sum to the model's logit along `direction` minus the unembedding bias."""
    with torch.no_grad():
        stack, labels = residual_components(model, cache)
        normed, labels = apply_final_norm_to_stack(model, cache, stack, labels)
        return direct_logit_attribution(normed, direction), labels


def head_dla_grid(
    attributions: Float[Tensor, " component"], labels: list[str], n_layers: int, n_heads: int
) -> Float[Tensor, "layer head"]:
    """The per-head entries of a 1-D attribution (one batch/position) as a `[layer head]` grid."""
    index = {name: i for i, name in enumerate(labels)}
    idx = torch.tensor([index[f"L{i}H{h}"] for i in range(n_layers) for h in range(n_heads)])
    return attributions[idx].reshape(n_layers, n_heads)


def layer_dla(attributions: Float[Tensor, " component"], labels: list[str]) -> dict[str, float]:
    """Sum a 1-D attribution per coarse component: embeddings, each layer's attention, each MLP."""
    out: dict[str, float] = {}
    for value, name in zip(attributions.tolist(), labels, strict=True):
        if name.startswith("L") and "H" in name.split()[0]:
            key = name.split("H")[0] + " attn"
        elif name.endswith("attn bias"):
            key = name.split()[0] + " attn"
        else:
            key = name
        out[key] = out.get(key, 0.0) + value
    return out
