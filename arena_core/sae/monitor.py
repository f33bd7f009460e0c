"""An SAE as a monitor: pick the latents that fire for a concept, read them as a score (day 48).

A linear probe (days 39–40) learns one direction w from labelled activations. An SAE offers a
cheaper alternative that needs labels only to *choose*: its latents were learned without labels,
and if one of them already tracks a concept ("French", "Python code"), its activation is a ready
monitor (Templeton et al. 2024, "Scaling Monosemanticity", safety-relevant features; Gao et al.
2024 compare SAE latents with probes on downstream tasks).

    pooled code of a text   f̄ = mean_t f(x_t)    over the text's tokens t (position 0 dropped)
    latent i's train AUROC  A_i = P(f̄_i(pos) > f̄_i(neg)) + ½ P(tie)
    monitor, top-k          s(text) = Σ_{i ∈ top-k} f̄_i(text)

Latents are ranked on the TRAIN split only, by AUROC (ties, common when many latents separate
the train set perfectly, broken by the mean-activation difference μ₊ − μ₋). Only latents that
fire *more* for the concept are used, so a larger score means more concept.

`pooled_codes` runs the model once per batch and returns, for each text, the mean residual (what
the probe reads) and the mean SAE code over the same tokens (what the monitor reads), together
with how often each latent fired (its density, used to draw a control latent). Tokens whose
residual norm is above `massive` × the batch median (attention-sink-like outliers) are left out
of both means, as the SAE's training data left them out.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from arena_core.probes.spans import _check_spans, span_batches
from arena_core.sae.base import SAE, SAEError


@dataclass
class PooledCodes:
    """Per text: mean residual `resid [n d]` and mean code `codes [n m]` over its span; `fired
    [m]` counts the span tokens on which each latent was active, out of `n_tokens`."""

    resid: Tensor
    codes: Tensor
    fired: Tensor
    n_tokens: int
    extra: dict[str, Tensor] = field(default_factory=dict)  # mean residual at `read_hooks`

    @property
    def density(self) -> Tensor:
        return self.fired / max(1, self.n_tokens)


@torch.no_grad()
def pooled_codes(
    model: torch.nn.Module,
    sae: SAE,
    rows: Sequence[Sequence[int]],
    spans: Sequence[tuple[int, int]],
    hook: str,
    batch_size: int = 16,
    pad_id: int = 0,
    massive: float = 10.0,
    desc: str = "SAE codes",
    make_hook: Callable[[Tensor], Callable] | None = None,
    read_hooks: Sequence[str] = (),
) -> PooledCodes:
    """Mean residual and mean SAE code over tokens `start .. end-1` of each token list.

    `make_hook(mask)`, if given, builds a hook for each padded batch (mask = its attention mask)
    that runs at `hook` *before* the residual is read: codes and means of an intervened model.
    `read_hooks` (e.g. a later layer) are pooled over the same tokens into `extra`."""
    unknown = [h for h in [hook, *read_hooks] if h not in model.hook_dict]
    if unknown:
        raise SAEError(f"unknown hooks {unknown}; see model.hook_dict")
    rows = [[int(t) for t in r] for r in rows]
    _check_spans(rows, spans)
    d, m = sae.cfg.d_in, sae.cfg.d_sae
    resid, codes = torch.empty(len(rows), d), torch.empty(len(rows), m)
    fired, n_tokens = torch.zeros(m), 0
    extra = {h: torch.empty(len(rows), d) for h in read_hooks}
    hooks = [hook, *read_hooks]
    batches = span_batches(model, rows, spans, hooks, batch_size, pad_id, desc, make_hook)
    for rows_at, got, keep in batches:
        x = got[hook].float().cpu()
        keep = keep.bool()
        norms = x.norm(dim=-1)
        keep &= norms <= massive * norms[keep].median()
        if bool((keep.sum(1) == 0).any()):
            raise SAEError("a text has no token left to pool after dropping outliers")
        f = sae.encode(x.to(sae.W_enc.dtype)).float()
        w = keep.float()[..., None]
        resid[rows_at] = (x * w).sum(1) / w.sum(1)
        codes[rows_at] = (f * w).sum(1) / w.sum(1)
        for h in read_hooks:
            extra[h][rows_at] = (got[h].float().cpu() * w).sum(1) / w.sum(1)
        fired += ((f > 0) & keep[..., None]).sum((0, 1)).float()
        n_tokens += int(keep.sum())
    return PooledCodes(resid, codes, fired, n_tokens, extra)


def latent_aurocs(
    codes: Float[Tensor, "n m"], labels: Shaped[Tensor, " n"], chunk: int = 256
) -> Float[Tensor, " m"]:
    """AUROC of every column of `codes` alone for binary `labels` (ties count ½), vectorised:
    the fraction of (positive, negative) pairs in which the positive scores higher."""
    if codes.dim() != 2 or labels.shape != codes.shape[:1]:
        raise SAEError(f"codes {tuple(codes.shape)} and labels {tuple(labels.shape)} do not fit")
    y = labels.bool()
    if bool(y.all()) or not bool(y.any()):
        raise SAEError("labels must contain both classes")
    pos, neg = codes[y].double(), codes[~y].double()
    out = torch.empty(codes.shape[1], dtype=torch.float64)
    for c0 in range(0, codes.shape[1], chunk):
        p, q = pos[:, None, c0 : c0 + chunk], neg[None, :, c0 : c0 + chunk]
        out[c0 : c0 + chunk] = ((p > q).double() + 0.5 * (p == q).double()).mean((0, 1))
    return out


@dataclass(frozen=True)
class LatentRanking:
    """Latents best-first (`order`), with each latent's train AUROC and μ₊ − μ₋."""

    order: Tensor
    auroc: Tensor
    mean_diff: Tensor

    def top(self, k: int) -> list[int]:
        """The first k latents that fire more for the concept (μ₊ > μ₋)."""
        up = [int(i) for i in self.order if self.mean_diff[i] > 0]
        if len(up) < k:
            raise SAEError(f"only {len(up)} latents fire more on the concept; asked for {k}")
        return up[:k]


def rank_latents(codes: Float[Tensor, "n m"], labels: Shaped[Tensor, " n"]) -> LatentRanking:
    """Rank latents by train AUROC, ties broken by the mean-activation difference."""
    auc = latent_aurocs(codes, labels)
    y = labels.bool()
    diff = codes[y].double().mean(0) - codes[~y].double().mean(0)
    by_diff = torch.argsort(diff, descending=True, stable=True)
    order = by_diff[torch.argsort(auc[by_diff], descending=True, stable=True)]
    return LatentRanking(order, auc, diff)


@dataclass(frozen=True)
class LatentMonitor:
    """Score = sum of the chosen latents' pooled activations."""

    latents: tuple[int, ...]

    def scores(self, codes: Float[Tensor, "n m"]) -> Float[Tensor, " n"]:
        check_latents(codes.shape[1], self.latents)
        return codes[:, list(self.latents)].double().sum(1)


def check_latents(d_sae: int, latents: Sequence[int]) -> None:
    """A clear error for an empty list or an index outside 0 .. d_sae − 1."""
    if len(latents) == 0:
        raise SAEError("no latents given")
    bad = [int(i) for i in latents if not 0 <= int(i) < d_sae]
    if bad:
        raise SAEError(f"latent indices {bad} out of range for an SAE with {d_sae} latents")


def fit_monitor(codes: Float[Tensor, "n m"], labels: Shaped[Tensor, " n"], k: int = 1):
    """(LatentMonitor of the top-k latents on these (train) codes, the full ranking)."""
    if k < 1:
        raise SAEError(f"k must be >= 1, got {k}")
    ranking = rank_latents(codes, labels)
    return LatentMonitor(tuple(ranking.top(k))), ranking
