"""Activations averaged over a span of each prompt, e.g. the assistant's reply in a chat (day 40).

A probe that is meant to catch what a model *does* reads the tokens of its reply, not the
request before it. Each prompt is a token list with a span `[start, end)` of real-token indices;
`extract_span_means` runs the prompts in left-padded batches (the same `pad_batch`, hooks and
early stop as `arena_core.probes.activations.extract_activations`) and returns, per hook, the mean
of the activations over each prompt's span. The prefix still shapes those activations through
attention, as it does when the model generates the reply; to read the reply without it, put the
same reply after a different prefix (`chat_rows` builds prefix + reply token lists).

Used by day 40 (coup probes on synthetic and on-policy replies).
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.probes.activations import (
    ActivationSpecError,
    _hook_widths,
    _run_batch,
    _stop_hook_name,
    pad_batch,
)
from arena_core.utils.progress import progress


def span_mask(
    mask: Int[Tensor, "batch pos"], starts: Int[Tensor, " batch"], ends: Int[Tensor, " batch"]
) -> Int[Tensor, "batch pos"]:
    """1 on the columns of real tokens `start .. end-1` of each row (left or right padding)."""
    first = mask.argmax(dim=1)  # column of the first real token
    cols = torch.arange(mask.shape[1], device=mask.device)[None]
    inside = (cols >= (first + starts)[:, None]) & (cols < (first + ends)[:, None])
    return (inside & mask.bool()).long()


def _check_spans(rows: list[list[int]], spans: Sequence[tuple[int, int]]) -> None:
    if len(rows) == 0:
        raise ActivationSpecError("no prompts given")
    if len(spans) != len(rows):
        raise ActivationSpecError(f"{len(spans)} spans given for {len(rows)} prompts")
    for i, ((s, e), r) in enumerate(zip(spans, rows, strict=True)):
        if not 0 <= s < e <= len(r):
            raise ActivationSpecError(
                f"span ({s}, {e}) of prompt {i} is empty or outside its {len(r)} tokens"
            )


def span_batches(
    model: torch.nn.Module,
    rows: list[list[int]],
    spans: Sequence[tuple[int, int]],
    hooks: list[str],
    batch_size: int,
    pad_id: int,
    desc: str,
    make_hook: Callable[[Tensor], Callable] | None = None,
) -> Iterator[tuple[slice, dict[str, Tensor], Int[Tensor, "batch pos"]]]:
    """Run `rows` in left-padded batches; yield `(rows_at, {hook: [b pos d]}, span mask [b pos])`.

    The forward pass stops after the deepest hook. `make_hook(mask)`, if given, builds a hook that
    runs at `hooks[0]` before the activations are read (an intervened model). Checks are the
    caller's (`_check_spans`)."""
    device = next(model.parameters()).device
    stop = _stop_hook_name(model, hooks)
    starts = range(0, len(rows), batch_size)
    for b0 in progress(starts, desc=desc, total=len(starts)):
        batch = rows[b0 : b0 + batch_size]
        tokens, mask = pad_batch(batch, pad_id, "left")
        s = torch.tensor([sp[0] for sp in spans[b0 : b0 + batch_size]])
        e = torch.tensor([sp[1] for sp in spans[b0 : b0 + batch_size]])
        if make_hook is not None:
            model.add_hook(hooks[0], make_hook(mask))  # first in line; _run_batch removes it
        got = _run_batch(model, tokens.to(device), mask.to(device), hooks, stop)
        yield slice(b0, b0 + len(batch)), got, span_mask(mask, s, e)


def extract_span_means(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    spans: Sequence[tuple[int, int]],
    hook_names: str | Sequence[str],
    batch_size: int = 16,
    pad_id: int = 0,
    dtype: torch.dtype = torch.float32,
    desc: str = "span activations",
) -> dict[str, Float[Tensor, "n _d"]]:
    """`{hook: [n, d]}`: mean activation over tokens `start .. end-1` of each token list."""
    hooks = [hook_names] if isinstance(hook_names, str) else list(hook_names)
    unknown = [h for h in hooks if h not in model.hook_dict]
    if not hooks or unknown:
        raise ActivationSpecError(f"unknown hook names {unknown or hooks}; see model.hook_dict")
    if batch_size < 1:
        raise ActivationSpecError(f"batch_size must be >= 1, got {batch_size}")
    rows = [[int(t) for t in r] for r in rows]
    _check_spans(rows, spans)
    widths = _hook_widths(model, hooks)
    out = {h: torch.empty((len(rows), widths[h]), dtype=dtype) for h in hooks}
    for rows_at, got, weights in span_batches(model, rows, spans, hooks, batch_size, pad_id, desc):
        for h in hooks:
            w = weights.to(got[h].device, got[h].dtype)[..., None]
            mean = (got[h] * w).sum(dim=1) / w.sum(dim=1)
            out[h][rows_at] = mean.to("cpu", dtype)
    return out


def chat_prefix(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat that ends with a user turn, plus the assistant header (the tokenizer's
    chat template with `add_generation_prompt=True`): what a model continues when it replies."""
    prefix = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    if not prefix or not all(isinstance(t, int) for t in prefix):
        raise ActivationSpecError("the tokenizer's chat template did not return token ids")
    return list(prefix)


def chat_rows(
    tokenizer: Any, messages: list[dict[str, str]], replies: Sequence[str | Sequence[int]]
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Token lists `prefix + reply` and each reply's span, for one chat prefix (`chat_prefix` of
    `messages`) and many replies (texts, tokenized without special tokens, or token lists as a
    model generated them)."""
    prefix = chat_prefix(tokenizer, messages)
    rows, spans = [], []
    for reply in replies:
        ids = (
            list(tokenizer(reply, add_special_tokens=False).input_ids)
            if isinstance(reply, str)
            else [int(t) for t in reply]
        )
        if not ids:
            raise ActivationSpecError("an empty reply has no tokens to average over")
        rows.append(prefix + ids)
        spans.append((len(prefix), len(prefix) + len(ids)))
    return rows, spans
