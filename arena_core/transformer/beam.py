"""Beam search: keep the `num_beams` most likely partial continuations instead of one.

Greedy decoding commits to the single most likely token at each step; beam search keeps a set of
B partial sequences ("beams"), extends each by every token, and keeps the B best extensions by total
log-probability. A sequence that emits a stop token is *finished* and goes to a list of hypotheses,
ranked by the length-normalised score (Wu et al. 2016, https://arxiv.org/abs/1609.08144, use a
variant of the same idea):

    score(y) = sum_t log p(y_t | y_<t, prompt) / len(y) ** alpha

alpha = 0 ranks by total log-probability (favouring short outputs), alpha = 1 by the mean log-prob
per token. Optional constraint: no n-gram of size `no_repeat_ngram_size` may occur twice in
prompt + output (Paulus et al. 2017, https://arxiv.org/abs/1705.04304).

Stopping: with `early_stopping=True` the search stops as soon as `num_return` hypotheses are
finished. Otherwise it runs until no live beam can still beat the n-th best finished hypothesis;
the bound used is exact (log-probs are <= 0, so a live beam's total can only fall, and its best
possible normalised score is its total divided by the largest (alpha >= 0) or smallest (alpha < 0)
length it could reach). With B large enough to never prune, the result then equals exhaustive
search — which is how `tests/transformer/test_beam.py` checks it.

The model is called as `model(tokens) -> logits [beams, pos, d_vocab]` on the full sequences, or,
with a KV cache, as `model(new_tokens, kv_cache=cache)` (the cache's rows follow the beams through
`cache.select`). One prompt at a time keeps this file short. Used by day 33.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class Hypothesis:
    """One finished beam: its generated tokens, total log-prob and length-normalised score."""

    tokens: tuple[int, ...]
    logprob: float
    score: float


def normalised_score(logprob: float, length: int, alpha: float) -> float:
    """`logprob / length ** alpha` (the ranking used for finished hypotheses)."""
    return logprob / (max(length, 1) ** alpha)


def banned_ngram_tokens(sequence: Sequence[int], n: int) -> set[int]:
    """Tokens that would complete an n-gram already present in `sequence`."""
    if n <= 0 or len(sequence) < n:
        return set()
    prefix = tuple(sequence[len(sequence) - n + 1 :]) if n > 1 else ()
    banned = set()
    for start in range(len(sequence) - n + 1):
        if tuple(sequence[start : start + n - 1]) == prefix:
            banned.add(sequence[start + n - 1])
    return banned


def _best_possible(logprob: float, length: int, max_length: int, alpha: float) -> float:
    """Upper bound on the normalised score of any finished extension of a live beam."""
    reachable = max_length if alpha >= 0 else length + 1
    return normalised_score(logprob, reachable, alpha)


@torch.inference_mode()
def beam_search(
    model: Callable[[Tensor], Tensor],
    prompt: Sequence[int],
    num_beams: int,
    max_new_tokens: int,
    num_return: int = 1,
    length_penalty: float = 1.0,
    no_repeat_ngram_size: int = 0,
    early_stopping: bool = False,
    stop_tokens: Sequence[int] = (),
    device: torch.device | str | None = None,
    make_cache: Callable[[int], Any] | None = None,
) -> list[Hypothesis]:
    """The `num_return` best hypotheses (best first) found by beam search from one prompt.

    `make_cache(batch)`: when given (e.g. `generate.default_cache_factory(model)`), the prompt is
    run once into a KV cache, the cache rows are re-ordered with `cache.select(parents)` after each
    step, and only the newest token of each beam is fed; without it every beam is recomputed.
    """
    if num_return > num_beams:
        raise ValueError("num_return must be <= num_beams")
    if len(prompt) == 0:
        raise ValueError("the prompt needs at least one token")
    if device is None:
        param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = param.device if param is not None else torch.device("cpu")
    stops = set(stop_tokens)
    prompt = list(prompt)
    beams: list[tuple[list[int], float]] = [([], 0.0)]  # (generated tokens, total log-prob)
    parents: list[int] = [0]  # which previous beam each beam extends (to re-order the cache)
    cache = make_cache(1) if make_cache is not None else None
    finished: list[Hypothesis] = []

    def nth_best() -> float:
        ranked = sorted((h.score for h in finished), reverse=True)
        return ranked[num_return - 1] if len(ranked) >= num_return else float("-inf")

    for step in range(max_new_tokens):
        if cache is None:
            rows = torch.tensor([prompt + g for g, _ in beams], dtype=torch.long, device=device)
            logits = model(rows)
        elif step == 0:
            logits = model(torch.tensor([prompt], device=device), kv_cache=cache)
        else:
            cache = cache.select(torch.tensor(parents, device=device))
            last_tokens = torch.tensor([[g[-1]] for g, _ in beams], device=device)
            logits = model(last_tokens, kv_cache=cache)
        logprobs = logits[:, -1].double().log_softmax(dim=-1)
        for i, (gen, _) in enumerate(beams):
            banned = banned_ngram_tokens(prompt + gen, no_repeat_ngram_size)
            if banned:
                logprobs[i, list(banned)] = float("-inf")
        totals = (
            logprobs
            + torch.tensor([lp for _, lp in beams], dtype=torch.float64, device=device)[:, None]
        )
        # Each beam has at most |stops| stop-token extensions, so the best B * (1 + |stops|)
        # candidates always hold B live ones when B exist (HuggingFace takes 2B).
        n_candidates = min(totals.numel(), num_beams + max(len(stops), 1) * num_beams)
        values, flat = totals.flatten().topk(n_candidates)
        last = step == max_new_tokens - 1
        new_beams: list[tuple[list[int], float]] = []
        parents = []
        for value, index in zip(values.tolist(), flat.tolist(), strict=True):
            if value == float("-inf"):
                break
            beam, token = divmod(index, totals.shape[1])
            seq = beams[beam][0] + [token]
            if token in stops or last:
                finished.append(
                    Hypothesis(tuple(seq), value, normalised_score(value, len(seq), length_penalty))
                )
            elif len(new_beams) < num_beams:
                new_beams.append((seq, value))
                parents.append(beam)
        beams = new_beams
        if not beams:
            break
        if early_stopping and len(finished) >= num_return:
            break
        best_live = max(
            _best_possible(lp, len(g), max_new_tokens, length_penalty) for g, lp in beams
        )
        if best_live < nth_best():
            break
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:num_return]
