"""Training an SAE: Adam, LR warm-up and decay, dead-latent tracking and resampling (days 45–48).

The loop is the recipe of Bricken et al. 2023 and Conerly et al. 2024 (Anthropic), reduced to
what a small SAE needs:
- Adam; the learning rate rises linearly over the first `warmup_frac` of the steps and falls
  linearly to zero over the last `decay_frac`; the sparsity coefficient also warms up
  (`sparsity_warmup_frac`), so early steps learn to reconstruct before they learn to be sparse;
- decoder rows are kept at unit norm (gradient component along each row removed before the step,
  rows renormalised after it) for the ReLU and TopK SAEs and the transcoder; with
  `unit_norm_decoder=False` they are left free (SAELens's recipe: the decoder-norm-weighted L1
  then does the constraint's job), and `grad_clip` clips the gradient norm as SAELens does;
- a latent is *dead* when it has not fired on the last `dead_window` training rows. Every
  `resample_every` steps dead latents are re-initialised on inputs the SAE reconstructs badly:
  rows are drawn with probability ∝ loss², the decoder row becomes the unit residual
  (target − reconstruction), the encoder column the same direction scaled to 0.2 × the mean alive
  encoder norm, the bias 0, and Adam's moments for those entries are zeroed;
- a progress bar shows L0, MSE and explained variance; `checkpoint` saves SAE, optimiser and
  counters every `checkpoint_every` steps and a rerun resumes from there.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from arena_core.sae.base import SAE, SAEError
from arena_core.sae.jumprelu import JumpReluSAE
from arena_core.utils.progress import progress

Batch = Tensor | tuple[Tensor, Tensor]


@dataclass(frozen=True)
class TrainConfig:
    n_steps: int = 2000
    lr: float = 1e-3
    warmup_frac: float = 0.05
    decay_frac: float = 0.2
    sparsity_warmup_frac: float = 0.05
    dead_window: int = 20_000  # rows without a firing before a latent counts as dead
    resample_every: int | None = None  # steps between resamplings (None: never)
    resample_until: float = 0.6  # no resampling after this fraction of training
    unit_norm_decoder: bool = True  # False: free decoder rows (SAELens's recipe; L1 weights them)
    grad_clip: float | None = None  # clip the gradient norm at this value (SAELens: 1.0)
    checkpoint: Path | None = None
    checkpoint_every: int = 500
    log_every: int = 25

    def __post_init__(self):
        if self.n_steps < 1 or self.lr <= 0 or self.dead_window < 1:
            raise SAEError("n_steps, lr and dead_window must be positive")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise SAEError(f"grad_clip must be positive or None, got {self.grad_clip}")
        if not (0 <= self.warmup_frac <= 1 and 0 <= self.decay_frac <= 1):
            raise SAEError("warmup_frac and decay_frac are fractions in [0, 1]")


@dataclass
class History:
    step: list[int] = field(default_factory=list)
    mse: list[float] = field(default_factory=list)
    l0: list[float] = field(default_factory=list)
    fve: list[float] = field(default_factory=list)
    dead_fraction: list[float] = field(default_factory=list)
    resampled: list[tuple[int, int]] = field(default_factory=list)  # (step, how many)


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to 1, flat, linear decay to 0 over the last `decay_frac` of the steps."""
    warm = max(1, round(cfg.warmup_frac * cfg.n_steps))
    decay_start = cfg.n_steps - round(cfg.decay_frac * cfg.n_steps)
    up = min(1.0, (step + 1) / warm)
    decay_len = cfg.n_steps - decay_start
    if step < decay_start or decay_len == 0:
        return up
    return up * max(0.0, (cfg.n_steps - step) / decay_len)


def explained_variance(recon: Tensor, target: Tensor) -> float:
    """1 − Σ‖x̂ − x‖² / Σ‖x − mean(x)‖² over the batch."""
    resid = (recon - target).pow(2).sum()
    total = (target - target.mean(0)).pow(2).sum().clamp_min(1e-12)
    return float(1 - resid / total)


def _split(batch: Batch) -> tuple[Tensor, Tensor | None]:
    return batch if isinstance(batch, tuple) else (batch, None)


@torch.no_grad()
def resample_dead(sae: SAE, dead: Tensor, x: Tensor, target: Tensor | None, opt, gen) -> int:
    """Re-initialise latents `dead` (bool [d_sae]) on badly reconstructed rows of this batch."""
    idx = dead.nonzero().flatten()
    if len(idx) == 0:
        return 0
    target = x if target is None else target
    out = sae.run(x, target)
    resid = target - out.recon
    weights = resid.pow(2).sum(-1).pow(2)
    if weights.sum() <= 0:
        weights = torch.ones_like(weights)
    rows = torch.multinomial(weights, len(idx), replacement=len(idx) > len(weights), generator=gen)
    direction = resid[rows] / resid[rows].norm(dim=1, keepdim=True).clamp_min(1e-8)
    alive = ~dead
    enc_norm = sae.W_enc[:, alive].norm(dim=0).mean() if alive.any() else torch.tensor(1.0)
    sae.W_dec.data[idx] = direction
    enc_dir = x[rows] - (sae.b_dec if sae.cfg.apply_b_dec_to_input else 0)
    enc_dir = enc_dir / enc_dir.norm(dim=1, keepdim=True).clamp_min(1e-8)
    sae.W_enc.data[:, idx] = (0.2 * enc_norm * enc_dir).T
    sae.b_enc.data[idx] = 0.0
    for p, sel in ((sae.W_dec, (idx,)), (sae.W_enc, (slice(None), idx)), (sae.b_enc, (idx,))):
        for key in ("exp_avg", "exp_avg_sq"):
            if p in opt.state and key in opt.state[p]:
                opt.state[p][key][sel] = 0.0
    return len(idx)


def train_sae(
    sae: SAE, batches: Iterator[Batch], cfg: TrainConfig, desc: str = "SAE", seed: int = 0
) -> History:
    """Train `sae` in place on `batches` (tensors, or (input, target) pairs for a transcoder)."""
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    unit_norm = cfg.unit_norm_decoder and not isinstance(sae, JumpReluSAE)
    since_fired = torch.zeros(sae.cfg.d_sae, dtype=torch.long)
    hist, start = History(), 0
    gen = torch.Generator().manual_seed(seed)
    if cfg.checkpoint is not None and Path(cfg.checkpoint).exists():
        state = torch.load(cfg.checkpoint, weights_only=False)
        sae.load_state_dict(state["sae"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        since_fired, hist, start = state["since_fired"], state["history"], state["step"]
    if unit_norm:
        sae.normalize_decoder()
    dead = since_fired >= cfg.dead_window  # as of the last step (what AuxK trains)
    bar = progress(range(start, cfg.n_steps), desc=desc, total=cfg.n_steps, initial=start)
    for step in bar:
        x, target = _split(next(batches))
        warm = max(1, round(cfg.sparsity_warmup_frac * cfg.n_steps))
        out = sae.run(x, target)
        loss = out.mse + min(1.0, step / warm) * out.sparsity  # 0 at step 0, as in SAELens
        loss = loss + sae.aux_loss(out, x if target is None else target, dead)  # TopK's AuxK
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if unit_norm:
            sae.remove_parallel_grad()
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(sae.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if unit_norm:
            sae.normalize_decoder()
        with torch.no_grad():
            fired = (out.feats > 0).reshape(-1, sae.cfg.d_sae).any(0)
            since_fired += x.reshape(-1, sae.cfg.d_in).shape[0]
            since_fired[fired] = 0
            dead = since_fired >= cfg.dead_window
        if (cfg.resample_every and (step + 1) % cfg.resample_every == 0
                and step < cfg.resample_until * cfg.n_steps):  # fmt: skip
            n = resample_dead(sae, dead, x, target, opt, gen)
            if n:
                since_fired[dead] = 0
                dead = since_fired >= cfg.dead_window
                hist.resampled.append((step + 1, n))
        if step % cfg.log_every == 0 or step == cfg.n_steps - 1:
            with torch.no_grad():
                tgt = x if target is None else target
                l0 = (out.feats > 0).float().sum(-1).mean().item()
                fve = explained_variance(
                    out.recon.reshape(-1, tgt.shape[-1]), tgt.reshape(-1, tgt.shape[-1])
                )
            hist.step.append(step)
            hist.mse.append(out.mse.item())
            hist.l0.append(l0)
            hist.fve.append(fve)
            hist.dead_fraction.append(dead.float().mean().item())
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(L0=f"{l0:.1f}", MSE=f"{out.mse.item():.3g}", FVE=f"{fve:.3f}")
        if not math.isfinite(loss.item()):
            raise SAEError(f"loss became {loss.item()} at step {step}; lower the learning rate")
        if cfg.checkpoint is not None and (step + 1) % cfg.checkpoint_every == 0:
            torch.save({"sae": sae.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "since_fired": since_fired,
                        "history": hist, "step": step + 1}, cfg.checkpoint)  # fmt: skip
    return hist
