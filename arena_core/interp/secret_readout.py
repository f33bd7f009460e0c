"""Reading a hidden secret: score a fixed list of candidate words from activations or from text.

A model fine-tuned to play a taboo game (day 50) knows a secret word it never says. To ask
"which secret does this model hold?" we score each of a short list of candidate words and take
the best one; with K candidates, a reader that knows nothing is right 1/K of the time.

- Logit lens (white box): the residual `r_l` at a position, read through the final norm and
  the unembedding, gives a next-token distribution `p_l = softmax(Norm(r_l) W_U + b_U)`. A word
  is usually several token variants (" moon", "moon", " Moon", "Moon"); its score is the log of
  the summed probability of the *first token* of each variant:

      score_l(w) = log sum_{v in variants(w)} p_l(first_token(v))

  `token_rank` gives the rank (0 = top) of the word's best variant in the whole vocabulary.
- Text (black box, or a Patchscope decode): count how many of the texts mention each candidate
  (`arena_core.data.taboo.mentions_secret`); the top candidate is the most-mentioned one, and
  none when no candidate is mentioned at all.
"""

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.data.taboo import mentions_secret
from arena_core.errors import UserError
from arena_core.interp.logit_lens import apply_final_norm_recomputed, unembed_params


class SecretReadoutError(UserError, ValueError):
    """No candidates, an empty variant list, or mismatched shapes."""


def word_variants(word: str) -> list[str]:
    """The spellings a tokenizer sees for `word` after a space or at the start, in two cases."""
    if not word or not word.strip():
        raise SecretReadoutError("a candidate word must be a non-empty string")
    w = word.strip()
    forms = [w.lower(), w.capitalize()]
    return list(dict.fromkeys(v for f in forms for v in (" " + f, f)))


def candidate_token_ids(tokenizer: Any, words: Sequence[str]) -> list[list[int]]:
    """For each word, the distinct first token ids of its variants."""
    if not words:
        raise SecretReadoutError("no candidate words")
    out = []
    for w in words:
        ids = [tokenizer(v, add_special_tokens=False).input_ids[0] for v in word_variants(w)]
        out.append(list(dict.fromkeys(int(i) for i in ids)))
    return out


@torch.no_grad()
def lens_log_probs(model: Any, resid: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_vocab"]:
    """Logit-lens log-probs of residual vectors (final norm with each vector's own scale)."""
    W_U, b_U = unembed_params(model)
    logits = apply_final_norm_recomputed(model, resid.to(W_U.dtype)) @ W_U
    if b_U is not None:
        logits = logits + b_U
    return logits.float().log_softmax(-1)


def candidate_scores(
    log_probs: Float[Tensor, "... d_vocab"], ids: Sequence[Sequence[int]]
) -> Float[Tensor, "... n_words"]:
    """log of the summed probability of each word's variant tokens (a repeated id counts once)."""
    if not ids or any(len(v) == 0 for v in ids):
        raise SecretReadoutError("every candidate needs at least one token id")
    return torch.stack([log_probs[..., list(dict.fromkeys(v))].logsumexp(-1) for v in ids], dim=-1)


def token_rank(log_probs: Float[Tensor, "... d_vocab"], ids: Sequence[int]) -> Int[Tensor, "..."]:
    """Rank (0 = top) in the whole vocabulary of the best of `ids` (ties in its favour)."""
    if len(ids) == 0:
        raise SecretReadoutError("no token ids to rank")
    best = log_probs[..., list(ids)].max(-1).values
    return (log_probs > best[..., None]).sum(-1)


def mention_counts(texts: Sequence[str], words: Sequence[str]) -> Int[Tensor, " n_words"]:
    """How many of `texts` mention each word (alone or inside another word)."""
    if not words:
        raise SecretReadoutError("no candidate words")
    return torch.tensor([sum(mentions_secret(t, w) for t in texts) for w in words])


def top_candidate(counts: Tensor) -> int:
    """Index of the largest count; -1 when every count is zero (nothing was said)."""
    if counts.ndim != 1 or counts.numel() == 0:
        raise SecretReadoutError(
            f"expected a non-empty 1-D tensor, got shape {tuple(counts.shape)}"
        )
    return -1 if float(counts.max()) <= 0 else int(counts.argmax())
