"""The IOI metric: how much the model prefers the indirect object over the subject (days 52–58).

    "When Mary and John went to the store, John gave a drink to"  ->  " Mary" (IO), not " John" (S)

At the last token of each prompt (END) the model gives logits over the vocabulary. The metric of
Wang et al. (2022) is the logit difference

    LD = logit[IO] - logit[S]

one number per prompt: positive when the model prefers the right name, and independent of
everything the softmax normalisation adds to both. Beside it: P(IO) (softmax probability of the IO
token), the rank of IO among all tokens (0 = top choice), and accuracy (fraction with LD > 0, i.e.
IO beats S). `summarise` gives mean ± standard error overall, per template and per order.

Batching: prompts of one template all have the same length (`arena_core.data.ioi` keeps every
name, place and object a single token), so `end_logits` groups prompts by length and runs each
group as plain full batches: no padding at all, so batched numbers equal one-prompt-at-a-time
ones up to float rounding. `group_by_length=False` instead left-pads mixed lengths with
`pad_batch` and passes the attention mask (tested to agree).

Works with the project's `CausalLM` (`model(tokens, attention_mask=..., last_only=True)` returns
`[batch, 1, d_vocab]` logits); only the END logits are computed.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.activations import pad_batch


class IOIMetricError(UserError, ValueError):
    """Inputs the IOI metric cannot score (empty or inconsistent dataset, bad batch size)."""


@dataclass
class IOIScores:
    """Per-prompt IOI metrics, with each prompt's template and order for the breakdowns."""

    logit_diff: Float[Tensor, " n"]  # logit[IO] - logit[S] at END
    p_io: Float[Tensor, " n"]  # softmax probability of the IO token at END
    p_s: Float[Tensor, " n"]
    io_rank: Tensor  # [n] long: how many tokens have a larger logit than IO (0 = top)
    templates: list[int]
    orders: list[str]

    def __len__(self) -> int:
        return len(self.logit_diff)

    @property
    def accuracy(self) -> float:
        return (self.logit_diff > 0).double().mean().item()


def _check(data, batch_size: int) -> None:
    n = len(data.tokens)
    if n == 0:
        raise IOIMetricError("the IOI dataset is empty")
    if batch_size < 1:
        raise IOIMetricError(f"batch_size must be positive, got {batch_size}")
    lengths = {len(data.io_ids), len(data.s_ids), len(data.positions), len(data.prompts)}
    if lengths != {n}:
        raise IOIMetricError(f"tokens, io_ids, s_ids, positions and prompts differ in length: "
                             f"{n} tokens vs {sorted(lengths)}")  # fmt: skip
    for i, (toks, pos) in enumerate(zip(data.tokens, data.positions, strict=True)):
        if not toks or pos.get("end") != len(toks) - 1:
            raise IOIMetricError(f"prompt {i}: END position {pos.get('end')} is not its last "
                                 f"token ({len(toks) - 1})")  # fmt: skip


@torch.no_grad()
def end_logits(
    model, data, batch_size: int = 32, group_by_length: bool = True, pad_id: int = 0
) -> Float[Tensor, "n d_vocab"]:
    """Logits at each prompt's END token, batched (see the module docstring), in prompt order."""
    _check(data, batch_size)
    device = next(model.parameters()).device
    n = len(data.tokens)
    if group_by_length:
        groups: dict[int, list[int]] = defaultdict(list)
        for i, toks in enumerate(data.tokens):
            groups[len(toks)].append(i)
        chunks = [idx[k : k + batch_size] for idx in groups.values()
                  for k in range(0, len(idx), batch_size)]  # fmt: skip
    else:
        chunks = [list(range(k, min(k + batch_size, n))) for k in range(0, n, batch_size)]
    out: Tensor | None = None
    for idx in chunks:
        tokens, mask = pad_batch([data.tokens[i] for i in idx], pad_id, side="left")
        tokens, mask = tokens.to(device), mask.to(device)
        logits = model(tokens, attention_mask=None if bool(mask.all()) else mask, last_only=True)
        last = logits[:, -1].double().cpu()
        if out is None:
            out = torch.empty(n, last.shape[-1], dtype=torch.float64)
        out[idx] = last
    return out


def scores_from_logits(logits: Float[Tensor, "n d_vocab"], data) -> IOIScores:
    """LD, P(IO), P(S) and the rank of IO from END logits (one row per prompt of `data`)."""
    if logits.ndim != 2 or logits.shape[0] != len(data.io_ids):
        raise IOIMetricError(f"expected [{len(data.io_ids)}, d_vocab] logits, "
                             f"got {tuple(logits.shape)}")  # fmt: skip
    ids = torch.tensor([data.io_ids, data.s_ids], dtype=torch.long).T  # [n, 2]
    if ids.min() < 0 or ids.max() >= logits.shape[1]:
        raise IOIMetricError(f"answer token ids outside the vocabulary of {logits.shape[1]}")
    pair = logits.gather(1, ids)
    probs = logits.double().softmax(-1).gather(1, ids)
    rank = (logits > pair[:, :1]).sum(-1)
    return IOIScores(
        logit_diff=(pair[:, 0] - pair[:, 1]).double(),
        p_io=probs[:, 0],
        p_s=probs[:, 1],
        io_rank=rank,
        templates=[p.template for p in data.prompts],
        orders=[p.order for p in data.prompts],
    )


def ioi_scores(model, data, batch_size: int = 32, group_by_length: bool = True) -> IOIScores:
    """Score an `IOIDataset` (from `arena_core.data.ioi`) with `model`."""
    pad = getattr(getattr(model, "tokenizer", None), "pad_token_id", None) or 0
    logits = end_logits(model, data, batch_size, group_by_length, pad)
    return scores_from_logits(logits, data)


def mean_sem(x: Sequence[float] | Tensor) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.numel() == 0:
        raise IOIMetricError("mean of an empty set")
    sem = x.std(unbiased=True).item() / math.sqrt(x.numel()) if x.numel() > 1 else 0.0
    return x.mean().item(), sem


def _stats(s: IOIScores, sel: Tensor, digits: int) -> dict:
    mean, sem = mean_sem(s.logit_diff[sel])
    return {
        "n": int(sel.sum().item()),
        "logit_diff_mean": round(mean, digits),
        "logit_diff_sem": round(sem, digits),
        "accuracy": round((s.logit_diff[sel] > 0).double().mean().item(), digits),
        "p_io_mean": round(s.p_io[sel].mean().item(), digits),
        "p_s_mean": round(s.p_s[sel].mean().item(), digits),
        "io_rank_median": int(s.io_rank[sel].median().item()),
        "io_top1": round((s.io_rank[sel] == 0).double().mean().item(), digits),
    }


def summarise(s: IOIScores, digits: int = 4) -> dict:
    """Mean ± sem LD, accuracy, mean P(IO) and P(S), median IO rank: overall, by template, order."""
    every = torch.ones(len(s), dtype=torch.bool)
    tmpl, order = torch.tensor(s.templates), s.orders
    return {
        "overall": _stats(s, every, digits),
        "by_template": {str(t): _stats(s, tmpl == t, digits) for t in sorted(set(s.templates))},
        "by_order": {
            o: _stats(s, torch.tensor([x == o for x in order]), digits) for o in sorted(set(order))
        },
    }


@dataclass
class TemplateBatch:
    """Prompts of one template and one order: equal length, the same IO/S1/S2/END columns."""

    idx: list[int]  # indices of the prompts in the dataset
    tokens: Tensor  # [b pos] long
    positions: dict[str, int]  # IO, S1, S1+1, S2, end
    io_ids: Tensor  # [b] long
    s_ids: Tensor  # [b] long

    @property
    def answers(self) -> Tensor:
        """`[b 2]`: (IO, S) token ids, the `answers` of `arena_core.interp.patching`."""
        return torch.stack([self.io_ids, self.s_ids], dim=1)


def template_batches(data) -> list[TemplateBatch]:
    """Split an IOI dataset into (template, order) groups, each a padding-free batch whose
    positions line up, so patching a column patches the same role in every row."""
    _check(data, 1)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, (p, pos) in enumerate(zip(data.prompts, data.positions, strict=True)):
        groups[(p.template, p.order, tuple(sorted(pos.items())))].append(i)
    out = []
    for (_, _, pos), idx in sorted(groups.items(), key=lambda kv: kv[1][0]):
        positions = dict(pos)
        positions["S1+1"] = positions["S1"] + 1
        out.append(TemplateBatch(
            idx, torch.tensor([data.tokens[i] for i in idx]), positions,
            torch.tensor([data.io_ids[i] for i in idx]), torch.tensor([data.s_ids[i] for i in idx]),
        ))  # fmt: skip
    return out
