"""Activations of many prompts at chosen hook points and positions, batched and cached (days 39–44).

A probe is trained on one vector per prompt: the residual stream at some layer, read at the last
token, at a chosen token, or averaged over the prompt. `extract_activations` runs our `CausalLM`
over a list of prompts in batches and returns, for every requested hook name
(`blocks.{i}.hook_resid_post`, TransformerLens names), a `[n_prompts, d]` array.

Padding: prompts of one batch have different lengths, so they are padded (left or right) and the
model gets an attention mask. Position k of a prompt always means its k-th *real* token, whatever
the padding side, and the mean runs over real tokens only, so the answer does not depend on the
padding side or the batch size (tested).

Large sets: with `cache_dir`, each hook's rows go into a NumPy memory map (`<hook>.npy`) and a small
`index.json` records how many prompts are done, after every batch. An interrupted run (Ctrl-C, a
crash) continues where it stopped; a different model, prompt set, hook list or position choice
changes the fingerprint in the index and the cache is rebuilt from scratch.

The forward pass stops after the deepest requested layer (the unembedding of a 49k vocabulary is
skipped too), which is most of the saving when probing early layers.

Used by days 39 (geometry of truth), 40 (coup probes), 41 (probe failure modes), 43 (function
vectors) and 44 (steering with a probe direction).
"""

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError
from arena_core.utils.progress import progress

Position = Literal["last", "mean"] | int | Sequence[int]
INDEX = "index.json"


class ActivationSpecError(UserError, ValueError):
    """Bad hook names, positions or prompts passed to `extract_activations`."""


class _StopForward(Exception):
    """Raised by the last needed hook to skip the rest of the forward pass."""


def tokenize(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of each prompt, as the tokenizer makes them (special tokens included if it adds
    them)."""
    return [list(tokenizer(p).input_ids) for p in prompts]


def pad_batch(
    rows: Sequence[Sequence[int]], pad_id: int, side: Literal["left", "right"] = "left"
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Pad token lists to one width: (tokens, attention_mask with 1 = real token)."""
    width = max(len(r) for r in rows)
    tokens = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        cols = slice(width - len(r), width) if side == "left" else slice(0, len(r))
        tokens[i, cols] = torch.tensor(r, dtype=torch.long)
        mask[i, cols] = 1
    return tokens, mask


def real_token_columns(
    mask: Int[Tensor, "batch pos"], index: Int[Tensor, " batch"]
) -> Int[Tensor, " batch"]:
    """The column of each row's `index`-th real token (negative counts from the end: -1 = last).

    Works for left and right padding: column = position of the first real token + index."""
    lengths = mask.sum(dim=1)
    first = mask.argmax(dim=1)  # first column holding a real token
    k = torch.where(index < 0, index + lengths, index)
    if bool(((k < 0) | (k >= lengths)).any()):
        bad = int(torch.nonzero((k < 0) | (k >= lengths))[0, 0])
        raise ActivationSpecError(
            f"position {int(index[bad])} is outside prompt {bad} of {int(lengths[bad])} tokens"
        )
    return first + k


def reduce_positions(
    acts: Float[Tensor, "batch pos d"],
    mask: Int[Tensor, "batch pos"],
    position: Literal["last", "mean"] | Int[Tensor, " batch"],
) -> Float[Tensor, "batch d"]:
    """One vector per row: at the last real token, at a given real-token index, or the mean over
    the real tokens."""
    if isinstance(position, str) and position == "mean":
        m = mask.to(acts.dtype)[..., None]
        return (acts * m).sum(dim=1) / m.sum(dim=1)
    if isinstance(position, str):
        position = torch.full((acts.shape[0],), -1, dtype=torch.long)
    cols = real_token_columns(mask, position.to(mask.device))
    return acts[torch.arange(acts.shape[0], device=acts.device), cols]


def _stop_hook_name(model: torch.nn.Module, hook_names: Sequence[str]) -> str | None:
    """The hook at which every requested hook has fired: `blocks.{L+1}.hook_resid_pre` for the
    deepest requested layer L (None: run the whole model)."""
    layers = []
    for name in hook_names:
        m = re.match(r"blocks\.(\d+)\.", name)
        if m is None and name in ("hook_embed", "hook_pos_embed"):
            layers.append(-1)
        elif m is None:
            return None  # ln_final or an unknown top-level hook: keep the whole forward
        else:
            layers.append(int(m.group(1)))
    stop = f"blocks.{max(layers) + 1}.hook_resid_pre"
    return stop if stop in model.hook_dict else None


def model_fingerprint(model: torch.nn.Module) -> str:
    """A hash of the config and of per-parameter sums: changes when the model or weights do."""
    h = hashlib.sha256(repr(getattr(model, "cfg", type(model))).encode())
    with torch.no_grad():
        for name, p in model.named_parameters():
            q = p.detach().double()
            h.update(
                f"{name}{tuple(p.shape)}{q.sum().item():.10e}{q.square().sum().item():.10e}".encode()
            )
    return h.hexdigest()


def _spec_fingerprint(
    model: torch.nn.Module, rows: list[list[int]], hooks: list[str], position: Any, dtype: str
) -> str:
    h = hashlib.sha256(model_fingerprint(model).encode())
    h.update(json.dumps([rows, hooks, position, dtype]).encode())
    return h.hexdigest()


def _file_name(hook: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", hook) + ".npy"


def _write_index(cache_dir: Path, index: dict) -> None:
    tmp = cache_dir / (INDEX + ".tmp")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, cache_dir / INDEX)  # atomic: an interrupt never leaves a half-written index


def _normalise_position(position: Position, n: int) -> Literal["last", "mean"] | list[int]:
    if isinstance(position, str):
        if position not in ("last", "mean"):
            raise ActivationSpecError(
                f"position must be 'last', 'mean' or indices, not {position!r}"
            )
        return position
    if isinstance(position, int):
        return [position] * n
    position = [int(p) for p in position]
    if len(position) != n:
        raise ActivationSpecError(f"{len(position)} positions given for {n} prompts")
    return position


def extract_activations(
    model: torch.nn.Module,
    prompts: Sequence[str] | Sequence[Sequence[int]],
    hook_names: str | Sequence[str],
    position: Position = "last",
    batch_size: int = 16,
    padding_side: Literal["left", "right"] = "left",
    tokenizer: Any = None,
    cache_dir: str | Path | None = None,
    dtype: torch.dtype = torch.float32,
    desc: str = "activations",
) -> dict[str, Float[Tensor, "n _d"]]:
    """`{hook_name: [n_prompts, d]}` activations of our `CausalLM` at one position per prompt.

    `prompts`: texts (tokenized with `tokenizer`, default `model.tokenizer`) or token-id lists.
    `position`: "last" (last real token), "mean" (mean over real tokens), an int (the same
    real-token index for every prompt, negative from the end) or one index per prompt.
    `cache_dir`: store rows on disk (memory maps + `index.json`) and resume an interrupted run;
    the returned tensors are then backed by those files (copy-on-write)."""
    hooks = [hook_names] if isinstance(hook_names, str) else list(hook_names)
    unknown = [h for h in hooks if h not in model.hook_dict]
    if not hooks or unknown:
        raise ActivationSpecError(f"unknown hook names {unknown or hooks}; see model.hook_dict")
    if len(prompts) == 0:
        raise ActivationSpecError("no prompts given")
    if batch_size < 1:
        raise ActivationSpecError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(prompts[0], str):
        tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
        if tokenizer is None:
            raise ActivationSpecError("text prompts need a tokenizer (or pass token-id lists)")
        rows = tokenize(tokenizer, prompts)
    else:
        rows = [[int(t) for t in r] for r in prompts]
    if any(len(r) == 0 for r in rows):
        raise ActivationSpecError("a prompt has no tokens")
    n, pos_spec = len(rows), _normalise_position(position, len(rows))
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    device = next(model.parameters()).device
    d = _hook_widths(model, hooks)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype

    start, arrays, cache_path = 0, {}, None
    if cache_dir is not None:
        cache_path = Path(cache_dir)
        cache_path.mkdir(parents=True, exist_ok=True)
        fp = _spec_fingerprint(model, rows, hooks, pos_spec, str(np_dtype))
        index = _read_index(cache_path)
        fresh = (
            index is None
            or index.get("fingerprint") != fp
            or not all((cache_path / _file_name(h)).exists() for h in hooks)
        )
        if fresh:  # drop the old index first: it must never describe files being rewritten
            (cache_path / INDEX).unlink(missing_ok=True)
            index = {"fingerprint": fp, "n": n, "done": 0, "hooks": hooks, "dtype": str(np_dtype)}
        for h in hooks:
            f = cache_path / _file_name(h)
            if fresh:
                arrays[h] = np.lib.format.open_memmap(f, mode="w+", dtype=np_dtype, shape=(n, d[h]))
            else:
                arrays[h] = np.load(f, mmap_mode="r+")
        if fresh:
            _write_index(cache_path, index)
        start = index["done"]
    else:
        out = {h: torch.empty((n, d[h]), dtype=dtype) for h in hooks}

    stop = _stop_hook_name(model, hooks)
    starts = range(start, n, batch_size)
    for b0 in progress(starts, desc=desc, total=len(starts)):
        batch_rows = rows[b0 : b0 + batch_size]
        tokens, mask = pad_batch(batch_rows, pad_id, padding_side)
        tokens, mask = tokens.to(device), mask.to(device)
        batch_pos: Any = pos_spec
        if not isinstance(pos_spec, str):
            batch_pos = torch.tensor(pos_spec[b0 : b0 + batch_size], device=device)
        got = _run_batch(model, tokens, mask, hooks, stop)
        for h in hooks:
            vec = reduce_positions(got[h], mask, batch_pos).to("cpu", dtype)
            if cache_path is None:
                out[h][b0 : b0 + len(batch_rows)] = vec
            else:
                arrays[h][b0 : b0 + len(batch_rows)] = vec.numpy()
        if cache_path is not None:
            for a in arrays.values():
                a.flush()  # rows on disk before the index says they are done
            index["done"] = b0 + len(batch_rows)
            _write_index(cache_path, index)
    if cache_path is None:
        return out
    del arrays  # close the writable maps; hand back copy-on-write views of the finished files
    return {h: torch.from_numpy(np.load(cache_path / _file_name(h), mmap_mode="c")) for h in hooks}


def _read_index(cache_dir: Path) -> dict | None:
    try:
        return json.loads((cache_dir / INDEX).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


# Hooks whose activation is always [batch pos d_model]: their width is read from the config.
_RESIDUAL_WIDTH = re.compile(r"blocks\.\d+\.hook_(resid_pre|resid_mid|resid_post|attn_out|mlp_out)")


def _hook_widths(model: torch.nn.Module, hooks: list[str]) -> dict[str, int]:
    """Trailing width of each hook's activation: `cfg.d_model` for residual-stream hooks, else
    from one forward on a 1-token input (which reads every weight up to the deepest layer: ~1-9%
    of a 64-prompt extraction on 2 cores, so it is skipped when the config answers)."""
    d_model = getattr(getattr(model, "cfg", None), "d_model", None)
    if isinstance(d_model, int) and all(_RESIDUAL_WIDTH.fullmatch(h) for h in hooks):
        return dict.fromkeys(hooks, d_model)
    probe = torch.zeros((1, 1), dtype=torch.long, device=next(model.parameters()).device)
    got = _run_batch(model, probe, torch.ones_like(probe), hooks, _stop_hook_name(model, hooks))
    bad = {h: tuple(a.shape) for h, a in got.items() if a.dim() != 3}
    if bad:
        raise ActivationSpecError(
            f"{bad}: only [batch pos d] activations are supported (flatten heads yourself)"
        )
    return {h: got[h].shape[-1] for h in hooks}


def _run_batch(
    model: torch.nn.Module,
    tokens: Tensor,
    mask: Tensor,
    hooks: list[str],
    stop: str | None,
) -> dict[str, Tensor]:
    got: dict[str, Tensor] = {}

    def save(x: Tensor, hook: Any) -> None:
        got[hook.name] = x.detach()

    def halt(x: Tensor, hook: Any) -> None:
        raise _StopForward

    fwd = [(h, save) for h in hooks] + ([(stop, halt)] if stop else [])
    with torch.no_grad(), model.hooks(fwd):
        try:
            model(tokens, attention_mask=mask)
        except _StopForward:
            pass
    return got
