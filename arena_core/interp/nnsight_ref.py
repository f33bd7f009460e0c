"""Activation addition and function vectors written with nnsight on the HuggingFace model (day 44).

nnsight (Fiotto-Kaufmann et al. 2024, https://nnsight.net) wraps an unmodified torch module; inside
`with model.trace(...)` one reads or edits any submodule's `.input` / `.output`, and the edits run
in the real forward pass. It is the tool of ARENA 1.3.2, and here it is the *independent* second
implementation of our interventions: HF's `LlamaForCausalLM` / `Qwen2ForCausalLM` has no hook
points, no TransformerLens names and none of our code, so agreement checks our hooks, our head
split and our padding.

The two interventions, in HF module names:

- steering (Turner et al. 2023): `model.layers[L].output` is the residual stream after layer L
  (ours: `blocks.{L}.hook_resid_post`); add c·v to it at every position or at the last one.
- function vectors (Todd et al. 2023, "Function Vectors in Large Language Models"): the input
  of `self_attn.o_proj` is the concatenation of the heads' z = pattern @ V,
  `[batch pos n_heads·d_head]`; head h's share of the attention output is z_h @ W_O[h], with
  W_O[h] = `o_proj.weight[:, h·d_head : (h+1)·d_head]ᵀ`. The FV is Σ over chosen (layer, head)
  of the mean over prompts of that output at the last token; it is then added to
  `model.layers[L].output` at the last position.

Prompts are left-padded with an attention mask; HF's Llama numbers positions 0..pos-1 whatever the
mask, so explicit `position_ids` (counting real tokens only) are passed, as ours and TL derive them.
nnsight is imported lazily and after beartype (importing it first breaks a later beartype import).
"""

from collections.abc import Sequence
from typing import Any

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.probes.activations import pad_batch


def nnsight_wrap(hf_model: torch.nn.Module) -> Any:
    """`nnsight.NNsight` around a HF causal LM (no tokenizer needed: we feed token ids)."""
    import beartype  # noqa: F401  (before nnsight, which patches `object`)
    from nnsight import NNsight

    return NNsight(hf_model.eval())


def padded_inputs(rows: Sequence[Sequence[int]], pad_id: int) -> dict[str, Tensor]:
    """input_ids, attention_mask and position_ids of left-padded rows, for a HF forward."""
    tokens, mask = pad_batch(rows, pad_id, "left")
    return {
        "input_ids": tokens,
        "attention_mask": mask,
        "position_ids": (mask.cumsum(dim=1) - 1).clamp(min=0),
    }


def nnsight_steered_logits(
    nn_model: Any,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    layer: int,
    direction: Float[Tensor, " d_model"],
    scale: float,
    last_only: bool = False,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with `scale · direction` added to `model.layers[layer].output` (all positions, or
    only the last column, which is every row's last real token under left padding)."""
    inputs = padded_inputs(rows, pad_id)
    layers = nn_model.model.layers
    delta = scale * direction
    with torch.no_grad(), nn_model.trace(**inputs):
        # a decoder layer returns the residual stream tensor itself (transformers >= 4.56)
        if last_only:
            layers[layer].output[:, -1] += delta.to(layers[layer].output.dtype)
        else:
            layers[layer].output[:] += delta.to(layers[layer].output.dtype)
        logits = nn_model.lm_head.output.save()
    return logits


def nnsight_head_outputs(
    nn_model: Any,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> Float[Tensor, "n layer head d_model"]:
    """z_h @ W_O[h] at each prompt's last token for every head of `layers` (default all)."""
    hf_layers = nn_model.model.layers
    cfg = nn_model.config
    n_heads = cfg.num_attention_heads
    d_head = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads
    layers = list(range(len(hf_layers))) if layers is None else list(layers)
    out = []
    for b0 in range(0, len(rows), batch_size):
        inputs = padded_inputs(rows[b0 : b0 + batch_size], pad_id)
        saved = []
        with torch.no_grad(), nn_model.trace(**inputs) as tracer:
            for layer in layers:  # in execution order: nnsight reads the forward as it runs
                saved.append(hf_layers[layer].self_attn.o_proj.input[:, -1].save())
            tracer.stop()
        per_layer = []
        for layer, z in zip(layers, saved, strict=True):
            w = hf_layers[layer].self_attn.o_proj.weight.detach()  # [d_model, n_heads·d_head]
            z_h = einops.rearrange(z, "b (h e) -> b h e", h=n_heads, e=d_head)
            w_h = einops.rearrange(w, "d (h e) -> h e d", h=n_heads, e=d_head)
            per_layer.append(einops.einsum(z_h, w_h, "b h e, h e d -> b h d"))
        out.append(torch.stack(per_layer, dim=1))
    return torch.cat(out)


def nnsight_function_vector(
    nn_model: Any,
    rows: Sequence[Sequence[int]],
    pad_id: int,
    heads: Sequence[tuple[int, int]],
    batch_size: int = 16,
) -> Float[Tensor, " d_model"]:
    """Σ over (layer, head) in `heads` of the mean over prompts of that head's output."""
    layers = sorted({layer for layer, _ in heads})
    outs = nnsight_head_outputs(nn_model, rows, pad_id, layers, batch_size)
    mean = outs.mean(dim=0)  # [layer head d_model]
    index = {layer: i for i, layer in enumerate(layers)}
    return torch.stack([mean[index[layer], h] for layer, h in heads]).sum(dim=0)
