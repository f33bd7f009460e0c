"""Reading a secret through SAE latents: which words do the latents an organism turns on stand for?

A sparse autoencoder splits a residual vector into latents a_j >= 0, each with a decoder
direction d_j (`arena_core.sae`). To ask "which of K candidate words is the secret?" (days 50-51,
after Cywiński et al. 2025, https://arxiv.org/abs/2505.14352) each latent is first given a
meaning among the candidates: its decoder direction through the logit lens,

    q_j(w) = p(w | candidates) of Norm(d_j) W_U       (`latent_word_probs`)

Then the latents vote. With latent activations averaged over the tokens of interest, the k
latents with the largest weight u_j each add u_j q_j(w) to word w (`latent_vote`):

    score(w) = sum_{j in top-k(u)} u_j q_j(w)

u is either the activations themselves (what the text and model light up), or the organism's
activations minus the base model's at the same tokens: only what the fine-tuning added. A vote
with no positive weight (no latent turned on more) picks nothing.

Used by day 50 (the SAE-latent read-out of the taboo organisms).
"""

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.interp.secret_maps import candidate_logits
from arena_core.interp.secret_readout import SecretReadoutError


@torch.no_grad()
def latent_word_probs(
    model: Any, W_dec: Float[Tensor, "d_sae d_model"], ids: Sequence[Sequence[int]]
) -> Float[Tensor, "d_sae n_words"]:
    """q_j(w): each decoder direction's logit-lens distribution over the candidate words."""
    if W_dec.dim() != 2:
        raise SecretReadoutError(f"W_dec must be [d_sae, d_model], got {tuple(W_dec.shape)}")
    return candidate_logits(model, W_dec.detach(), ids).softmax(-1)


def latent_vote(
    weights: Float[Tensor, " d_sae"], word_probs: Float[Tensor, "d_sae n_words"], k: int = 10
) -> Float[Tensor, " n_words"]:
    """sum over the k largest positive weights u_j of u_j q_j(w); all zeros when none is > 0."""
    if weights.dim() != 1 or weights.shape[0] != word_probs.shape[0]:
        raise SecretReadoutError(
            f"weights {tuple(weights.shape)} do not match word_probs {tuple(word_probs.shape)}"
        )
    if k < 1:
        raise SecretReadoutError(f"k must be >= 1, got {k}")
    top = weights.topk(min(k, weights.shape[0]))
    u = top.values.clamp(min=0).to(word_probs.dtype)
    return (u[:, None] * word_probs[top.indices]).sum(0)
