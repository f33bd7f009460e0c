"""SAE latents read by IOI role, over (template, order) batches (day 58).

An IOI dataset mixes two orders: in ABBA prompts IO comes before S1, in BABA prompts S1 comes
before IO. Within one template the two orders have the same length but *different* IO and S1
columns, so "the code of latent i at IO" must be read at each batch's own column:
`ioi.template_batches` groups by template *and* order, and everything here indexes a batch by
`batch.positions[role]`, never by the columns of some other prompt.

- `paired_batches`: the clean batches and, row for row, the same prompts of corrupted datasets
  (`data.ioi.corrupt` keeps every position, so the batches line up; checked);
- `mean_ld`: prompt-weighted mean logit difference (IO − S of the clean batch) of any tokens of the
  same shape, with optional per-batch hooks;
- `role_attribution`: latent attribution patching (`sae.attribution.latent_attribution`) summed
  over batches and read per role: `[roles + 1, d_sae]` (last row: every other position);
- `patch_role_latents`: the exact patch of clean codes of chosen (role, latent) units, or every
  latent at a role, into the corrupted run; `role_code_sums`: Σ codes per role.

All metrics are in logits of the mean LD over all prompts (each batch contributes its LD sum / n).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from arena_core.errors import UserError
from arena_core.interp.ioi import TemplateBatch, template_batches
from arena_core.interp.patching import logit_diff
from arena_core.sae.attribution import latent_attribution, patch_codes
from arena_core.sae.splice import replace_codes

ROLES = ("IO", "S1", "S1+1", "S2", "end")


class IOILatentsError(UserError, ValueError):
    """Batches that do not line up, unknown roles, empty inputs."""


def paired_batches(data, *corrupted) -> tuple[list[TemplateBatch], ...]:
    """`template_batches` of `data` and of each corrupted dataset, checked to hold the same
    prompts in the same rows with the same role columns."""
    out = [template_batches(data)]
    for other in corrupted:
        bs = template_batches(other)
        if [(b.idx, b.positions) for b in bs] != [(b.idx, b.positions) for b in out[0]]:
            raise IOILatentsError("the corrupted dataset's batches do not line up with the clean")
        out.append(bs)
    return tuple(out)


def take(batches: list[TemplateBatch], k: int) -> list[TemplateBatch]:
    """The first k prompts of every batch."""
    if k < 1:
        raise IOILatentsError(f"k must be >= 1, got {k}")
    return [TemplateBatch(b.idx[:k], b.tokens[:k], b.positions, b.io_ids[:k], b.s_ids[:k])
            for b in batches]  # fmt: skip


def _n(batches: list[TemplateBatch]) -> int:
    if not batches:
        raise IOILatentsError("no batches given")
    return sum(len(b.idx) for b in batches)


def ld_share(b: TemplateBatch, n: int) -> Callable[[Tensor], Tensor]:
    """Metric: this batch's share of the mean LD over n prompts (sum of its LDs / n)."""
    return lambda logits: logit_diff(logits, b.answers) * len(b.idx) / n


@torch.no_grad()
def mean_ld(model, batches: list[TemplateBatch], tokens: Sequence[Tensor] | None = None,
            hooks_for: Callable | None = None) -> float:  # fmt: skip
    """Mean logit[IO] − logit[S] (answers of `batches`) at END over all prompts, running
    `tokens[k]` (default: the batches' own) with the hooks `hooks_for(k, batch)`."""
    n, tot = _n(batches), 0.0
    for k, b in enumerate(batches):
        x = b.tokens if tokens is None else tokens[k]
        hooks = [] if hooks_for is None else hooks_for(k, b)
        tot += ld_share(b, n)(model.run_with_hooks(x, fwd_hooks=hooks, last_only=True)).item()
    return tot


@dataclass
class RoleAttribution:
    latents: Tensor  # [roles + 1, d_sae]: Σ over prompts at each role; last row: other positions
    error: Tensor  # [roles + 1]: the SAE error term's attribution, same rows
    codes: list[tuple[Tensor, Tensor]]  # per batch: clean codes [b pos d_sae], errors [b pos d]
    metric_clean: float  # mean LD, clean (SAE spliced with its error: the model's own)
    metric_corrupted: float


def _rows(x: Tensor, cols: list[int]) -> Tensor:
    other = [c for c in range(x.shape[0]) if c not in cols]
    return torch.cat([x[cols], x[other].sum(0, keepdim=True)])


def role_attribution(model, sae, hook: str, batches: list[TemplateBatch],
                     corrupted: list[TemplateBatch], roles: Sequence[str] = ROLES
                     ) -> RoleAttribution:  # fmt: skip
    """Attribution patching of every latent, clean -> corrupted, on the mean LD, per role."""
    n = _n(batches)
    lat, err, codes, m1, m0 = 0.0, 0.0, [], 0.0, 0.0
    for b, c in zip(batches, corrupted, strict=True):
        a = latent_attribution(model, sae, hook, b.tokens, c.tokens, ld_share(b, n),
                               last_only=True)  # fmt: skip
        cols = [b.positions[r] for r in roles]
        lat = lat + _rows(a.latents, cols).detach().cpu()
        err = err + _rows(a.error, cols).detach().cpu()
        codes.append((a.codes_clean, a.error_clean))
        m1, m0 = m1 + a.metric_clean, m0 + a.metric_corrupted
    return RoleAttribution(lat, err, codes, m1, m0)


def patch_role_latents(model, sae, hook: str, batches: list[TemplateBatch],
                       corrupted: list[TemplateBatch], codes: list[tuple[Tensor, Tensor]],
                       units: Sequence[tuple[str, int | None]], include_error: bool = False
                       ) -> float:  # fmt: skip
    """Mean LD of the corrupted prompts with the clean codes of `units` [(role, latent)] patched
    in at each batch's role column (latent None: every latent there, and with `include_error`
    the error term too)."""
    n, d_sae, tot = _n(batches), sae.cfg.d_sae, 0.0
    for b, c, (f, e) in zip(batches, corrupted, codes, strict=True):
        mask = torch.zeros(c.tokens.shape[1], d_sae, dtype=torch.bool)
        where = torch.zeros(c.tokens.shape[1], dtype=torch.bool)
        for role, lat in units:
            if role not in b.positions:
                raise IOILatentsError(f"unknown role {role!r}; known: {sorted(b.positions)}")
            col = b.positions[role]
            if lat is None:
                mask[col], where[col] = True, True
            else:
                mask[col, lat] = True
        edit = replace_codes(f, mask, e, where) if include_error else replace_codes(f, mask)
        tot += patch_codes(model, sae, hook, c.tokens, edit, ld_share(b, n), last_only=True)
    return tot


def role_code_sums(batches: list[TemplateBatch], codes: list[tuple[Tensor, Tensor]],
                   roles: Sequence[str] = ROLES) -> Tensor:  # fmt: skip
    """`[roles d_sae]`: Σ over prompts of each latent's clean code at each role."""
    return torch.stack([
        sum(f[:, b.positions[r]].sum(0).float().cpu() for b, (f, _) in zip(batches, codes,
                                                                          strict=True))
        for r in roles
    ])  # fmt: skip


__all__ = ["ROLES", "IOILatentsError", "RoleAttribution", "ld_share", "mean_ld",
           "paired_batches", "patch_role_latents", "role_attribution", "role_code_sums",
           "take"]  # fmt: skip
