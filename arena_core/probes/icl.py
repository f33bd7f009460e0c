"""In-context-learning prompts from the pair datasets, and first-token accuracy (days 42–44).

A few-shot prompt shows a task by example and asks for one more answer:

    Q: hot\nA: cold\n\nQ: up\nA: down\n\nQ: wet\nA:          -> " dry"

The model "does the task" when its most likely next token is the first token of the answer
(with its leading space). Todd et al. (2023, "Function Vectors in Large Language Models") use
three versions of each prompt, built here from the same sampled examples:

- few-shot (clean): the demonstrations carry their true labels;
- shuffled labels (corrupted): the same demonstrations, the labels permuted among them (no
  demonstration keeps its own label), so the prompt still *looks* like the task but the pairing
  that defines it is gone;
- zero-shot: only the query, `Q: wet\nA:`.

Batches are LEFT padded, so column -1 is every prompt's last real token, which is where the
function-vector code reads head outputs and adds vectors. Pair tasks: `antonyms`,
`country_capital`, `uppercase`, `english_french`, `present_past`, `first_name_initial` from
`arena_core.data.facts`.
"""

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError
from arena_core.probes.activations import pad_batch

PAIR_TASKS = (
    "antonyms",
    "country_capital",
    "uppercase",
    "english_french",
    "present_past",
    "first_name_initial",
)


class ICLSpecError(UserError, ValueError):
    """Too few pairs for the prompts asked for, or batches that do not fit together."""


def format_example(x: str, y: str | None = None) -> str:
    """`Q: x\\nA: y\\n\\n`, or the open query `Q: x\\nA:` when y is None."""
    return f"Q: {x}\nA:" if y is None else f"Q: {x}\nA: {y}\n\n"


@dataclass(frozen=True)
class ICLPrompts:
    """Parallel lists, one entry per prompt: the three prompt versions, query and answer."""

    few_shot: list[str]
    shuffled: list[str]
    zero_shot: list[str]
    queries: list[str]
    answers: list[str]

    def __len__(self) -> int:
        return len(self.answers)


def _derangement(n: int, rng: random.Random) -> list[int]:
    """A random permutation with no fixed point (n >= 2)."""
    while True:
        perm = list(range(n))
        rng.shuffle(perm)
        if all(i != p for i, p in enumerate(perm)):
            return perm


def icl_prompts(
    pairs: Sequence[tuple[str, str]], n_prompts: int, n_shots: int, seed: int = 0
) -> ICLPrompts:
    """`n_prompts` prompts, each with `n_shots` demonstrations and a query, all distinct pairs.

    Queries are distinct across prompts when there are enough pairs; demonstrations are drawn
    from the other pairs. The shuffled version permutes the demonstrations' labels with a
    derangement and keeps the query."""
    if n_shots < 2:
        raise ICLSpecError(f"n_shots must be >= 2 to shuffle labels, got {n_shots}")
    if len(pairs) < n_shots + 1:
        raise ICLSpecError(f"{len(pairs)} pairs cannot make a {n_shots}-shot prompt plus a query")
    if n_prompts < 1:
        raise ICLSpecError(f"n_prompts must be >= 1, got {n_prompts}")
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    few, shuf, zero, queries, answers = [], [], [], [], []
    for i in range(n_prompts):
        q = order[i % len(order)]
        demos = rng.sample([j for j in range(len(pairs)) if j != q], n_shots)
        xs, ys = [pairs[j][0] for j in demos], [pairs[j][1] for j in demos]
        perm = _derangement(n_shots, rng)
        x, y = pairs[q]
        few.append("".join(map(format_example, xs, ys)) + format_example(x))
        shuf.append("".join(format_example(a, ys[p]) for a, p in zip(xs, perm, strict=True)))
        shuf[-1] += format_example(x)
        zero.append(format_example(x))
        queries.append(x)
        answers.append(y)
    return ICLPrompts(few, shuf, zero, queries, answers)


def split_pairs(
    pairs: Sequence[tuple[str, str]], fractions: Sequence[float], seed: int = 0
) -> list[list[tuple[str, str]]]:
    """Disjoint random parts of `pairs` (e.g. (0.4, 0.3, 0.3) for CIE / validation / test)."""
    if abs(sum(fractions) - 1) > 1e-9 or any(f <= 0 for f in fractions):
        raise ICLSpecError(f"fractions must be positive and sum to 1, got {list(fractions)}")
    idx = list(range(len(pairs)))
    random.Random(seed).shuffle(idx)
    cuts = [round(sum(fractions[:k]) * len(idx)) for k in range(len(fractions) + 1)]
    return [[pairs[i] for i in idx[a:b]] for a, b in zip(cuts, cuts[1:], strict=False)]


def tokenize_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of each prompt, no special tokens added."""
    return [list(tokenizer(p, add_special_tokens=False).input_ids) for p in prompts]


def answer_token_ids(tokenizer: Any, answers: Sequence[str]) -> Int[Tensor, " n"]:
    """The first token of `" " + answer` (the answer follows `A:`), one id per answer."""
    ids = [tokenizer(" " + a, add_special_tokens=False).input_ids for a in answers]
    if any(len(i) == 0 for i in ids):
        raise ICLSpecError("an answer tokenizes to nothing")
    return torch.tensor([i[0] for i in ids], dtype=torch.long)


def left_padded(
    rows: Sequence[Sequence[int]], pad_id: int = 0
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Tokens and attention mask, left padded: column -1 is each prompt's last real token."""
    if len(rows) == 0 or any(len(r) == 0 for r in rows):
        raise ICLSpecError("empty batch or empty prompt")
    return pad_batch(rows, pad_id, "left")


@contextmanager
def attached(model: torch.nn.Module, fwd_hooks: Sequence) -> Iterator[torch.nn.Module]:
    """Attach `(hook_name, fn)` pairs for a `with` block and remove exactly those afterwards
    (unlike `model.hooks`, which clears every hook: a steering hook added outside survives)."""
    added = []
    try:
        for name, fn in fwd_hooks:
            if name not in model.hook_dict:
                raise ICLSpecError(f"no hook point named {name!r}; see model.hook_dict")
            model.hook_dict[name].add_hook(fn)
            added.append((name, fn))
        yield model
    finally:
        for name, fn in added:
            model.hook_dict[name].hooks.remove(fn)


def last_token_logits(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    batch_size: int = 16,
    fwd_hooks: Sequence = (),
) -> Float[Tensor, "n d_vocab"]:
    """Logits at each prompt's last real token (left-padded batches; `fwd_hooks` attached)."""
    device = next(model.parameters()).device
    out = []
    for b0 in range(0, len(rows), batch_size):
        tokens, mask = left_padded(rows[b0 : b0 + batch_size])
        with torch.no_grad(), attached(model, fwd_hooks):
            logits = model(tokens.to(device), attention_mask=mask.to(device), last_only=True)
        out.append(logits[:, -1].cpu())
    return torch.cat(out)


@dataclass(frozen=True)
class FirstTokenScore:
    """Accuracy (argmax == answer's first token) and mean probability of that token."""

    accuracy: float
    p_correct: float
    correct: list[bool]


def score_first_token(
    logits: Float[Tensor, "n d_vocab"], answer_ids: Int[Tensor, " n_answers"]
) -> FirstTokenScore:
    """First-token accuracy and mean P(answer's first token) from last-token logits."""
    if logits.shape[0] != answer_ids.shape[0]:
        raise ICLSpecError(f"{logits.shape[0]} logit rows for {answer_ids.shape[0]} answers")
    correct = logits.argmax(-1) == answer_ids
    p = logits.softmax(-1).gather(-1, answer_ids[:, None])[:, 0]
    return FirstTokenScore(correct.float().mean().item(), p.mean().item(), correct.tolist())


def first_token_accuracy(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    answer_ids: Int[Tensor, " n"],
    batch_size: int = 16,
    fwd_hooks: Sequence = (),
) -> FirstTokenScore:
    """`score_first_token` of the model's last-token logits on left-padded batches."""
    return score_first_token(last_token_logits(model, rows, batch_size, fwd_hooks), answer_ids)
