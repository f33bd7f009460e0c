"""Function vectors (Todd et al. 2023, "Function Vectors in Large Language Models"; days 43–44).

A few-shot prompt makes a model do a task (antonyms, capitals, ...). Todd et al. find a handful
of attention heads that carry "which task" to the last token: patching their *mean* output over
clean few-shot prompts into prompts whose labels were shuffled restores the right answer. The
effect of head (l, h) is its causal indirect effect (CIE):

    CIE(l, h) = mean over shuffled prompts of  P(answer | z_lh := mean clean z_lh) − P(answer)

where z_lh is the head's output before W_O at the last token. The function vector is the sum of
the top heads' mean contributions to the residual stream,

    v = Σ_{(l,h) ∈ top} mean_prompts( z_lh @ W_O[l, h] ),

and adding v to the residual stream of a *zero-shot* prompt ("Q: hot\\nA:") at the last token,
at one layer, makes the model do the task without any examples (at 6B parameters; day 43
measures how far small models get).

Batches are left padded, so column -1 is each prompt's last token. The FV is added with
`arena_core.probes.steering.add_direction(model, f"blocks.{L}.hook_resid_post", fv, 1.0,
positions=-1)`. Checked against TransformerLens hooks on a twin (tests/probes/
test_function_vectors.py).
"""

import random
from collections.abc import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError
from arena_core.interp.suffix_patching import answer_probs, head_z_last, patch_heads_last


class FunctionVectorError(UserError, ValueError):
    """Heads outside the model, or a top-k larger than the number of heads."""


def _check_heads(model: torch.nn.Module, heads: Sequence[tuple[int, int]]) -> None:
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    bad = [h for h in heads if not (0 <= h[0] < n_layers and 0 <= h[1] < n_heads)]
    if not heads or bad:
        raise FunctionVectorError(
            f"heads {bad or 'none given'}: need (layer, head) with layer < {n_layers}, "
            f"head < {n_heads}"
        )


def head_outputs(
    model: torch.nn.Module,
    rows: list[list[int]],
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> Float[Tensor, "n layer head d_model"]:
    """Each head's contribution to the residual stream, z_h @ W_O[h] (no bias), at each prompt's
    last real token (left padding + attention mask). The layer axis follows `layers` (default
    all)."""
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    z = head_z_last(model, rows, layers, batch_size)  # [n layer head d_head]
    W_O = torch.stack([model.blocks[L].attn.W_O.detach().cpu() for L in layers])
    return torch.einsum("nlhe,lhed->nlhd", z.to(W_O.dtype), W_O)


def function_vector(
    model: torch.nn.Module,
    rows: list[list[int]],
    heads: Sequence[tuple[int, int]],
    batch_size: int = 16,
) -> Float[Tensor, " d_model"]:
    """Sum over `heads` (layer, head) of the mean over prompts of head_outputs."""
    _check_heads(model, heads)
    layers = sorted({L for L, _ in heads})
    mean = head_outputs(model, rows, layers, batch_size).mean(0)  # [layer head d_model]
    return torch.stack([mean[layers.index(L), h] for L, h in heads]).sum(0)


def causal_indirect_effect(
    model: torch.nn.Module,
    clean_rows: list[list[int]],
    corrupted_rows: list[list[int]],
    answer_ids: Int[Tensor, " n"],
    batch_size: int = 16,
) -> Float[Tensor, "layer head"]:
    """CIE of every head: the mean clean z (last token, over `clean_rows`) patched into each
    corrupted prompt at its last token; the mean increase in P(answer's first token)."""
    mean_z = head_z_last(model, clean_rows, None, batch_size).mean(0)  # [layer head d_head]
    base = answer_probs(model, corrupted_rows, answer_ids, batch_size)  # [n]
    patched = patch_heads_last(model, corrupted_rows, answer_ids, mean_z, None, batch_size,
                               desc="causal indirect effect")  # fmt: skip
    return (patched - base).mean(-1)


def top_heads(cie: Float[Tensor, "layer head"], k: int) -> list[tuple[int, int]]:
    """The k (layer, head) pairs with the largest CIE, largest first."""
    if not 1 <= k <= cie.numel():
        raise FunctionVectorError(f"k must be in [1, {cie.numel()}], got {k}")
    idx = cie.flatten().topk(k).indices.tolist()
    return [(i // cie.shape[1], i % cie.shape[1]) for i in idx]


def random_heads(
    n_layers: int, n_heads: int, k: int, seed: int = 0, max_layer: int | None = None
) -> list[tuple[int, int]]:
    """k distinct random (layer, head) pairs (a control for `top_heads`), layers < `max_layer`."""
    top = n_layers if max_layer is None else max_layer
    if not 1 <= k <= top * n_heads:
        raise FunctionVectorError(f"k must be in [1, {top * n_heads}], got {k}")
    cells = random.Random(seed).sample(range(top * n_heads), k)
    return [(c // n_heads, c % n_heads) for c in cells]
