"""Latent attribution patching: which SAE latents, at which positions, carry a behaviour? (58)

Exact activation patching (`arena_core.interp.patching`) needs one forward per patched unit; an
SAE has thousands of latents at every position. Attribution patching (Nanda 2023; Syed et al.
2023, https://arxiv.org/abs/2310.10348; for SAE latents Marks et al. 2024, "Sparse Feature
Circuits") replaces each patch by its first-order Taylor estimate around the corrupted run:

    m(patch f_{p,i} ← f^clean_{p,i}) − m(corrupted)  ≈  (f^clean_{p,i} − f^corr_{p,i}) · ∂m/∂f_{p,i}

evaluated with the SAE spliced in (`splice.py`: x = x̂(f) + e, the error e held fixed, so the
corrupted run is unchanged). One clean forward (codes f^clean) and one corrupted forward +
backward give the estimate for every latent at every position. Summed over the prompts of the
batch it estimates patching that latent in all of them at once, in the metric's units. The error
term gets the same treatment: (e^clean_p − e^corr_p) · ∂m/∂e_p is what the SAE's residual carries.

It is a linear estimate: where a patch moves the model far (a saturated softmax, a name mover
switching its attention), it can be off, so the top latents are checked with exact patches
(`patch_codes`).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.sae.base import SAE, SAEError
from arena_core.sae.splice import CodeEdit, run_spliced, splice_hook

Metric = Callable[[Tensor], Tensor]


@dataclass
class LatentAttribution:
    """Attribution of a metric to every (position, latent) and to the error term per position."""

    latents: Float[Tensor, "pos d_sae"]  # Σ_batch (f_clean − f_corr) ∂m/∂f
    error: Float[Tensor, " pos"]  # Σ_batch Σ_d (e_clean − e_corr) ∂m/∂e
    metric_clean: float
    metric_corrupted: float
    codes_clean: Float[Tensor, "batch pos d_sae"]
    codes_corrupted: Float[Tensor, "batch pos d_sae"]
    error_clean: Float[Tensor, "batch pos d"]

    def top(self, k: int) -> list[tuple[int, int, float]]:
        """The k (position, latent, attribution) with the largest |attribution|."""
        flat = self.latents.flatten()
        idx = flat.abs().topk(min(k, flat.numel())).indices
        d = self.latents.shape[1]
        return [(int(j) // d, int(j) % d, float(flat[j])) for j in idx]


def _scalar(m: Tensor) -> Tensor:
    if m.dim() != 0:
        raise SAEError(f"the metric must return a scalar, got shape {tuple(m.shape)}")
    return m


def latent_attribution(
    model,
    sae: SAE,
    hook_name: str,
    clean_tokens: Tensor,
    corrupted_tokens: Tensor,
    metric: Metric,
    **fwd,
) -> LatentAttribution:
    """Attribution patching of every SAE latent at every position (clean → corrupted run).

    `metric(logits)` must be a scalar (e.g. the mean logit difference of the batch); `fwd` goes
    to every forward (e.g. `last_only=True` when the metric reads only the last position)."""
    if clean_tokens.shape != corrupted_tokens.shape:
        raise SAEError(
            f"clean {tuple(clean_tokens.shape)} and corrupted "
            f"{tuple(corrupted_tokens.shape)} tokens must have the same shape"
        )
    logits, f_clean, e_clean = run_spliced(model, sae, hook_name, clean_tokens, **fwd)
    m_clean = float(_scalar(metric(logits)))
    store: dict = {}
    with torch.enable_grad():
        out = model.run_with_hooks(corrupted_tokens,
                                   fwd_hooks=[(hook_name, splice_hook(sae, None, store, True))],
                                   **fwd)  # fmt: skip
        m = _scalar(metric(out))
        g_f, g_e = torch.autograd.grad(m, [store["codes"], store["error"]])
    f_corr, e_corr = store["codes"].detach(), store["error"].detach()
    return LatentAttribution(
        latents=((f_clean - f_corr) * g_f).sum(0),
        error=((e_clean - e_corr) * g_e).sum((0, 2)),
        metric_clean=m_clean,
        metric_corrupted=float(m.detach()),
        codes_clean=f_clean,
        codes_corrupted=f_corr,
        error_clean=e_clean,
    )


def patch_codes(
    model, sae: SAE, hook_name: str, tokens: Tensor, edit: CodeEdit, metric: Metric, **fwd
) -> float:
    """The metric of `tokens` with the SAE spliced in and its codes edited by `edit` (an exact
    patch or ablation, e.g. `splice.replace_codes(clean_codes, mask)`)."""
    logits, _, _ = run_spliced(model, sae, hook_name, tokens, edit, **fwd)
    return float(_scalar(metric(logits)))
