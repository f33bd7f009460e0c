"""Head detectors: score every head of a model for a simple attention behaviour (days 35–38).

From one forward that caches every `blocks.{l}.attn.hook_pattern`, each head gets the mean
attention it pays along a diagonal of its pattern (Elhage et al. 2021, "A Mathematical Framework
for Transformer Circuits"; Olsson et al. 2022, "In-context Learning and Induction Heads"):
- previous-token heads attend from i to i - 1;
- current-token heads attend from i to i;
- first-token heads attend to position 0 (often an "attention sink" that means "do nothing");
- induction heads, on a sequence whose last `block` tokens repeat the `block` before them, attend
  from the second copy to the token after the earlier occurrence (offset block - 1).
The per-head definitions live in `arena_core.transformer.patterns`; this module applies them to a
whole model (ours or a TransformerLens `HookedTransformer`) and ranks the heads.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.transformer.patterns import (
    current_token_scores,
    first_token_scores,
    induction_scores,
    prev_token_scores,
)

Scores = Float[Tensor, "layers heads"]


def head_detector_scores(
    model, tokens: Int[Tensor, "batch pos"], induction_block: int | None = None
) -> dict[str, Scores]:
    """`{"prev_token", "current_token", "first_token"[, "induction"]}` -> `[layers heads]` scores.

    `induction_block`: length of the repeated block at the end of `tokens` (e.g. tokens
    `[bos, r_1..r_L, r_1..r_L]` with block L); the induction score is computed only when given.
    Patterns from a single forward; caching them makes attention take its explicit path."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    detectors = {
        "prev_token": prev_token_scores,
        "current_token": current_token_scores,
        "first_token": first_token_scores,
    }
    if induction_block is not None:
        if not 1 < induction_block <= tokens.shape[1] // 2:
            raise ValueError(f"induction_block={induction_block} must be in 2..pos/2")
        detectors["induction"] = lambda p: induction_scores(p, induction_block)
    layers = range(model.cfg.n_layers)
    patterns = [cache[f"blocks.{layer}.attn.hook_pattern"] for layer in layers]
    return {name: torch.stack([fn(p) for p in patterns]).cpu() for name, fn in detectors.items()}


def top_heads(scores: Scores, k: int = 5) -> list[tuple[int, int, float]]:
    """The k highest-scoring heads as (layer, head, score), best first."""
    values, flat = scores.flatten().topk(min(k, scores.numel()))
    n_heads = scores.shape[1]
    return [
        (int(i) // n_heads, int(i) % n_heads, float(v)) for v, i in zip(values, flat, strict=True)
    ]


def heads_above(scores: Scores, threshold: float) -> list[tuple[int, int, float]]:
    """Every head whose score exceeds `threshold`, as (layer, head, score), best first."""
    layer, head = torch.nonzero(scores > threshold, as_tuple=True)
    found = [(int(a), int(b), float(scores[a, b])) for a, b in zip(layer, head, strict=True)]
    return sorted(found, key=lambda t: -t[2])
