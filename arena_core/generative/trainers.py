"""Resumable epoch loops for the autoencoder, the VAE and the GAN (days 25-27).

`fit_epochs` is the one loop all three use: for each epoch it shuffles the images with a
generator seeded by (seed, epoch), calls `step(batch) -> {name: float}` on every minibatch,
averages the numbers into `history`, and (given a checkpoint path) saves every module, every
optimiser, the history and torch's global RNG state atomically *after each finished epoch*.
Called again with the same path, it loads that checkpoint and continues with the next epoch, so
an interrupt (Ctrl-C, a killed job) loses at most the epoch in progress, and the resumed run
ends with the same weights as an uninterrupted one (the RNG state is part of the checkpoint, so
the VAE's eps and the GAN's z draws continue where they stopped).
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.generative.autoencoder import Autoencoder, reconstruction_loss
from arena_core.generative.gan import Discriminator, Generator, gan_step, to_gan_range
from arena_core.generative.vae import VAE, vae_loss
from arena_core.utils import load_checkpoint, progress, save_checkpoint

Step = Callable[[Tensor], dict[str, float]]
EpochHook = Callable[[int, dict[str, list]], None]


def fit_epochs(
    step: Step,
    images: Float[Tensor, "n c h w"],
    *,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    epochs: int,
    batch_size: int = 128,
    seed: int = 0,
    checkpoint_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    desc: str = "train",
    on_epoch_end: EpochHook | None = None,
) -> dict[str, list]:
    """Train for `epochs` (total, counting resumed ones); return per-epoch means of step()'s
    numbers plus "epoch" and "seconds". `on_epoch_end(epoch, history)` runs after each epoch,
    before its checkpoint is written, so whatever it adds to `history` is saved with it."""
    history: dict[str, list] = {"epoch": [], "seconds": []}
    start_epoch = 0
    state = load_checkpoint(checkpoint_path, map_location=device) if checkpoint_path else None
    if state is not None:
        for name, module in modules.items():
            module.load_state_dict(state["modules"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        history = state["history"]
        start_epoch = state["epoch"]
        torch.set_rng_state(state["rng"])
    for module in modules.values():
        module.train()
    n = len(images)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        sums: dict[str, float] = {}
        batches = range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size)
        for start in progress(batches, desc=f"{desc} epoch {epoch + 1}/{epochs}"):
            batch = images[order[start : start + batch_size]].to(device)
            for key, value in step(batch).items():
                sums[key] = sums.get(key, 0.0) + value
        for key, total in sums.items():
            history.setdefault(key, []).append(total / len(batches))
        history["epoch"].append(epoch + 1)
        history["seconds"].append(time.perf_counter() - t0)
        if on_epoch_end is not None:  # may add entries (e.g. a test metric) to history
            on_epoch_end(epoch + 1, history)
        if checkpoint_path is not None:
            save_checkpoint(
                {
                    "modules": {k: m.state_dict() for k, m in modules.items()},
                    "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                    "history": history,
                    "epoch": epoch + 1,
                    "rng": torch.get_rng_state(),
                },
                checkpoint_path,
            )
    return history


def train_autoencoder(
    model: Autoencoder, images: Tensor, *, epochs: int, lr: float = 1e-3, **kwargs: Any
) -> dict[str, list]:
    """Adam on the Bernoulli reconstruction loss (nats/image)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(x: Tensor) -> dict[str, float]:
        loss = reconstruction_loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return fit_epochs(
        step, images, modules={"model": model}, optimizers={"opt": opt}, epochs=epochs, **kwargs
    )


def train_vae(
    model: VAE,
    images: Tensor,
    *,
    epochs: int,
    lr: float = 1e-3,
    beta: float = 1.0,
    **kwargs: Any,
) -> dict[str, list]:
    """Adam on NLL + beta * KL; history has "loss", "nll", "kl" and "neg_elbo" per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(x: Tensor) -> dict[str, float]:
        loss, stats = vae_loss(model, x, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **stats}

    return fit_epochs(
        step, images, modules={"model": model}, optimizers={"opt": opt}, epochs=epochs, **kwargs
    )


def train_gan(
    gen: Generator,
    disc: Discriminator,
    images: Tensor,
    *,
    epochs: int,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    **kwargs: Any,
) -> dict[str, list]:
    """DCGAN training (Adam 2e-4, beta1 = 0.5) on [0, 1] images (mapped to [-1, 1] here)."""
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)

    def step(x: Tensor) -> dict[str, float]:
        return gan_step(gen, disc, opt_g, opt_d, to_gan_range(x))

    return fit_epochs(
        step,
        images,
        modules={"generator": gen, "discriminator": disc},
        optimizers={"generator": opt_g, "discriminator": opt_d},
        epochs=epochs,
        **kwargs,
    )
