"""Induction heads measured on repeated random tokens (day 37, reused on days 38 and later).

An induction head completes `... A B ... A -> B`: at the second `A` it attends to the token
that followed the first `A` and copies it (Elhage et al. 2021, "A Mathematical Framework for
Transformer Circuits"; Olsson et al. 2022, "In-context Learning and Induction Heads"). On a
sequence `[bos?] r_1..r_L r_1..r_L` of uniformly random tokens nothing but such a look-back can
predict the second copy, so three measurements isolate the mechanism:
- the induction score of every head (attention from position i of the second copy to the
  position right after the earlier occurrence of the same token, `patterns.induction_scores`);
- the next-token loss on the first copy (about `ln d_vocab`, nothing to go on) versus the
  repeated copy (low if the model has induction heads);
- the repeated-half loss with chosen heads ablated (`arena_core.interp.ablation` hooks): if the
  loss climbs back towards the first-half loss, those heads carried the behaviour.

Positions used for the halves: with `off = 1` when a BOS is prepended (else 0), the first copy
occupies positions `off .. off+L-1` and the second `off+L .. off+2L-1`. The first token of each
copy is left out of its half: `r_1` of the first copy has no context at all, and `r_1` of the
second copy follows `r_L`, a pair the model never saw, so no induction can predict it either.
Every function works on our `CausalLM` and on a TransformerLens `HookedTransformer`.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.interp.ablation import head_ablation_hooks, loss_with_hooks
from arena_core.transformer.patterns import induction_scores


def repeated_random_tokens(
    batch: int,
    block: int,
    d_vocab: int,
    generator: torch.Generator | None = None,
    bos: int | None = None,
    low: int = 0,
) -> Int[Tensor, "batch pos"]:
    """`[bos] + r + r` with `r` uniform in `[low, d_vocab)` of length `block` (no BOS if None).

    `low` lets a caller keep special tokens (ids below it) out of the random block."""
    if block < 2:
        raise ValueError("block must be at least 2 to have anything to induce")
    rand = torch.randint(low, d_vocab, (batch, block), generator=generator)
    parts = [rand, rand]
    if bos is not None:
        parts.insert(0, torch.full((batch, 1), bos, dtype=rand.dtype))
    return torch.cat(parts, dim=1)


def _offset(tokens: Tensor, block: int) -> int:
    off = tokens.shape[1] - 2 * block
    if off not in (0, 1):
        raise ValueError(f"tokens of length {tokens.shape[1]} are not [bos?] + 2 x {block}")
    return off


def _at_least_fp32(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


def induction_score_grid(
    model, tokens: Int[Tensor, "batch pos"], block: int
) -> Float[Tensor, "layers heads"]:
    """Induction score of every head from one forward that caches only the patterns."""
    _offset(tokens, block)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    return torch.stack(
        [
            induction_scores(_at_least_fp32(cache[f"blocks.{layer}.attn.hook_pattern"]), block)
            for layer in range(model.cfg.n_layers)
        ]
    ).cpu()


@dataclass
class RepeatedLoss:
    """Next-token losses on `[bos?] r r`: `per_token[b, t]` is the loss of predicting token t+1."""

    per_token: Float[Tensor, "batch pos_minus_1"]
    first_half: float  # mean over predictions of r_2..r_L in the first copy
    repeated_half: float  # mean over predictions of r_2..r_L in the second copy


def half_slices(tokens: Tensor, block: int) -> tuple[slice, slice]:
    """Index ranges into `per_token` (prediction of token t+1 sits at t) for the two halves."""
    off = _offset(tokens, block)
    # predicting token p sits at index p - 1; first copy p in [off+1, off+L), second in
    # [off+L+1, off+2L)
    return slice(off, off + block - 1), slice(off + block, off + 2 * block - 1)


def split_halves(per_token: Tensor, tokens: Tensor, block: int) -> RepeatedLoss:
    first, second = half_slices(tokens, block)
    per_token = per_token.detach().cpu()  # already >= fp32 (next_token_loss)
    return RepeatedLoss(
        per_token, float(per_token[:, first].mean()), float(per_token[:, second].mean())
    )


def repeated_loss(
    model, tokens: Int[Tensor, "batch pos"], block: int, fwd_hooks=()
) -> RepeatedLoss:
    """Per-token loss on repeated random tokens and its first-copy / repeated-copy means."""
    per_token = loss_with_hooks(model, tokens, list(fwd_hooks), per_token=True)
    return split_halves(per_token, tokens, block)


def ablated_repeated_loss(
    model,
    tokens: Int[Tensor, "batch pos"],
    block: int,
    heads: list[tuple[int, int]],
    means: dict[int, Tensor] | None = None,
) -> RepeatedLoss:
    """`repeated_loss` with the (layer, head) pairs zero-ablated (`means=None`) or set to `means`
    (`ablation.mean_z`), using the hooks of `arena_core.interp.ablation`."""
    return repeated_loss(model, tokens, block, head_ablation_hooks(heads, means))


def plot_repeated_loss(losses: dict[str, RepeatedLoss], tokens: Tensor, block: int, title: str):
    """Mean per-token loss along the sequence, one line per condition, halves shaded."""
    from matplotlib.figure import Figure

    first, second = half_slices(tokens, block)
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    for name, loss in losses.items():
        ax.plot(
            loss.per_token.mean(0), lw=1.2, label=f"{name} (repeated half {loss.repeated_half:.2f})"
        )
    ax.axvspan(first.start, first.stop - 1, color="0.9", zorder=0)
    ax.axvspan(second.start, second.stop - 1, color="#dbe9f6", zorder=0)
    ax.set_xlabel("position t (loss of predicting token t+1)")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title(title)
    # below the axes: the curves fill both halves of the plot
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
    fig.tight_layout()
    return fig


__all__ = [
    "RepeatedLoss",
    "ablated_repeated_loss",
    "half_slices",
    "induction_score_grid",
    "plot_repeated_loss",
    "repeated_loss",
    "repeated_random_tokens",
    "split_halves",
]
