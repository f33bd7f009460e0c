"""Logit processors and sampling: how a language model's next-token logits become a token.

A decoding step takes the logits of the last position, `logits [batch, d_vocab]`, and applies, in
this order (the order HuggingFace `generate` uses as well):

1. penalties that look at the tokens so far: the CTRL repetition penalty (Keskar et al. 2019,
   https://arxiv.org/abs/1909.05858) and OpenAI's frequency / presence penalties
   (https://platform.openai.com/docs/advanced-usage#frequency-and-presence-penalties);
2. temperature: `logits / T` (T -> 0 is greedy, T = 1 the model's distribution, T > 1 flatter);
3. top-k: keep the k largest logits;
4. top-p / nucleus (Holtzman et al. 2019, https://arxiv.org/abs/1904.09751): keep the smallest set
   of most likely tokens whose probability mass reaches p;

then samples from `softmax(logits)` with an explicit `torch.Generator` (reproducible) or takes the
argmax (greedy). Removed tokens get logit `-inf`, so they have probability exactly 0.

Used by day 33 (sampling strategies) and by every later day that generates text.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick the next token. `temperature == 0` means greedy (argmax)."""

    temperature: float = 1.0
    top_k: int | None = None  # keep the k most likely tokens (None: all)
    top_p: float | None = None  # keep the smallest set with mass >= p (None or 1.0: all)
    frequency_penalty: float = 0.0  # subtract alpha_f * count(token in generated text)
    presence_penalty: float = 0.0  # subtract alpha_p * [count(token) > 0]
    repetition_penalty: float = (
        1.0  # CTRL: divide positive / multiply negative logits of seen tokens
    )

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def apply_temperature(
    logits: Float[Tensor, "batch d_vocab"], temperature: float
) -> Float[Tensor, "batch d_vocab"]:
    """`logits / T`; softmax(logits / T) sharpens (T < 1) or flattens (T > 1) the distribution."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (use greedy decoding for T = 0)")
    return logits / temperature


def top_k_filter(logits: Float[Tensor, "batch d_vocab"], k: int) -> Float[Tensor, "batch d_vocab"]:
    """Set every logit below the k-th largest of its row to -inf (ties at the k-th are kept)."""
    k = min(k, logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def top_p_filter(
    logits: Float[Tensor, "batch d_vocab"], p: float, min_tokens_to_keep: int = 1
) -> Float[Tensor, "batch d_vocab"]:
    """Nucleus filter: keep the most likely tokens until their probability mass reaches `p`.

    Sorted from most to least likely, a token is kept when the mass of the tokens strictly before it
    is still below `p`; so the token that carries the mass over `p` is kept too.
    """
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    remove_sorted = mass_before >= p
    remove_sorted[..., :min_tokens_to_keep] = False
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def token_counts(
    tokens: Int[Tensor, "batch seq"], d_vocab: int, mask: Int[Tensor, "batch seq"] | None = None
) -> Int[Tensor, "batch d_vocab"]:
    """How often each vocabulary entry occurs in each row of `tokens` (only where mask == 1)."""
    weights = torch.ones_like(tokens) if mask is None else mask.to(tokens.dtype)
    counts = torch.zeros(tokens.shape[0], d_vocab, dtype=torch.long, device=tokens.device)
    return counts.scatter_add_(-1, tokens, weights.long())


def apply_frequency_presence_penalty(
    logits: Float[Tensor, "batch d_vocab"],
    counts: Int[Tensor, "batch d_vocab"],
    frequency_penalty: float,
    presence_penalty: float,
) -> Float[Tensor, "batch d_vocab"]:
    """OpenAI's penalties: `mu[j] - c[j] * alpha_frequency - [c[j] > 0] * alpha_presence`.

    `counts[b, j]` is how often token j was already generated in sequence b. The frequency penalty
    grows with every repetition; the presence penalty is a one-off cost for reusing a token at all.
    """
    counts = counts.to(logits.dtype)
    return logits - frequency_penalty * counts - presence_penalty * (counts > 0).to(logits.dtype)


def apply_repetition_penalty(
    logits: Float[Tensor, "batch d_vocab"], counts: Int[Tensor, "batch d_vocab"], penalty: float
) -> Float[Tensor, "batch d_vocab"]:
    """CTRL's penalty on every token seen so far: positive logits / penalty, negative * penalty.

    (Both moves make a seen token less likely for penalty > 1; a plain division would make a
    negative logit *more* likely.)
    """
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(counts > 0, penalised, logits)


def process_logits(
    logits: Float[Tensor, "batch d_vocab"],
    config: SamplingConfig,
    generated_counts: Int[Tensor, "batch d_vocab"] | None = None,
    context_counts: Int[Tensor, "batch d_vocab"] | None = None,
) -> Float[Tensor, "batch d_vocab"]:
    """All processors of `config` in order; returns logits ready for softmax (or argmax).

    `generated_counts`: token counts of the generated text (frequency / presence penalties, as in
    OpenAI's API). `context_counts`: counts over prompt + generated text (repetition penalty, as in
    CTRL and HuggingFace).
    """
    if config.repetition_penalty != 1.0:
        if context_counts is None:
            raise ValueError("the repetition penalty needs context_counts")
        logits = apply_repetition_penalty(logits, context_counts, config.repetition_penalty)
    if config.frequency_penalty != 0.0 or config.presence_penalty != 0.0:
        if generated_counts is None:
            raise ValueError("frequency / presence penalties need generated_counts")
        logits = apply_frequency_presence_penalty(
            logits, generated_counts, config.frequency_penalty, config.presence_penalty
        )
    if config.greedy:
        return logits  # argmax ignores temperature, top-k and top-p
    if config.temperature != 1.0:
        logits = apply_temperature(logits, config.temperature)
    if config.top_k is not None:
        logits = top_k_filter(logits, config.top_k)
    if config.top_p is not None and config.top_p < 1.0:
        logits = top_p_filter(logits, config.top_p)
    return logits


def sample_from_logits(
    logits: Float[Tensor, "batch d_vocab"],
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> Int[Tensor, " batch"]:
    """Argmax (greedy) or one draw from softmax(logits) per row, using `generator` for the RNG."""
    if greedy:
        return logits.argmax(dim=-1)
    probs = logits.float().softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
