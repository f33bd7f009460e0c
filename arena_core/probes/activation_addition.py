"""Activation addition end to end: a contrast vector, steered generation and what it costs (day 44).

Turner et al. (2023, "Activation Addition: Steering Language Models Without Optimization",
https://arxiv.org/abs/2308.10248) steer a model with no training at all:

    v = h_L(" Love") − h_L(" Hate")          (residual stream after layer L, one contrast pair)
    h'_L[p] = h_L[p] + c · v                  (added while the model reads and writes text)

`contrast_direction` takes the mean of that difference over several pairs (each read at its last
token), `steered_generate` runs `arena_core.transformer.generate` (batched, left padding, KV
cache) with `arena_core.probes.steering.add_direction` active, so the prompt and every generated
token are steered ("all positions"). Two numbers judge a steer:

- the effect: a sentiment score of the continuation (`arena_core.data.facts.sentiment_score`);
- the cost: `token_nll` of the steered continuation under the *unsteered* model (its perplexity is
  exp of the mean), and the increase of the next-token loss on fixed neutral text with the steer on.

`steered_logit_gap` is the one-forward version for a two-answer question (" True" vs " False"):
the steer starts at a chosen real token of each prompt (a bool position mask under left padding).

`random_direction` draws the control: a random vector of the same length as v, so a change that
any push of that size causes is not mistaken for sentiment.

Checked against a TransformerLens twin (steered logits of every generated step equal a full
forward of the finished sequence with TL hooks) and against `torch.nn.functional.cross_entropy`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.probes.activations import extract_activations, pad_batch
from arena_core.probes.steering import SteeringError, add_direction
from arena_core.transformer.generate import generate
from arena_core.transformer.sampling import SamplingConfig


def contrast_direction(
    model: torch.nn.Module,
    positive: Sequence[Sequence[int]],
    negative: Sequence[Sequence[int]],
    hook_name: str,
    batch_size: int = 16,
) -> Float[Tensor, " d"]:
    """Mean over pairs of h(positive_i) − h(negative_i) at `hook_name`, each at its last token."""
    if len(positive) != len(negative) or len(positive) == 0:
        raise SteeringError(
            f"need as many positive as negative prompts (≥ 1), got {len(positive)} and "
            f"{len(negative)}"
        )
    rows = [list(r) for r in positive] + [list(r) for r in negative]
    acts = extract_activations(model, rows, hook_name, "last", batch_size, desc="contrast")
    h = acts[hook_name].double()
    k = len(positive)
    return (h[:k] - h[k:]).mean(dim=0).float()


def random_direction(like: Float[Tensor, " d"], generator: torch.Generator) -> Float[Tensor, " d"]:
    """A Gaussian direction rescaled to the length of `like` (the same-norm control)."""
    r = torch.randn(like.shape, generator=generator, dtype=torch.float64)
    return (r / r.norm() * like.double().norm()).to(like.dtype)


def steered_generate(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    hook_name: str,
    direction: Float[Tensor, " d"],
    coefficient: float,
    max_new_tokens: int,
    sampling: SamplingConfig,
    pad_token_id: int,
    stop_tokens: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> list[list[int]]:
    """New tokens of each prompt with `coefficient · direction` added at every position."""
    with add_direction(model, hook_name, direction, coefficient):
        out = generate(
            model, prompts, max_new_tokens, sampling, stop_tokens=stop_tokens,
            pad_token_id=pad_token_id, generator=generator,
        )  # fmt: skip
    return out.new_tokens


@torch.no_grad()
def token_nll(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    pad_token_id: int,
) -> list[Tensor]:
    """−log p(continuation token | everything before it), one 1-D tensor per row, in one batch.

    The row is prompt + continuation, left-padded; the logits at column t predict column t + 1.
    A row with an empty continuation gets an empty tensor."""
    if len(prompts) != len(continuations):
        raise SteeringError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    rows = [list(p) + list(c) for p, c in zip(prompts, continuations, strict=True)]
    tokens, mask = pad_batch(rows, pad_token_id, "left")
    device = next(model.parameters()).device
    logits = model(tokens.to(device), attention_mask=mask.to(device)).double()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -logp.gather(-1, tokens[:, 1:, None].to(device))[..., 0]
    width = tokens.shape[1]
    # continuation tokens occupy the last len(c) columns; their predictions sit one column left
    return [nll[i, width - 1 - len(c) : width - 1].cpu() for i, c in enumerate(continuations)]


def mean_text_loss(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    pad_token_id: int,
    hook_name: str | None = None,
    direction: Float[Tensor, " d"] | None = None,
    coefficient: float = 0.0,
) -> float:
    """Mean next-token loss (nats) over all predicted tokens of `rows`, optionally steered."""
    prompts = [r[:1] for r in rows]
    conts = [r[1:] for r in rows]
    if hook_name is None or direction is None:
        per_row = token_nll(model, prompts, conts, pad_token_id)
    else:
        with add_direction(model, hook_name, direction, coefficient):
            per_row = token_nll(model, prompts, conts, pad_token_id)
    return torch.cat(per_row).mean().item()


@torch.no_grad()
def steered_logit_gap(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    starts: Sequence[int],
    answers: tuple[int, int],
    pad_token_id: int,
    hook_name: str | None = None,
    direction: Float[Tensor, " d"] | None = None,
    coefficient: float = 0.0,
) -> Float[Tensor, " batch"]:
    """logit(answers[0]) − logit(answers[1]) after each row's last token, in one batch, with
    `coefficient · direction` added at `hook_name` from real token `starts[i]` of row i onwards."""
    if len(starts) != len(rows) or any(
        not 0 <= s < len(r) for s, r in zip(starts, rows, strict=False)
    ):
        raise SteeringError("need one start per row, each inside its row")
    tokens, mask = pad_batch(rows, pad_token_id, "left")
    device = next(model.parameters()).device
    tokens, mask = tokens.to(device), mask.to(device)
    first = mask.shape[1] - mask.sum(dim=1)  # column of each row's first real token
    cols = torch.arange(mask.shape[1], device=device)[None]
    steer = cols >= (first + torch.as_tensor(list(starts), device=device))[:, None]
    if hook_name is None or direction is None:
        logits = model(tokens, attention_mask=mask, last_only=True)[:, -1]
    else:
        with add_direction(model, hook_name, direction, coefficient, steer):
            logits = model(tokens, attention_mask=mask, last_only=True)[:, -1]
    return (logits[:, answers[0]] - logits[:, answers[1]]).float().cpu()


@dataclass
class SteerResult:
    """One (direction, coefficient) cell of a dose-response sweep."""

    coefficient: float
    continuations: list[list[int]]
    sentiment: list[float]  # per prompt
    nll: list[float]  # mean NLL per prompt of its continuation under the unsteered model


def sentiment_and_cost(
    model: torch.nn.Module,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    hook_name: str,
    direction: Float[Tensor, " d"],
    coefficient: float,
    max_new_tokens: int,
    sampling: SamplingConfig,
    generator: torch.Generator | None = None,
) -> SteerResult:
    """Generate steered continuations, score their sentiment, and their NLL without the steer."""
    from arena_core.data.facts import sentiment_score

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    stops = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    conts = steered_generate(
        model, prompts, hook_name, direction, coefficient, max_new_tokens, sampling, pad,
        stops, generator,
    )  # fmt: skip
    conts = [[t for t in c if t not in stops] or [pad] for c in conts]
    texts = tokenizer.batch_decode(conts, skip_special_tokens=True)
    nll = [x.mean().item() for x in token_nll(model, prompts, conts, pad)]
    return SteerResult(coefficient, conts, [sentiment_score(t) for t in texts], nll)
