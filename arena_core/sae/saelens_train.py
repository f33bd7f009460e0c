"""Train the same ReLU SAE with SAELens's own trainer, for a side-by-side comparison (day 46).

SAELens (`sae_lens` 6.x) trains a "standard" SAE with `SAETrainer`: Adam, an LR schedule (linear
warm-up, flat, linear decay), an L1 coefficient that warms up, and the L1 term weighted by the
decoder rows' norms. Fed through its `data_provider` seam (an iterator of activation batches) it
needs no language model and no dataset, so it can see exactly the batches our `train_sae` sees.

`saelens_relu_twin` builds SAELens's `StandardTrainingSAE` with the *same initial weights* as one
of our `ReluSAE`s, and `train_saelens` runs SAELens's own step (`SAETrainer.step`: forward, loss,
backward, gradient clipping at norm 1, Adam, schedulers, dead-latent counters) over the batches,
recording the same curves as our `History`. What stays different is each library's recipe, not
the data, the initial point or the optimiser:
- ours keeps decoder rows at unit norm (projected gradient + renormalisation); SAELens leaves
  them free and weights the L1 by their norms instead (Anthropic's April 2024 update);
- SAELens clips the gradient norm at 1; ours does not clip.
`to_ours` copies a trained SAELens SAE into a `ReluSAE`, so both are scored by `evaluate.py`.
"""

from collections.abc import Iterator

import torch
from torch import Tensor

from arena_core.sae.base import SAE, SAEConfig, SAEError
from arena_core.sae.relu import ReluSAE
from arena_core.sae.training import History, TrainConfig, explained_variance

PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")


def saelens_relu_twin(ours: SAE, warmup_steps: int = 0):
    """SAELens `StandardTrainingSAE` with our SAE's sizes, L1 coefficient and weights."""
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig

    if not isinstance(ours, ReluSAE):
        raise SAEError(f"only ReLU SAEs have a SAELens twin here, got {type(ours).__name__}")
    c = ours.cfg
    theirs = StandardTrainingSAE(
        StandardTrainingSAEConfig(
            d_in=c.d_in,
            d_sae=c.d_sae,
            l1_coefficient=c.l1_coeff,
            l1_warm_up_steps=warmup_steps,
            apply_b_dec_to_input=c.apply_b_dec_to_input,
            decoder_init_norm=None,
        )
    )
    with torch.no_grad():
        for k in PARAMS:
            getattr(theirs, k).copy_(getattr(ours, k))
    return theirs


def saelens_trainer(theirs, batches: Iterator[Tensor], cfg: TrainConfig, batch_size: int):
    """SAELens's `SAETrainer` with our `TrainConfig`'s steps, LR and schedule, W&B off."""
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    tcfg = SAETrainerConfig(
        total_training_samples=cfg.n_steps * batch_size,
        train_batch_size_samples=batch_size,
        lr=cfg.lr,
        lr_end=cfg.lr,
        lr_scheduler_name="constant",
        lr_warm_up_steps=round(cfg.warmup_frac * cfg.n_steps),
        lr_decay_steps=round(cfg.decay_frac * cfg.n_steps),
        adam_beta1=0.9,
        adam_beta2=0.999,
        dead_feature_window=max(1, cfg.dead_window // batch_size),
        feature_sampling_window=max(1, cfg.n_steps),
        logger=LoggingConfig(log_to_wandb=False),
    )
    return SAETrainer(cfg=tcfg, sae=theirs, data_provider=batches)


def train_saelens(
    ours_init: ReluSAE, batches: Iterator[Tensor], cfg: TrainConfig, batch_size: int
) -> tuple[ReluSAE, History]:
    """Train a SAELens twin of `ours_init` (left untouched) with SAELens's step; return it as
    our `ReluSAE` and the MSE / L0 / explained-variance curves at `cfg.log_every`."""
    warm = max(1, round(cfg.sparsity_warmup_frac * cfg.n_steps))
    theirs = saelens_relu_twin(ours_init, warmup_steps=warm)
    trainer = saelens_trainer(theirs, batches, cfg, batch_size)
    hist = History()
    for step in range(cfg.n_steps):
        trainer.maybe_reset_sparsity()
        batch = next(batches)
        if batch.shape[0] != batch_size:
            raise SAEError(f"batch has {batch.shape[0]} rows, the trainer expects {batch_size}")
        out = trainer.step(batch)
        trainer.n_training_steps += 1
        if step % cfg.log_every == 0 or step == cfg.n_steps - 1:
            with torch.no_grad():
                hist.step.append(step)
                hist.mse.append(float(out.losses["mse_loss"]))
                hist.l0.append(float((out.feature_acts > 0).float().sum(-1).mean()))
                hist.fve.append(explained_variance(out.sae_out, out.sae_in))
                dead = trainer.n_forward_passes_since_fired >= trainer.cfg.dead_feature_window
                hist.dead_fraction.append(float(dead.float().mean()))
    return to_ours(theirs), hist


def to_ours(theirs) -> ReluSAE:
    """Copy a SAELens standard SAE's weights into our `ReluSAE` (same parameter names)."""
    c = theirs.cfg
    l1 = float(getattr(c, "l1_coefficient", 1.0))
    ours = ReluSAE(SAEConfig(d_in=c.d_in, d_sae=c.d_sae, l1_coeff=l1,
                             apply_b_dec_to_input=c.apply_b_dec_to_input), seed=None)  # fmt: skip
    with torch.no_grad():
        for k in PARAMS:
            getattr(ours, k).copy_(getattr(theirs, k).detach().float())
    return ours
