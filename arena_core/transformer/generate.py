"""Batched autoregressive generation with left padding, stop tokens and an optional KV cache.

The model is anything callable as

    logits = model(tokens, attention_mask=mask, kv_cache=cache)   # [batch, pos] -> [batch, pos, V]

where `mask [batch, past + pos]` is 1 for real tokens and 0 for padding, and `cache` (when given)
holds the keys/values of the `past` positions and is extended by the call. Our `GPT2` and `Llama`
(`arena_core.transformer`) follow it, and so can a hand-made toy model in a test.

Prompts of different lengths are **left**-padded: every row's last prompt token then sits in the
last column, so one forward pass gives every row's next-token logits at position -1, and new tokens
are appended in the same column for all rows. The mask keeps padding out of attention (and the model
counts positions from the first real token, so padding does not shift positional embeddings).

Without a cache, each step re-runs the whole sequence: O(n^2) work for n tokens. With a cache, the
first step runs the prompt and stores every layer's keys and values; later steps feed only the one
new token, whose query attends to the cached keys: O(n) work, the speedup measured on day 33.
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.transformer.sampling import (
    SamplingConfig,
    process_logits,
    sample_from_logits,
    token_counts,
)

GREEDY = SamplingConfig(temperature=0.0)


@dataclass
class GenerationOutput:
    """What `generate` returns; `new_tokens[i]` ends with the stop token when one was produced."""

    sequences: Int[Tensor, "batch total"]  # left-padded prompts + generated tokens (pad after stop)
    attention_mask: Int[Tensor, "batch total"]  # 1 on real prompt tokens and generated tokens
    new_tokens: list[list[int]]
    logits: Float[Tensor, "batch steps d_vocab"] | None  # raw last-position logits of every step


def left_pad(
    prompts: Sequence[Sequence[int]], pad_token_id: int, device: torch.device | str = "cpu"
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Stack token lists into `[batch, longest]`, padding on the left; return (tokens, mask)."""
    if len(prompts) == 0 or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token (e.g. a BOS token)")
    width = max(len(p) for p in prompts)
    tokens = torch.full((len(prompts), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        tokens[row, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    return tokens.to(device), mask.to(device)


def default_cache_factory(model: Any, capacity: int = 0) -> Callable[[int], Any]:
    """`KVCache.empty(model.cfg, ...)` (arena_core.transformer) on the model's device and dtype,
    with room preallocated for `capacity` positions."""
    from arena_core.transformer import KVCache

    param = next(model.parameters())

    def make(batch: int) -> Any:
        return KVCache.empty(
            model.cfg, batch=batch, device=param.device, dtype=param.dtype, capacity=capacity
        )

    return make


def accepts_last_only(model: Callable[..., Tensor]) -> bool:
    """Whether the model's forward takes `last_only=True` (ours do; a toy test model may not)."""
    try:
        return "last_only" in inspect.signature(getattr(model, "forward", model)).parameters
    except (TypeError, ValueError):
        return False


@torch.inference_mode()
def generate(
    model: Callable[..., Tensor],
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    sampling: SamplingConfig = GREEDY,
    min_new_tokens: int = 0,
    stop_tokens: Sequence[int] = (),
    pad_token_id: int = 0,
    use_cache: bool = True,
    make_cache: Callable[[int], Any] | None = None,
    generator: torch.Generator | None = None,
    return_logits: bool = False,
    device: torch.device | str | None = None,
) -> GenerationOutput:
    """Generate up to `max_new_tokens` for each prompt (token lists of any lengths), batched.

    A row stops after it emits one of `stop_tokens`, but not before `min_new_tokens` tokens (until
    then stop tokens get logit -inf). Finished rows are fed `pad_token_id` until all rows stop.
    `use_cache=False` recomputes the full sequence every step (the reference path for the cache).
    """
    if max_new_tokens < 0 or min_new_tokens < 0:
        raise ValueError("max_new_tokens and min_new_tokens must be >= 0")
    if device is None:
        param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        device = param.device if param is not None else torch.device("cpu")
    tokens, mask = left_pad(prompts, pad_token_id, device)
    n_ctx = getattr(getattr(model, "cfg", None), "n_ctx", None)
    if n_ctx is not None and tokens.shape[1] + max_new_tokens > n_ctx:
        raise ValueError(
            f"prompt ({tokens.shape[1]} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
            f"model's context of {n_ctx} tokens"
        )
    batch = tokens.shape[0]
    stops = torch.as_tensor(list(stop_tokens), dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    generated_counts: Tensor | None = None
    context_counts: Tensor | None = None
    cache = None
    if use_cache:
        capacity = tokens.shape[1] + max_new_tokens
        cache = (make_cache or default_cache_factory(model, capacity))(batch)
    # Only the last position's logits are needed (both paths); skip the rest when we can.
    extra = {"last_only": True} if accepts_last_only(model) else {}
    step_logits: list[Tensor] = []
    new_tokens: list[list[int]] = [[] for _ in range(batch)]
    next_input = tokens  # the first step feeds the whole (padded) prompt

    for step in range(max_new_tokens):
        if use_cache:
            logits = model(next_input, attention_mask=mask, kv_cache=cache, **extra)[:, -1]
        else:
            logits = model(tokens, attention_mask=mask, **extra)[:, -1]
        if return_logits:
            step_logits.append(logits.float().clone())
        d_vocab = logits.shape[-1]
        if generated_counts is None:
            generated_counts = torch.zeros(batch, d_vocab, dtype=torch.long, device=device)
            if sampling.repetition_penalty != 1.0:
                context_counts = token_counts(tokens, d_vocab, mask)
        logits = process_logits(logits, sampling, generated_counts, context_counts)
        if step < min_new_tokens and stops.numel() > 0:
            logits = logits.index_fill(-1, stops, float("-inf"))
        next_token = sample_from_logits(logits, greedy=sampling.greedy, generator=generator)
        next_token = torch.where(finished, torch.full_like(next_token, pad_token_id), next_token)

        alive = (~finished).long()
        generated_counts.scatter_add_(-1, next_token[:, None], alive[:, None])
        if context_counts is not None:
            context_counts.scatter_add_(-1, next_token[:, None], alive[:, None])
        for row in torch.nonzero(~finished).flatten().tolist():
            new_tokens[row].append(int(next_token[row]))
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        mask = torch.cat([mask, alive[:, None]], dim=1)  # padding after a stop is masked
        next_input = next_token[:, None]
        if stops.numel() > 0:
            finished |= torch.isin(next_token, stops)
            if bool(finished.all()):
                break

    logits_out = torch.stack(step_logits, dim=1) if return_logits and step_logits else None
    return GenerationOutput(tokens, mask, new_tokens, logits_out)
