"""How good is an SAE? Sparsity, reconstruction, latent health, and CE loss recovered (days 45–48).

- L0: the mean number of non-zero latents per row.
- Fraction of variance explained: 1 − Σ‖x̂ − x‖² / Σ‖x − x̄‖².
- Feature density: the fraction of rows on which each latent fires. Dead latents never fire on
  the evaluation set; dense ones fire on more than `dense_above` of the rows (10% by default);
  the histogram of log10(density) is the plot of Bricken et al. 2023.
- CE loss recovered (Bricken et al. 2023; Gao et al. 2024): splice the SAE into the model's
  forward pass (the hook's activation is replaced by its reconstruction) and compare the
  next-token cross-entropy with the clean run and with an ablation of the same activation:

      recovered = (CE_ablated − CE_spliced) / (CE_ablated − CE_clean)

  1 means the reconstruction is as good as the real activation for the model's predictions, 0
  means no better than the ablation. We report it against zero- and mean-ablation; zero-ablation
  of the residual stream is so destructive that it flatters every SAE.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.sae.base import SAE, SAEError


@dataclass
class SAEStats:
    l0: float
    fve: float
    mse: float
    dead_fraction: float
    dense_fraction: float
    density: Tensor  # [d_sae] firing frequency per latent


@torch.no_grad()
def sae_stats(
    sae: SAE,
    x: Float[Tensor, "n d_in"],
    target: Float[Tensor, "n d_out"] | None = None,
    batch_size: int = 4096,
    dense_above: float = 0.1,
) -> SAEStats:
    """L0, explained variance, MSE (summed over d, mean over rows) and latent densities."""
    if x.ndim != 2 or len(x) == 0:
        raise SAEError(f"x must be a non-empty [n, d] tensor, got {tuple(x.shape)}")
    target = x if target is None else target
    fires = torch.zeros(sae.cfg.d_sae)
    l0 = sq = 0.0
    for i in range(0, len(x), batch_size):
        f = sae.encode(x[i : i + batch_size])
        recon = sae.decode(f)
        fires += (f > 0).float().sum(0)
        l0 += (f > 0).float().sum().item()
        sq += (recon - target[i : i + batch_size]).pow(2).sum().item()
    total = (target - target.mean(0)).pow(2).sum().item()
    density = fires / len(x)
    return SAEStats(
        l0=l0 / len(x),
        fve=1 - sq / max(total, 1e-12),
        mse=sq / len(x),
        dead_fraction=(density == 0).float().mean().item(),
        dense_fraction=(density > dense_above).float().mean().item(),
        density=density,
    )


def log_density(density: Tensor, floor: float = 1e-7) -> Tensor:
    """log10 of the firing frequency of latents that fire at all (dead ones are counted apart)."""
    alive = density > 0
    return density[alive].clamp_min(floor).log10()


def next_token_ce(
    logits: Float[Tensor, "batch pos vocab"], tokens: Int[Tensor, "batch pos"], mask: Tensor
) -> Tensor:
    """Mean cross-entropy of predicting tokens[:, 1:] from logits[:, :-1] on real token pairs."""
    logp = logits[:, :-1].to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(-1)
    nll = -logp.gather(-1, tokens[:, 1:, None])[..., 0]
    valid = (mask[:, 1:] * mask[:, :-1]).bool()
    return nll[valid].mean()


def _fraction(num: float, den: float) -> float:
    return num / den if den != 0 else float("nan")


@torch.no_grad()
def ce_loss_recovered(
    model,
    sae: SAE,
    tokens: Int[Tensor, "batch pos"],
    mask: Int[Tensor, "batch pos"],
    hook: str,
    mean_act: Float[Tensor, " d"],
    max_norm: float | None = None,
) -> dict[str, float]:
    """Clean, spliced, zero- and mean-ablated CE, and the two recovered fractions.

    `model` is our `CausalLM` or a TransformerLens `HookedTransformer` (both have
    `run_with_hooks(tokens, fwd_hooks=[(name, fn)])`); right-padded `tokens` with `mask`.
    `max_norm`: positions whose activation norm exceeds it keep their clean activation in all
    three interventions (for SAEs trained without the rare "massive activation" tokens)."""
    if tokens.shape != mask.shape:
        raise SAEError(f"tokens {tuple(tokens.shape)} and mask {tuple(mask.shape)} differ")
    if mean_act.shape != (sae.cfg.d_in,):
        raise SAEError(f"mean_act must have shape ({sae.cfg.d_in},), got {tuple(mean_act.shape)}")
    kw = {"attention_mask": mask} if not hasattr(model, "W_U") else {}

    def only_below_norm(fn):
        def wrapped(a, hook=None):
            new = fn(a)
            if max_norm is None:
                return new
            return torch.where(a.norm(dim=-1, keepdim=True) > max_norm, a, new)

        return wrapped

    def run(fn=None) -> float:
        hooks = [] if fn is None else [(hook, only_below_norm(fn))]
        return next_token_ce(
            model.run_with_hooks(tokens, fwd_hooks=hooks, **kw), tokens, mask
        ).item()

    clean = run()
    spliced = run(lambda a: sae(a.to(sae.W_enc.dtype)).to(a.dtype))
    zero = run(lambda a: torch.zeros_like(a))
    mean = run(lambda a: mean_act.to(a.dtype).expand_as(a).clone())
    return {
        "ce_clean": clean,
        "ce_spliced": spliced,
        "ce_zero_ablation": zero,
        "ce_mean_ablation": mean,
        "recovered_vs_zero": _fraction(zero - spliced, zero - clean),
        "recovered_vs_mean": _fraction(mean - spliced, mean - clean),
    }
