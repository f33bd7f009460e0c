"""Causal tests of an SAE latent: steer along its decoder row, ablate it, measure the change (48).

A monitor that reads latent i says the concept is *present*; the decoder row W_dec[i] says what
the latent *writes*. Two interventions at the SAE's hook point test whether the model uses it:

    steering   x' = x + α · ‖x‖ · W_dec[i] / ‖W_dec[i]‖      α in units of the residual norm
    ablation   x' = x − f_i(x) · W_dec[i]                   the latent's share of x̂ taken out

(Templeton et al. 2024 clamp features to steer; ablating one latent's reconstruction term is the
splice of Marks et al. 2024, "Sparse Feature Circuits", for a single feature). The ablation keeps
the SAE's error term and every other latent, so it removes exactly what latent i contributes.

`intervention_effect` runs clean and intervened forwards of the same token lists and returns the
next-token loss on the text (cost), the probability mass on a set of concept tokens (effect), the
KL divergence of the next-token distributions and the mean change of each token's probability
(which tokens lose or gain). Controls: a random direction of the same norm
(`arena_core.probes.activation_addition.random_direction`) for steering, and a random latent of
similar firing density (`similar_density_latent`) for ablation.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from arena_core.probes.activations import pad_batch
from arena_core.probes.spans import _check_spans, span_mask
from arena_core.sae.base import SAE, SAEError
from arena_core.sae.monitor import check_latents

HookFactory = Callable[[Tensor], Callable[[Tensor, Any], Tensor]]


def decoder_direction(sae: SAE, latent: int, norm: float = 1.0) -> Float[Tensor, " d"]:
    """W_dec[latent] rescaled to length `norm` (detached, float32)."""
    check_latents(sae.cfg.d_sae, [latent])
    w = sae.W_dec[latent].detach().float()
    return w / w.norm() * norm


def ablation_hook(
    sae: SAE, latents: Sequence[int], positions: Bool[Tensor, "batch pos"] | None = None
) -> Callable[[Tensor, Any], Tensor]:
    """A hook returning x − Σ_{i ∈ latents} f_i(x) W_dec[i] (at `positions`, a bool mask; all
    columns when None). TransformerLens's calling convention: it runs on a HookedTransformer too."""
    idx = [int(i) for i in latents]
    check_latents(sae.cfg.d_sae, idx)

    def hook(x: Tensor, hook: Any) -> Tensor:
        if x.shape[-1] != sae.cfg.d_in:
            raise SAEError(f"activation width {x.shape[-1]} != SAE d_in {sae.cfg.d_in}")
        with torch.no_grad():
            f = sae.encode(x.to(sae.W_dec.dtype))[..., idx]
            delta = (f @ sae.W_dec[idx]).to(x.dtype)
        if positions is not None:
            delta = delta * positions.to(x.device, x.dtype)[..., None]
        return x - delta

    return hook


@contextmanager
def ablate_latents(model, hook_name: str, sae: SAE, latents: Sequence[int], positions=None):
    """Within the block, every forward of our model has `latents` spliced out at `hook_name`."""
    if hook_name not in model.hook_dict:
        raise SAEError(f"unknown hook {hook_name!r}; see model.hook_dict")
    point = model.hook_dict[hook_name]
    fn = ablation_hook(sae, latents, positions)
    point.add_hook(fn)
    try:
        yield model
    finally:
        point.hooks.remove(fn)


def similar_density_latent(
    density: Float[Tensor, " m"],
    latent: int,
    exclude: Sequence[int],
    generator: torch.Generator,
    tolerance: float = 0.5,
) -> int:
    """A random latent whose density is within ×(1 ± tolerance) of `latent`'s (the nearest
    in log-density if none is), not in `exclude`."""
    check_latents(len(density), [latent, *exclude])
    target = float(density[latent])
    ok = (density >= target * (1 - tolerance)) & (density <= target * (1 + tolerance))
    ok &= density > 0
    ok[list(exclude) + [latent]] = False
    pool = torch.nonzero(ok).flatten()
    if len(pool) == 0:
        gap = (density.clamp_min(1e-9).log() - torch.tensor(target).clamp_min(1e-9).log()).abs()
        gap[list(exclude) + [latent]] = float("inf")
        return int(gap.argmin())
    return int(pool[torch.randint(len(pool), (1,), generator=generator)])


def distinctive_tokens(
    tokenizer, positive: Sequence[str], negative: Sequence[str], min_count: int = 2
) -> list[int]:
    """Token ids used at least `min_count` times in the positive texts and never in the
    negative ones: the concept's own vocabulary (French words, code punctuation ...)."""
    pos = Counter(t for s in positive for t in tokenizer(s, add_special_tokens=False).input_ids)
    neg = {t for s in negative for t in tokenizer(s, add_special_tokens=False).input_ids}
    return sorted(t for t, c in pos.items() if c >= min_count and t not in neg)


def real_positions(mask: Tensor, skip_first: int = 1) -> Tensor:
    """Bool mask of the real tokens of each row from its `skip_first`-th on (left padding)."""
    first = mask.argmax(dim=1)
    cols = torch.arange(mask.shape[1])[None]
    return mask.bool() & (cols >= (first + skip_first)[:, None])


@dataclass
class Effect:
    """Clean vs intervened next-token predictions over the measured positions."""

    nll_clean: float  # mean −log p(actual next token)
    nll: float
    mass_clean: float  # mean probability on the concept tokens
    mass: float
    kl: float  # mean KL(clean ‖ intervened), nats
    delta_prob: Tensor  # [vocab] mean p_intervened − p_clean
    n_positions: int


@torch.no_grad()
def intervention_effect(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    spans: Sequence[tuple[int, int]],
    hook_name: str,
    make_hook: HookFactory,
    pad_id: int,
    token_set: Sequence[int] = (),
    batch_size: int = 8,
    cache: dict | None = None,
) -> Effect:
    """Next-token statistics at the span positions of `rows`, without and with the hook that
    `make_hook(mask)` builds for each padded batch (mask = its attention mask, 1 = real).

    Pass the same `cache` dict to calls on the same rows to compute the clean forward once."""
    if hook_name not in model.hook_dict:
        raise SAEError(f"unknown hook {hook_name!r}; see model.hook_dict")
    rows = [[int(t) for t in r] for r in rows]
    _check_spans(rows, spans)
    device = next(model.parameters()).device
    ids = torch.tensor(list(token_set), dtype=torch.long)
    tot = {"nll_clean": 0.0, "nll": 0.0, "mass_clean": 0.0, "mass": 0.0, "kl": 0.0}
    delta, n_pred = None, 0
    for b0 in range(0, len(rows), batch_size):
        tokens, mask = pad_batch(rows[b0 : b0 + batch_size], pad_id, "left")
        s = torch.tensor([sp[0] for sp in spans[b0 : b0 + batch_size]])
        e = torch.tensor([sp[1] for sp in spans[b0 : b0 + batch_size]])
        at = span_mask(mask, s, e).bool()[:, :-1] & mask.bool()[:, 1:]  # predicts a real token
        t, m = tokens.to(device), mask.to(device)
        at_d = at.to(device)
        if cache is not None and b0 in cache:
            clean = cache[b0]
        else:
            clean = torch.log_softmax(model(t, attention_mask=m)[:, :-1][at_d].double(), -1)
            if cache is not None:
                cache[b0] = clean
        with model.hooks([(hook_name, make_hook(mask))]):
            new = torch.log_softmax(model(t, attention_mask=m)[:, :-1][at_d].double(), -1)
        target = t[:, 1:][at_d]
        tot["nll_clean"] -= clean.gather(-1, target[:, None]).sum().item()
        tot["nll"] -= new.gather(-1, target[:, None]).sum().item()
        if len(ids):
            tot["mass_clean"] += clean[:, ids].exp().sum().item()
            tot["mass"] += new[:, ids].exp().sum().item()
        tot["kl"] += (clean.exp() * (clean - new)).sum().item()
        d = (new.exp() - clean.exp()).sum(0).cpu()
        delta = d if delta is None else delta + d
        n_pred += len(target)
    if n_pred == 0:
        raise SAEError("no position to measure: spans must cover at least two real tokens")
    return Effect(
        **{k: v / n_pred for k, v in tot.items()}, delta_prob=delta / n_pred, n_positions=n_pred
    )
