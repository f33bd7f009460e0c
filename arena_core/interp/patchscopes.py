"""Patchscopes: read a hidden state by letting the model itself put it into words (day 49).

A residual-stream vector h, taken from a *source* prompt at layer l and one position, is copied
into a different *inspection* prompt: at layer l' it replaces the residual stream at a
placeholder token. The model then continues the inspection prompt, and what it writes is a
reading of h (Ghandeharioun et al. 2024, "Patchscopes", https://arxiv.org/abs/2401.06102; Chen
et al. 2024, "SelfIE", https://arxiv.org/abs/2403.10949). With the few-shot identity prompt

    "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"

the model has learnt to repeat the token before "->", so with h patched in at "?" it repeats
whatever h stands for: the entity a hidden state encodes, or the answer it is about to give.

    x_target[b, col_b] <- h_b     at hook `target_hook`, in the prompt pass only

`col_b` is the column of row b's placeholder under left padding (`real_token_columns`), so the
answer does not depend on padding or batch size. Generation is greedy and batched with the KV
cache (`arena_core.transformer.generate`): the patch is applied in the prompt pass, and later
tokens attend to the patched keys and values stored in the cache. Without the cache every step
re-runs the whole sequence, so the patch is applied in every pass at the same column, which must
give the same tokens (tested); so must TransformerLens with a hand-written hook (tested).

Source vectors come from `arena_core.probes.activations.extract_activations`.
"""

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.activations import pad_batch, real_token_columns
from arena_core.transformer.generate import generate

IDENTITY_PROMPT = "cat -> cat; 1135 -> 1135; hello -> hello; ? ->"


class PatchscopeError(UserError, ValueError):
    """An inspection prompt, placeholder, hook or vectors that do not fit together."""


def placeholder_index(tokenizer: Any, prompt: str, placeholder: str = "?") -> tuple[list[int], int]:
    """Token ids of `prompt` and the real-token index of the *last* token equal to `placeholder`
    (tokenized alone, with and without a leading space)."""
    ids = list(tokenizer(prompt).input_ids)
    wanted = set()
    for text in (placeholder, " " + placeholder):
        t = tokenizer(text, add_special_tokens=False).input_ids
        if len(t) == 1:
            wanted.add(t[0])
    hits = [i for i, t in enumerate(ids) if t in wanted]
    if not hits:
        raise PatchscopeError(f"placeholder {placeholder!r} is not a single token of {prompt!r}")
    return ids, hits[-1]


def patch_hook(vectors: Float[Tensor, "batch d"], columns: Tensor, width: int, first_only: bool):
    """Hook replacing `x[b, columns[b]]` by `vectors[b]` in a pass that covers the prompt (the
    first pass only when `first_only`: later cached passes see one new token)."""
    state = {"calls": 0}

    def hook(x: Tensor, hook: Any) -> Tensor:
        state["calls"] += 1
        if (first_only and state["calls"] > 1) or x.shape[1] < width:
            return x
        if x.shape[-1] != vectors.shape[-1] or x.shape[0] != vectors.shape[0]:
            raise PatchscopeError(
                f"vectors {tuple(vectors.shape)} do not fit the activation {tuple(x.shape)} at "
                f"{getattr(hook, 'name', 'the hook')}"
            )
        x = x.clone()
        x[torch.arange(x.shape[0], device=x.device), columns.to(x.device)] = vectors.to(
            x.device, x.dtype
        )
        return x

    return hook


def _check(model, rows, positions, hook_name, vectors) -> tuple[Tensor, list[int]]:
    if hook_name not in model.hook_dict:
        raise PatchscopeError(f"unknown hook {hook_name!r}; see model.hook_dict")
    if len(rows) == 0 or any(len(r) == 0 for r in rows):
        raise PatchscopeError("every inspection prompt needs at least one token")
    pos = [positions] * len(rows) if isinstance(positions, int) else [int(p) for p in positions]
    if len(pos) != len(rows):
        raise PatchscopeError(f"{len(pos)} placeholder positions for {len(rows)} prompts")
    if vectors is not None:
        if vectors.dim() != 2 or vectors.shape[0] != len(rows):
            raise PatchscopeError(
                f"vectors must be [n_prompts={len(rows)}, d_model], got {tuple(vectors.shape)}"
            )
        d_model = getattr(getattr(model, "cfg", None), "d_model", vectors.shape[1])
        if vectors.shape[1] != d_model:
            raise PatchscopeError(f"vectors have width {vectors.shape[1]}, the model {d_model}")
    for r, p in zip(rows, pos, strict=True):
        if not -len(r) <= p < len(r):
            raise PatchscopeError(f"placeholder index {p} is outside a prompt of {len(r)} tokens")
    return torch.tensor(pos), pos


@torch.no_grad()
def patched_logits(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    positions: int | Sequence[int],
    hook_name: str,
    vectors: Float[Tensor, "batch d"] | None,
    pad_id: int = 0,
) -> tuple[Float[Tensor, "batch pos d_vocab"], Tensor]:
    """One left-padded forward pass of the inspection prompts with the patch: (logits, mask)."""
    pos, _ = _check(model, rows, positions, hook_name, vectors)
    tokens, mask = pad_batch(rows, pad_id, "left")
    device = next(model.parameters()).device
    tokens, mask = tokens.to(device), mask.to(device)
    if vectors is None:
        return model(tokens, attention_mask=mask), mask
    cols = real_token_columns(mask, pos.to(device))
    hook = patch_hook(vectors, cols, tokens.shape[1], first_only=True)
    with model.hooks([(hook_name, hook)]):
        return model(tokens, attention_mask=mask), mask


@torch.no_grad()
def patchscope_generate(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    positions: int | Sequence[int],
    hook_name: str,
    vectors: Float[Tensor, "n d"] | None,
    max_new_tokens: int = 6,
    pad_id: int = 0,
    stop_tokens: Sequence[int] = (),
    batch_size: int = 64,
    use_cache: bool = True,
) -> list[list[int]]:
    """Greedy continuations of the inspection prompts `rows` with `vectors[i]` patched at
    `hook_name`, real-token index `positions[i]` (None: no patch, the control)."""
    _check(model, rows, positions, hook_name, vectors)
    if batch_size < 1:
        raise PatchscopeError(f"batch_size must be >= 1, got {batch_size}")
    pos = [positions] * len(rows) if isinstance(positions, int) else [int(p) for p in positions]
    out: list[list[int]] = []
    device = next(model.parameters()).device
    for b0 in range(0, len(rows), batch_size):
        batch = [list(r) for r in rows[b0 : b0 + batch_size]]
        if vectors is None:
            hooks = []
        else:
            _, mask = pad_batch(batch, pad_id, "left")
            cols = real_token_columns(mask, torch.tensor(pos[b0 : b0 + batch_size]))
            vec = vectors[b0 : b0 + batch_size]
            hooks = [(hook_name, patch_hook(vec, cols, mask.shape[1], first_only=use_cache))]
        with model.hooks(hooks):
            gen = generate(model, batch, max_new_tokens, stop_tokens=stop_tokens,
                           pad_token_id=pad_id, use_cache=use_cache, device=device)  # fmt: skip
        out.extend(gen.new_tokens)
    return out


def same_norm_random(
    vectors: Float[Tensor, "n d"], generator: torch.Generator | None = None
) -> Float[Tensor, "n d"]:
    """Gaussian random directions scaled to each row's norm (the random-vector control)."""
    r = torch.randn(vectors.shape, generator=generator, dtype=torch.float32).to(vectors.dtype)
    return r / r.norm(dim=1, keepdim=True) * vectors.norm(dim=1, keepdim=True)


def derangement(n: int, generator: torch.Generator | None = None) -> Tensor:
    """A random permutation with no fixed point (the other-case control); n >= 2."""
    if n < 2:
        raise PatchscopeError("the other-case control needs at least 2 cases")
    perm = torch.randperm(n, generator=generator)
    return torch.roll(perm, 1)[torch.argsort(perm)]


def first_segment(text: str, stops: Sequence[str] = (";", "\n", "->")) -> str:
    """The decoded answer: the generated text up to the first separator, stripped."""
    for s in stops:
        text = text.split(s)[0]
    return text.strip()


def is_hit(decoded: str, target: str) -> bool:
    """Whether the decoded answer starts with `target` (case-insensitive, a leading "the "
    dropped): strict, so a half name ("New" for "New Delhi") is a miss."""
    d, t = decoded.strip().lower(), target.strip().lower()
    d = d.removeprefix("the ")
    return bool(t) and d.startswith(t)
