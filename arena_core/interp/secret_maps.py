"""Where does a secret live? Candidate read-outs at every layer and aligned position (day 51).

Day 50 read a taboo organism's secret at one place per method. Here every read-out is a map over
(layer, position), so one can see where the word becomes readable and where a read-out makes one
up. All scores compare K candidate words only, so chance is 1/K.

- **Aligned positions.** Prompts differ in length, so positions are counted from the end of the
  prompt: the last `n_prompt` prompt tokens (the chat template's "<|im_end|> \\n <|im_start|>
  assistant \\n", the same in every chat) and then hint tokens 1..`n_hint` of the reply.
  `aligned_positions` gives each row's absolute index per column and which columns exist.
- **Candidate lens.** Among candidates, the logit lens' normaliser cancels:

      p(w | candidates) = sum_{t in T_w} exp(z_t) / sum_{w'} sum_{t in T_w'} exp(z_t),
      z = Norm(r) W_U + b_U

  so only the columns of W_U that belong to candidate tokens are needed (`candidate_logits`): a
  [d_model, ~50] product instead of [d_model, 49k] at every layer and position. The share is
  blind to how likely any candidate is at all; `normalise=True` gives each word's probability
  over the whole vocabulary, so an average over positions weights the confident ones (day 50).
- **Whole-word tokens.** A candidate scored by the first token of each spelling ("d" for
  "dragon", "Cl" for "clock") is credited whenever the model is about to write any word starting
  with that letter. `whole_word_ids` keeps only first tokens that are the whole word.
- **Difference lens.** r_organism - r_base at the same tokens, through the same lens: what the
  fine-tuning added. Where the two are equal (before the first adapted layer) the difference is 0
  and gives no pick (`pick` returns -1 for ties).
- **Patchscope read.** One forward pass of the identity prompt with a vector patched at "?" (the
  prompt before "?" is shared by every row, so its keys and values are computed once): the
  next-token logits scored over candidates (`patchscope_candidate_logits`), plus the greedy token
  of the whole vocabulary, to ask whether the oracle *names* a candidate at all
  (`named_candidate`). A read-out that names a word from a base model, a random vector or another
  organism is confabulating.

Used by day 51; builds on `secret_readout` (day 50) and `patchscopes` (day 49).
"""

import math
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from arena_core.interp.logit_lens import apply_final_norm_recomputed, unembed_params
from arena_core.interp.patchscopes import patch_hook
from arena_core.interp.secret_readout import SecretReadoutError
from arena_core.probes.activations import pad_batch
from arena_core.transformer.kv_cache import KVCache, KVCacheEntry


def whole_word_ids(tokenizer: Any, words: Sequence[str]) -> list[list[int]]:
    """For each word, the single tokens that spell the whole word (" moon", "Moon", ...)."""
    if not words:
        raise SecretReadoutError("no candidate words")
    out = []
    for w in words:
        w = w.strip()
        ids = []
        for v in dict.fromkeys((" " + w.lower(), w.lower(), " " + w.capitalize(), w.capitalize())):
            t = tokenizer(v, add_special_tokens=False).input_ids
            if len(t) == 1:
                ids.append(int(t[0]))
        if not ids:
            raise SecretReadoutError(f"{w!r} is never a single token: no whole-word id")
        out.append(list(dict.fromkeys(ids)))
    return out


def aligned_positions(
    prompt_lens: Sequence[int], total_lens: Sequence[int], n_prompt: int, n_hint: int
) -> tuple[Int[Tensor, "n col"], Bool[Tensor, "n col"]]:
    """Absolute index of each aligned column per row, and whether the row has that column.

    Columns: prompt tokens -n_prompt .. -1 (counted from the prompt's end), then reply tokens
    1 .. n_hint. Missing columns (a short reply) point at index 0 and are marked invalid."""
    if len(prompt_lens) != len(total_lens) or not prompt_lens:
        raise SecretReadoutError("need one prompt length and one total length per row")
    if n_prompt < 1 or n_hint < 0:
        raise SecretReadoutError(f"need n_prompt >= 1 and n_hint >= 0, got {n_prompt}, {n_hint}")
    p = torch.tensor(list(prompt_lens))[:, None]
    t = torch.tensor(list(total_lens))[:, None]
    if bool((p < n_prompt).any()) or bool((t < p).any()):
        raise SecretReadoutError("a prompt is shorter than n_prompt or longer than its row")
    offsets = torch.arange(-n_prompt, n_hint)[None]  # -n_prompt .. n_hint - 1
    idx = p + offsets
    valid = idx < t
    return torch.where(valid, idx, torch.zeros_like(idx)), valid


@torch.no_grad()
def aligned_residuals(
    model: Any, rows: Sequence[Sequence[int]], index: Int[Tensor, "n col"], pad_id: int = 0
) -> Float[Tensor, "layer n col d_model"]:
    """resid_post of every layer at each row's aligned columns, from one right-padded pass (pads
    come after the real tokens, so a causal model needs no mask)."""
    if len(rows) != index.shape[0]:
        raise SecretReadoutError(f"{len(rows)} rows but {index.shape[0]} rows of positions")
    tokens, _ = pad_batch([list(r) for r in rows], pad_id, "right")
    if int(index.max()) >= tokens.shape[1] or int(index.min()) < 0:
        raise SecretReadoutError("an aligned position lies outside its row")
    store: list[Tensor] = []
    rows_i = torch.arange(len(rows))[:, None]

    def keep(x: Tensor, hook: Any = None) -> None:
        store.append(x.detach()[rows_i, index.to(x.device)].cpu())

    hooks = [(f"blocks.{i}.hook_resid_post", keep) for i in range(model.cfg.n_layers)]
    with model.hooks(hooks):
        model(tokens.to(next(model.parameters()).device))
    return torch.stack(store)


def _flat(ids: Sequence[Sequence[int]]) -> tuple[list[int], list[list[int]]]:
    if not ids or any(len(v) == 0 for v in ids):
        raise SecretReadoutError("every candidate needs at least one token id")
    uniq = list(dict.fromkeys(int(i) for v in ids for i in v))
    where = {t: j for j, t in enumerate(uniq)}
    return uniq, [[where[int(i)] for i in dict.fromkeys(v)] for v in ids]


def scores_from_logits(
    logits: Float[Tensor, "... n_ids"], groups: Sequence[Sequence[int]]
) -> Float[Tensor, "... n_words"]:
    """log sum_{t in group} exp(logit_t) for each word: unnormalised candidate log-scores."""
    return torch.stack([logits[..., list(g)].logsumexp(-1) for g in groups], dim=-1)


@torch.no_grad()
def candidate_logits(
    model: Any,
    resid: Float[Tensor, "... d_model"],
    ids: Sequence[Sequence[int]],
    normalise: bool = False,
    chunk: int = 512,
) -> Float[Tensor, "... n_words"]:
    """Logit-lens candidate scores. Unnormalised (up to a constant per vector; log_softmax over
    the last axis gives p(w | candidates)), or with `normalise` the log of each word's summed
    probability over the whole vocabulary (the full unembedding, `chunk` vectors at a time)."""
    uniq, groups = _flat(ids)
    W_U, b_U = unembed_params(model)
    normed = apply_final_norm_recomputed(model, resid.to(W_U.dtype))
    logits = normed @ W_U[:, uniq]
    if b_U is not None:
        logits = logits + b_U[uniq]
    scores = scores_from_logits(logits.float(), groups)
    fill = 0.0
    if normalise:
        flat = normed.reshape(-1, normed.shape[-1])
        parts = []
        for c in flat.split(chunk):
            full = c @ W_U if b_U is None else c @ W_U + b_U
            parts.append(full.float().logsumexp(-1))
        scores = scores - torch.cat(parts).view(*normed.shape[:-1], 1)
        fill = -math.log(W_U.shape[1])
    # a zero vector (e.g. a difference before the first adapted layer) says nothing: give every
    # candidate the same score, not log |group|, which would favour words with more spellings
    zero = resid.abs().amax(-1, keepdim=True) == 0
    return scores.masked_fill(zero.to(scores.device), fill)


def pick(scores: Float[Tensor, "... n_words"], tol: float = 1e-6) -> Int[Tensor, "..."]:
    """argmax over candidates, or -1 where all scores are equal (a zero vector picks nothing)."""
    top = scores.argmax(-1)
    flat = (scores.amax(-1) - scores.amin(-1)) <= tol
    return torch.where(flat, torch.full_like(top, -1), top)


def secret_share(
    scores: Float[Tensor, "... n pos n_words"], valid: Bool[Tensor, "n pos"], secret: int
) -> tuple[Float[Tensor, "... pos"], Float[Tensor, "... pos"]]:
    """Per column: p(secret | candidates) averaged over the rows that have the column, and
    whether the candidate with the largest mean probability is the secret (1.0) or not (0.0)."""
    probs = scores.float().log_softmax(-1)
    probs = probs.exp()
    w = valid.to(probs.dtype)[..., None]  # [n pos 1]
    count = w.sum(-3).clamp(min=1)
    mean = (probs * w).sum(-3) / count  # [... pos K]
    hit = (pick(mean.log()) == secret).to(mean.dtype)
    return mean[..., secret], hit


def _shared_prefix(model: Any, prefix: list[int], batch: int, extra: int) -> KVCache:
    """The KV cache of one prompt prefix, copied for `batch` rows (room for `extra` more)."""
    p = next(model.parameters())
    cache = KVCache.empty(model.cfg, 1, p.device, p.dtype, capacity=len(prefix))
    model(torch.tensor([prefix], device=p.device), kv_cache=cache, last_only=True)
    entries = [KVCacheEntry(e.k.expand(batch, -1, -1, -1), e.v.expand(batch, -1, -1, -1),
                            capacity=len(prefix) + extra) for e in cache.entries]  # fmt: skip
    return KVCache(entries, cache.mask.expand(batch, -1).clone())


@torch.no_grad()
def patchscope_candidate_logits(
    model: torch.nn.Module,
    inspect_ids: Sequence[int],
    placeholder: int,
    hook_name: str,
    vectors: Float[Tensor, "m d"],
    ids: Sequence[Sequence[int]],
    batch_size: int = 64,
) -> tuple[Float[Tensor, "m n_words"], Int[Tensor, " m"], Float[Tensor, " m"]]:
    """Each vector patched at `placeholder` of the inspection prompt: candidate scores of the
    first answer token, the greedy token id over the whole vocabulary, and its probability.

    Every row shares the prompt up to the placeholder, so that prefix runs once and its keys and
    values are reused: each row then costs only the tokens from the placeholder on (the patch
    only changes positions at and after it, by causality)."""
    if vectors.dim() != 2 or vectors.shape[0] == 0:
        raise SecretReadoutError(f"vectors must be [m>0, d_model], got {tuple(vectors.shape)}")
    if batch_size < 1:
        raise SecretReadoutError(f"batch_size must be >= 1, got {batch_size}")
    if not 0 < placeholder < len(inspect_ids):
        raise SecretReadoutError(f"placeholder {placeholder} must be inside the prompt, not first")
    if hook_name not in model.hook_dict:
        raise SecretReadoutError(f"unknown hook {hook_name!r}")
    uniq, groups = _flat(ids)
    prefix, tail = list(inspect_ids[:placeholder]), list(inspect_ids[placeholder:])
    device = next(model.parameters()).device
    scores, top, top_p = [], [], []
    for b0 in range(0, vectors.shape[0], batch_size):
        vec = vectors[b0 : b0 + batch_size]
        m = vec.shape[0]
        cache = _shared_prefix(model, prefix, m, len(tail))
        hook = patch_hook(vec, torch.zeros(m, dtype=torch.long), len(tail), first_only=True)
        with model.hooks([(hook_name, hook)]):
            logits = model(torch.tensor([tail] * m, device=device), kv_cache=cache, last_only=True)
        last = logits[:, -1].float().log_softmax(-1).cpu()
        scores.append(scores_from_logits(last[:, uniq], groups))
        p, t = last.max(-1)
        top.append(t)
        top_p.append(p.exp())
    return torch.cat(scores), torch.cat(top), torch.cat(top_p)


def named_candidate(
    top_tokens: Int[Tensor, " m"], ids: Sequence[Sequence[int]]
) -> Int[Tensor, " m"]:
    """Which candidate the greedy token names (its token is one of the word's ids), else -1."""
    _flat(ids)
    out = torch.full_like(top_tokens, -1)
    for k, v in reversed(list(enumerate(ids))):  # the first listed word wins a shared token
        out[torch.isin(top_tokens, torch.tensor(list(v)))] = k
    return out
