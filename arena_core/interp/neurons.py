"""MLP neurons: streaming max-activating examples, activation statistics, direct logit effects
and ablation effects (day 38; reused by the SAE feature days 45–48).

A "neuron" is one coordinate of the MLP's hidden activation, the hook `blocks.{l}.mlp.hook_post`:
- GPT-2 (GELU MLP): `post = gelu(x @ W_in + b_in)`, so the neuron fires when its pre-activation
  `mlp.hook_pre` is positive;
- Llama / SmolLM2 (SwiGLU, Shazeer 2020): `post = silu(x @ W_gate) * (x @ W_in)`. It is a product
  of a gate and a linear branch, so it can be large and *negative*; "max-activating" means the
  largest signed value (`largest=False` looks at the most negative end instead).
Its output is `post[n] * W_out[n]`, a fixed direction in the residual stream scaled by the
activation, which is why a neuron's effect on the logits can be read off its weights.

Method: find the dataset examples where a neuron fires hardest (Olah et al. 2017, "Feature
Visualization"; Geva et al. 2021, "Transformer Feed-Forward Layers Are Key-Value Memories";
Gurnee et al. 2023, "Finding Neurons in a Haystack"), look at the tokens it pushes up through the
unembedding (the value vector's direct path), test a hypothesis on hand-made inputs, and ablate it.

Works with our `CausalLM` (GPT2 / Llama) and with a TransformerLens `HookedTransformer`.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.interp.ablation import neuron_ablation_hooks, next_token_loss
from arena_core.utils.progress import progress


@dataclass
class NeuronStats:
    """Top-k examples and statistics of every neuron of some layers over a corpus of
    `n_docs x n_pos` tokens. Row `i` of every tensor belongs to layer `layers[i]`."""

    layers: list[int]
    values: Float[Tensor, "layer neuron k"]  # top activations, best first
    doc: Int[Tensor, "layer neuron k"]  # which row of the corpus
    pos: Int[Tensor, "layer neuron k"]  # which position in that row
    mean: Float[Tensor, "layer neuron"]  # mean activation over the counted positions
    std: Float[Tensor, "layer neuron"]
    frac_active: Float[Tensor, "layer neuron"]  # fraction of positions with act > threshold
    threshold: float
    n_positions: int  # positions counted (after `skip_positions`)

    def row(self, layer: int) -> int:
        return self.layers.index(layer)


def _check_mlp(model) -> None:
    if getattr(model.cfg, "attn_only", False):
        raise ValueError("an attention-only model has no MLP neurons")


def max_activating_examples(
    model,
    tokens: Int[Tensor, "doc pos"],
    layers: int | list[int],
    k: int = 10,
    batch_size: int = 16,
    threshold: float = 0.0,
    skip_positions: int = 0,
    largest: bool = True,
    show_progress: bool = True,
) -> NeuronStats:
    """One pass over `tokens`, keeping for every neuron of `layers` its `k` largest activations
    (or most negative, `largest=False`) with their (doc, pos), plus mean / std / fraction above
    `threshold`. Memory is O(layers x d_mlp x (k + batch x pos)): each batch's own top-k is merged
    with the running top-k, the corpus' activations are never stored.

    `skip_positions`: leave out the first positions of every row (in Llama-family models the first
    token is an "attention sink" with huge, meaningless activations)."""
    _check_mlp(model)
    layers = [layers] if isinstance(layers, int) else list(layers)
    names = [f"blocks.{layer}.mlp.hook_post" for layer in layers]
    n_docs, n_pos = tokens.shape
    if not 0 <= skip_positions < n_pos:
        raise ValueError(f"skip_positions must be in [0, {n_pos}), not {skip_positions}")
    sign = 1.0 if largest else -1.0
    n_layers, d_mlp = len(layers), model.cfg.d_mlp
    dev, dtype = tokens.device, next(model.parameters()).dtype
    best = torch.zeros((n_layers, d_mlp, 0), dtype=dtype, device=dev)
    best_idx = torch.zeros((n_layers, d_mlp, 0), dtype=torch.long, device=dev)
    # float64 sums: millions of positions would lose the mean's last digits in fp32
    total = torch.zeros(n_layers, d_mlp, dtype=torch.float64, device=dev)
    total_sq = torch.zeros_like(total)
    active = torch.zeros_like(total)
    starts = range(0, n_docs, batch_size)
    bar = progress(starts, desc="neuron activations", disable=not show_progress or None)
    for start in bar:
        batch = tokens[start : start + batch_size]
        with torch.no_grad():
            _, cache = model.run_with_cache(batch, names_filter=lambda n: n in names)
        # [layer batch pos d_mlp] -> [layer d_mlp batch*pos]: one row per neuron
        acts = torch.stack([cache[name][:, skip_positions:] for name in names])
        acts = acts.flatten(1, 2).transpose(1, 2)
        total += acts.sum(-1, dtype=torch.float64)
        total_sq += acts.double().pow(2).sum(-1)
        active += (acts > threshold).sum(-1)
        top, idx = (sign * acts).topk(min(k, acts.shape[-1]), dim=-1)
        # local flat index -> global flat index (doc * n_pos + pos) into the corpus
        width = n_pos - skip_positions
        doc = start + idx // width
        idx = doc * n_pos + skip_positions + idx % width
        merged = torch.cat([best, top], dim=-1)
        merged_idx = torch.cat([best_idx, idx], dim=-1)
        best, keep = merged.topk(min(k, merged.shape[-1]), dim=-1)
        best_idx = merged_idx.gather(-1, keep)
    n = n_docs * (n_pos - skip_positions)
    mean = total / n
    std = (total_sq / n - mean.pow(2)).clamp(min=0).sqrt()
    return NeuronStats(
        layers=layers,
        values=sign * best,
        doc=best_idx // n_pos,
        pos=best_idx % n_pos,
        mean=mean.float(),
        std=std.float(),
        frac_active=(active / n).float(),
        threshold=threshold,
        n_positions=n,
    )


def context_windows(
    tokens: Int[Tensor, "doc pos"],
    doc: Int[Tensor, " k"],
    pos: Int[Tensor, " k"],
    before: int = 10,
    after: int = 3,
) -> tuple[Int[Tensor, "k window"], Int[Tensor, " k"]]:
    """Token ids around each (doc, pos): `before` tokens before, `after` after, clipped to the
    row (clipped slots hold -1). Also returns where the centre token sits in its window (always
    `before`, returned for clarity when slicing labels)."""
    offsets = torch.arange(-before, after + 1, device=tokens.device)
    cols = pos[:, None].to(tokens.device) + offsets  # [k window]
    valid = (cols >= 0) & (cols < tokens.shape[1])
    windows = tokens[doc[:, None].to(tokens.device), cols.clamp(0, tokens.shape[1] - 1)]
    windows = torch.where(valid, windows, torch.full_like(windows, -1))
    return windows, torch.full_like(doc, before)


def neuron_activations(
    model, tokens: Int[Tensor, "batch pos"], layer: int, neurons: int | list[int]
) -> Float[Tensor, "batch pos ..."]:
    """`mlp.hook_post` of the given neuron(s) on `tokens` (one neuron: `[batch pos]`)."""
    _check_mlp(model)
    name = f"blocks.{layer}.mlp.hook_post"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name)
    return cache[name][..., neurons]


def neuron_logit_effects(
    model, layer: int, neurons: int | list[int] | None = None
) -> Float[Tensor, "neuron d_vocab"]:
    """Direct effect on the logits of one unit of each neuron's activation: its output direction
    `W_out[layer][n]` through the final norm's linear part into the unembedding,

        RMSNorm (Llama):   (W_out[n] * w_final) @ W_U
        LayerNorm (GPT-2): ((W_out[n] - mean(W_out[n])) * w_final) @ W_U

    Approximation: the final norm divides by a per-position scale `sqrt(mean(x^2) + eps)` that
    depends on the whole residual stream; it is left out (the same for every token, so the
    ranking of promoted / suppressed tokens is unaffected; magnitudes are per unit of normalised
    residual). The norm's bias and `b_U` do not depend on the neuron and are left out too.
    Paths through later layers (attention, MLPs) are ignored: this is the direct path only."""
    _check_mlp(model)
    W_out = model.blocks[layer].mlp.W_out  # [d_mlp d_model] in ours and in TransformerLens
    direction = W_out if neurons is None else W_out[torch.as_tensor(neurons).reshape(-1)]
    ln = model.ln_final
    if hasattr(ln, "b"):  # LayerNorm: its centring is linear, so it applies exactly
        direction = direction - direction.mean(-1, keepdim=True)
    if getattr(ln, "w", None) is not None:
        direction = direction * ln.w
    with torch.no_grad():
        return direction @ model.unembed.W_U


def top_tokens(
    effects: Float[Tensor, " d_vocab"], k: int = 10
) -> dict[str, list[tuple[int, float]]]:
    """The `k` most promoted and most suppressed token ids of one neuron's logit effects."""
    up = effects.topk(k)
    down = (-effects).topk(k)
    return {
        "promoted": list(zip(up.indices.tolist(), up.values.tolist(), strict=True)),
        "suppressed": list(zip(down.indices.tolist(), (-down.values).tolist(), strict=True)),
    }


def neuron_ablation_effect(
    model,
    tokens: Int[Tensor, "batch pos"],
    layer: int,
    neuron: int,
    fire_threshold: float,
    mean: float | None = None,
    token_id: int | None = None,
) -> dict[str, float | int]:
    """Next-token loss change when neuron (layer, neuron) is zero-ablated (`mean=None`) or set to
    `mean` everywhere, split into the positions where the clean activation exceeds
    `fire_threshold` ("fire") and the rest. Position t is counted by the activation at t, which is
    where the neuron can change the prediction of token t+1. With `token_id`, also the change of
    that token's log-prob (e.g. the neuron's most promoted token) at the firing positions.

    Uses `neuron_ablation_hooks` (ablation.py) for the ablated run."""
    _check_mlp(model)
    name = f"blocks.{layer}.mlp.hook_post"
    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name)
        acts = cache[name][:, :-1, neuron]  # positions that predict a next token
        means = None
        if mean is not None:
            # float64: the hook casts it to the activations' dtype (0.3 in fp32 != 0.3 in fp64)
            means = {layer: torch.full((model.cfg.d_mlp,), float(mean), dtype=torch.float64)}
        hooks = neuron_ablation_hooks([(layer, neuron)], means)
        ablated_logits = model.run_with_hooks(tokens, fwd_hooks=hooks)
    clean = next_token_loss(clean_logits, tokens, per_token=True)
    ablated = next_token_loss(ablated_logits, tokens, per_token=True)
    fire = acts > fire_threshold
    out = {"n_fire": int(fire.sum()), "n_other": int((~fire).sum())}
    for key, where in (("fire", fire), ("other", ~fire)):
        n = max(int(where.sum()), 1)  # an empty group reports 0, not NaN
        out[f"loss_clean_{key}"] = float(clean[where].sum() / n)
        out[f"loss_ablated_{key}"] = float(ablated[where].sum() / n)
        out[f"delta_loss_{key}"] = out[f"loss_ablated_{key}"] - out[f"loss_clean_{key}"]
    if token_id is not None:
        lp_clean = clean_logits[:, :-1].double().log_softmax(-1)[..., token_id]
        lp_ablated = ablated_logits[:, :-1].double().log_softmax(-1)[..., token_id]
        n = max(int(fire.sum()), 1)
        out["delta_logprob_token_fire"] = float((lp_ablated - lp_clean)[fire].sum() / n)
        out["delta_logprob_token_other"] = float(
            (lp_ablated - lp_clean)[~fire].sum() / max(int((~fire).sum()), 1)
        )
    return out


def next_token_agreement(
    model, stats: NeuronStats, tokens: Int[Tensor, "doc pos"]
) -> Float[Tensor, "layer neuron"]:
    """A shortlisting score: for each neuron, the z-score (over the vocabulary) of its direct
    logit effect on the token that really follows each of its top-k examples, averaged over the
    examples (a top example in the last column has no next token and is left out). High values
    mark neurons whose output directly predicts what comes next where they fire hardest."""
    n_pos = tokens.shape[1]
    has_next = (stats.pos + 1 < n_pos).to(stats.values.dtype)
    nxt = tokens[stats.doc, (stats.pos + 1).clamp(max=n_pos - 1)]  # [layer neuron k]
    out = torch.zeros(stats.values.shape[:2], dtype=stats.values.dtype)
    for row, layer in enumerate(stats.layers):  # one [d_mlp d_vocab] matrix at a time
        eff = neuron_logit_effects(model, layer)
        z = (eff - eff.mean(-1, keepdim=True)) / eff.std(-1, keepdim=True)
        picked = z.gather(-1, nxt[row].to(z.device)).to(out.dtype).cpu()
        out[row] = (picked * has_next[row]).sum(-1) / has_next[row].sum(-1).clamp(min=1)
    return out


__all__ = [
    "NeuronStats",
    "context_windows",
    "max_activating_examples",
    "neuron_ablation_effect",
    "neuron_activations",
    "neuron_logit_effects",
    "next_token_agreement",
    "top_tokens",
]
