"""What a latent does, read off a corpus: codes, top contexts, histograms, logit effects (day 47).

A feature dashboard (Bricken et al. 2023, "Towards Monosemanticity"; SAELens / sae_vis) answers
"when does latent i fire, and what does it push the model to say?" from a few statistics:

- **codes on a corpus**: f_i(x_t) for every token t of every row, from one batched pass over the
  stored activations (`encode_grid`; the attention-sink position is dropped upstream and tokens
  whose norm is above 10x the median are zeroed, as when the SAE was trained);
- **top-activating contexts**: the rows where max_t f_i is largest, each shown as a window around
  its arg-max token (`top_contexts`: one context per row, so a long run of one pattern in one
  row cannot fill the list);
- **quantile samples**: contexts drawn evenly from the activation range (`quantile_contexts`),
  because the top examples alone over-state how specific a latent is (Bills et al. 2023);
- **silent contexts**: windows from rows where the latent never fires (the negatives of the
  detection score, `silent_contexts`);
- **the activation histogram** over the tokens where it fires, and its density;
- **logit effects**: the direct effect of writing the decoder row into the residual stream on the
  logits, W_dec[i] ⊙ γ · W_U, where γ is the final RMSNorm's gain. The norm's 1/rms(x) factor
  depends on the token and is positive, so it rescales every logit alike and is left out: the
  ranking of tokens is exact, the size is up to that factor. It is the *direct path* only: from a
  middle layer the later blocks also act on the latent's direction.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.sae.base import SAE, SAEError


@dataclass(frozen=True)
class Context:
    """A window of one corpus row around position `pos` (the latent's peak, or a random place)."""

    row: int
    pos: int  # position in the row of the peak token (for silent contexts: the window's end)
    value: float  # the latent's activation at `pos`
    start: int  # window is row positions start..stop-1
    stop: int
    acts: tuple[float, ...]  # the latent's activation on each token of the window


@dataclass
class LatentStats:
    """Per-row maxima and arg-maxima of every latent, and each latent's firing density."""

    row_max: Float[Tensor, "rows d_sae"]
    row_argmax: Tensor  # [rows d_sae] long
    density: Float[Tensor, " d_sae"]  # fraction of (kept) tokens with f_i > 0
    n_tokens: int


def _check_grid(acts: Tensor, sae: SAE) -> None:
    if acts.dim() != 3 or acts.shape[0] == 0 or acts.shape[1] == 0:
        raise SAEError(
            f"activations must be a non-empty [rows pos d] grid, got {tuple(acts.shape)}"
        )
    if acts.shape[-1] != sae.cfg.d_in:
        raise SAEError(f"activations have width {acts.shape[-1]}, the SAE reads {sae.cfg.d_in}")


@torch.no_grad()
def encode_grid(
    sae: SAE,
    acts: Tensor,  # [rows pos d_in], checked with a clear error
    latents: Tensor | list[int] | None = None,
    keep: Tensor | None = None,
    chunk_rows: int = 32,
) -> Float[Tensor, "rows pos k"]:
    """Codes f(x) of every token, for the columns `latents` (all when None), in row chunks.

    `keep [rows pos]` (bool) zeroes the codes of tokens left out (e.g. massive-norm tokens)."""
    _check_grid(acts, sae)
    idx = None if latents is None else torch.as_tensor(latents, dtype=torch.long)
    if idx is not None and (idx.numel() == 0 or idx.min() < 0 or idx.max() >= sae.cfg.d_sae):
        raise SAEError(f"latent indices must be in 0..{sae.cfg.d_sae - 1}")
    out = []
    for r0 in range(0, acts.shape[0], chunk_rows):
        f = sae.encode(acts[r0 : r0 + chunk_rows].float())
        out.append(f if idx is None else f[..., idx])
    codes = torch.cat(out)
    if keep is not None:
        codes = codes * keep[..., None].to(codes.dtype)
    return codes


@torch.no_grad()
def latent_stats(
    sae: SAE, acts: Tensor, keep: Tensor | None = None, chunk_rows: int = 32
) -> LatentStats:
    """Row maxima / arg-maxima and densities of all latents, without keeping the full code grid."""
    _check_grid(acts, sae)
    maxes, argmaxes, fired = [], [], torch.zeros(sae.cfg.d_sae, dtype=torch.float64)
    for r0 in range(0, acts.shape[0], chunk_rows):
        k = None if keep is None else keep[r0 : r0 + chunk_rows]
        f = encode_grid(sae, acts[r0 : r0 + chunk_rows], keep=k, chunk_rows=chunk_rows)
        m, a = f.max(dim=1)
        maxes.append(m)
        argmaxes.append(a)
        fired += (f > 0).sum(dim=(0, 1)).double()
    n = int(keep.sum()) if keep is not None else acts.shape[0] * acts.shape[1]
    return LatentStats(torch.cat(maxes), torch.cat(argmaxes), (fired / max(n, 1)).float(), n)


def _window(n_pos: int, pos: int, before: int, after: int) -> tuple[int, int]:
    return max(0, pos - before), min(n_pos, pos + after + 1)


def _rows(codes: Tensor, rows: Tensor | list[int] | None) -> Tensor:
    if codes.dim() != 2:
        raise SAEError(f"codes of one latent must be [rows pos], got {tuple(codes.shape)}")
    return torch.arange(codes.shape[0]) if rows is None else torch.as_tensor(rows, dtype=torch.long)


def _context(codes: Tensor, row: int, pos: int, before: int, after: int) -> Context:
    lo, hi = _window(codes.shape[1], pos, before, after)
    window = codes[row, lo:hi].tolist()
    return Context(row, pos, float(codes[row, pos]), lo, hi, tuple(window))


def top_contexts(
    codes: Tensor,  # [rows pos] of one latent
    k: int,
    before: int = 12,
    after: int = 3,
    rows: Tensor | list[int] | None = None,
) -> list[Context]:
    """The `k` rows (among `rows`) with the largest peak activation, as windows of `before`
    tokens before and `after` after the peak; rows where the latent never fires are skipped."""
    if k < 1 or before < 0 or after < 0:
        raise SAEError("need k >= 1 and non-negative window sizes")
    rows = _rows(codes, rows)
    peak, where = codes[rows].max(dim=1)
    order = torch.argsort(peak, descending=True, stable=True)[:k]
    return [
        _context(codes, int(rows[i]), int(where[i]), before, after)
        for i in order.tolist()
        if peak[i] > 0
    ]


def quantile_contexts(
    codes: Tensor,  # [rows pos] of one latent
    n: int,
    n_bins: int = 5,
    before: int = 12,
    after: int = 3,
    rows: Tensor | list[int] | None = None,
    generator: torch.Generator | None = None,
) -> list[Context]:
    """`n` activating contexts spread over the range of peak activations: the rows that fire are
    sorted by peak and cut into `n_bins` equal-count bins, and about n / n_bins are drawn from
    each bin at random (fewer when the latent fires in fewer rows)."""
    if n < 1 or n_bins < 1:
        raise SAEError("need n >= 1 and n_bins >= 1")
    rows = _rows(codes, rows)
    peak, where = codes[rows].max(dim=1)
    firing = torch.nonzero(peak > 0).flatten()
    firing = firing[torch.argsort(peak[firing], stable=True)]
    bins = [b for b in torch.tensor_split(firing, min(n_bins, max(len(firing), 1))) if len(b)]
    picked: list[int] = []
    for j, b in enumerate(bins):
        want = n // len(bins) + (1 if j < n % len(bins) else 0)
        sel = torch.randperm(len(b), generator=generator)[:want]
        picked += b[sel].tolist()
    return [_context(codes, int(rows[i]), int(where[i]), before, after) for i in picked]


def silent_contexts(
    codes: Tensor,  # [rows pos] of one latent
    n: int,
    length: int = 16,
    rows: Tensor | list[int] | None = None,
    generator: torch.Generator | None = None,
) -> list[Context]:
    """`n` windows of `length` tokens at random places in rows where the latent never fires
    (one per row, rows drawn without replacement; fewer when fewer such rows exist)."""
    if n < 1 or not 1 <= length <= codes.shape[-1]:
        raise SAEError(f"need n >= 1 and 1 <= length <= {codes.shape[-1]}")
    rows = _rows(codes, rows)
    quiet = rows[codes[rows].max(dim=1).values <= 0]
    quiet = quiet[torch.randperm(len(quiet), generator=generator)[:n]]
    starts = torch.randint(0, codes.shape[1] - length + 1, (len(quiet),), generator=generator)
    return [
        Context(int(r), int(s) + length - 1, 0.0, int(s), int(s) + length, (0.0,) * length)
        for r, s in zip(quiet.tolist(), starts.tolist(), strict=True)
    ]


def activation_histogram(
    values: Tensor, bins: int = 30
) -> tuple[Float[Tensor, " bins"], Float[Tensor, " edges"]]:
    """Counts and bin edges of the non-zero activations in `values` (any shape)."""
    if bins < 1:
        raise SAEError("bins must be >= 1")
    nz = values[values > 0].double()
    if nz.numel() == 0:
        return torch.zeros(bins), torch.linspace(0, 1, bins + 1)
    hi = nz.max().item()
    counts = torch.histc(nz, bins=bins, min=0.0, max=hi)
    return counts.float(), torch.linspace(0.0, hi, bins + 1)


def logit_effects(
    w_dec: Tensor,  # [k d_model]
    w_u: Tensor,  # [d_model d_vocab]
    gain: Tensor | None = None,  # [d_model]
) -> Float[Tensor, "k d_vocab"]:
    """Direct-path logit effect of each decoder row: (W_dec[i] ⊙ γ) W_U (γ = final norm gain)."""
    if w_dec.dim() != 2 or w_u.dim() != 2 or w_dec.shape[1] != w_u.shape[0]:
        raise SAEError(f"W_dec {tuple(w_dec.shape)} and W_U {tuple(w_u.shape)} do not chain")
    if gain is not None:
        if gain.shape != (w_dec.shape[1],):
            raise SAEError(f"gain must have shape ({w_dec.shape[1]},), got {tuple(gain.shape)}")
        w_dec = w_dec * gain
    return w_dec @ w_u


def top_logit_tokens(effects: Float[Tensor, " d_vocab"], k: int = 10) -> dict[str, list]:
    """The `k` most promoted and most suppressed token ids with their effects."""
    top = torch.topk(effects, k)
    bottom = torch.topk(-effects, k)
    return {
        "top_ids": top.indices.tolist(),
        "top_values": top.values.tolist(),
        "bottom_ids": bottom.indices.tolist(),
        "bottom_values": (-bottom.values).tolist(),
    }
