"""The logit lens: what would the model predict if it stopped after layer l? (days 35, 38, 41).

nostalgebraist (2020), "interpreting GPT: the logit lens"
(https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens); see also
Belrose et al. (2023), "Eliciting Latent Predictions with the Tuned Lens" (arXiv:2303.08112).

For each residual stream `r_l` (the input of every block, `resid_pre`, plus the final
`resid_post`) we compute `logits_l = FinalNorm(r_l) @ W_U + b_U`. The norm's scale is
*recomputed from r_l itself*: the cached final scale belongs to the last residual, whose norm
grows by an order of magnitude over the layers, so reusing it would shrink early layers' logits
towards uniform. The last entry is then exactly the model's own logits.

Works on our `CausalLM` (GPT-2 LayerNorm, Llama RMSNorm) and on a TransformerLens
`HookedTransformer` given its cache (`arena_core.interp.cache.run_with_cache`).
"""

from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.interp.cache import is_transformer_lens
from arena_core.transformer.hooks import ActivationCache


@dataclass
class FinalNorm:
    """The final norm's parameters: `kind` is "LN" (centre, scale, w, b) or "RMS" (scale, w)."""

    kind: str
    w: Tensor
    b: Tensor | None
    eps: float


def final_norm(model: Any) -> FinalNorm:
    """The final norm of our model or of a TL model (raises for norms it cannot apply)."""
    ln = model.ln_final
    if is_transformer_lens(model):
        kind, eps = model.cfg.normalization_type, model.cfg.eps
        if kind not in ("LN", "RMS"):  # LNPre/RMSPre: weights folded elsewhere, lens would lie
            raise ValueError(f"unsupported TL normalization_type {kind!r}; load without fold_ln")
    else:
        kind, eps = {"LayerNorm": "LN", "RMSNorm": "RMS"}.get(type(ln).__name__), ln.eps
        if kind is None:
            raise ValueError(f"unsupported final norm {type(ln).__name__}")
    return FinalNorm(kind, ln.w, getattr(ln, "b", None) if kind == "LN" else None, eps)


def unembed_params(model: Any) -> tuple[Float[Tensor, "d_model d_vocab"], Tensor | None]:
    """`(W_U, b_U)`; `b_U` is None when the model has no unembedding bias."""
    if is_transformer_lens(model):
        return model.W_U, model.b_U
    return model.unembed.W_U, model.unembed.b_U


def apply_final_norm_recomputed(
    model: Any, resid: Float[Tensor, "... d_model"]
) -> Float[Tensor, "... d_model"]:
    """The final norm applied to each residual vector with *its own* scale (logit lens)."""
    norm = final_norm(model)
    if norm.kind == "LN":
        resid = resid - resid.mean(-1, keepdim=True)
    scale = (resid.pow(2).mean(-1, keepdim=True) + norm.eps).sqrt()
    out = resid / scale * norm.w
    return out + norm.b if norm.b is not None else out


def lens_residuals(
    cache: ActivationCache, n_layers: int
) -> tuple[Float[Tensor, "n_layers_plus_1 batch pos d_model"], list[str]]:
    """`resid_pre` of every layer and the final `resid_post`, stacked, with labels."""
    stack = [cache["resid_pre", layer] for layer in range(n_layers)]
    stack.append(cache["resid_post", n_layers - 1])
    labels = [f"L{layer}" for layer in range(n_layers)] + ["final"]
    return torch.stack(stack), labels


@dataclass
class LensResult:
    """Logit-lens output for one sequence: index 0 = embeddings, index -1 = the model's output."""

    logits: Float[Tensor, "layer pos d_vocab"]
    log_probs: Float[Tensor, "layer pos d_vocab"]
    labels: list[str]


def logit_lens(model: Any, cache: ActivationCache, batch: int = 0) -> LensResult:
    """Per-layer next-token logits and log-probs of sequence `batch` of the cached run."""
    n_layers = model.cfg.n_layers
    resid, labels = lens_residuals(cache, n_layers)
    W_U, b_U = unembed_params(model)
    with torch.no_grad():
        logits = apply_final_norm_recomputed(model, resid[:, batch]) @ W_U
        if b_U is not None:
            logits = logits + b_U
    return LensResult(logits, logits.log_softmax(-1), labels)


def top_k_tokens(
    log_probs: Float[Tensor, "*shape d_vocab"], k: int = 5
) -> tuple[Float[Tensor, "*shape k"], Int[Tensor, "*shape k"]]:
    """Probabilities and ids of the k most likely tokens at every (layer, position), or at every
    index of whatever leading shape `log_probs` has."""
    values, ids = log_probs.topk(k, dim=-1)
    return values.exp(), ids


def answer_rank_and_prob(
    log_probs: Float[Tensor, "layer pos d_vocab"], answer: int, pos: int = -1
) -> tuple[Int[Tensor, " layer"], Float[Tensor, " layer"]]:
    """Rank (0 = top) and probability of token `answer` at position `pos`, per layer."""
    lp = log_probs[:, pos]
    target = lp[:, answer]
    rank = (lp > target[:, None]).sum(-1)  # ties count in the answer's favour
    return rank, target.exp()


def kl_to_final(log_probs: Float[Tensor, "layer pos d_vocab"]) -> Float[Tensor, "layer pos"]:
    """KL(final || layer) in nats: how much the layer's guess is still missing of the output."""
    final = log_probs[-1:]
    return (final.exp() * (final - log_probs)).sum(-1)
