"""Training steps reduce the loss on a fixed batch; an interrupted run resumes without losing
finished epochs and ends where an uninterrupted run ends."""

import pytest
import torch

from arena_core.generative import (
    VAE,
    Autoencoder,
    Discriminator,
    Generator,
    init_dcgan_weights,
    reconstruction_loss,
    train_autoencoder,
    train_gan,
    train_vae,
)
from arena_core.generative.vae import evaluate_elbo
from arena_core.utils import load_checkpoint


def _images(n=48, seed=0, size=28):
    gen = torch.Generator().manual_seed(seed)
    # blobs: smooth images so a tiny autoencoder can make progress quickly
    base = torch.rand(n, 1, 7, 7, generator=gen)
    # binarised, so the Bernoulli likelihood can approach 0 nats and progress shows at once
    return (torch.nn.functional.interpolate(base, size=size, mode="bilinear") > 0.5).float()


def test_autoencoder_training_reduces_loss_on_fixed_batch():
    torch.manual_seed(0)
    x = _images(16, size=12)  # small images keep the test fast; same code path as 28x28
    model = Autoencoder(latent_dim=4, channels=4, hidden=32, image_size=12)
    before = reconstruction_loss(model(x), x).item()
    train_autoencoder(model, x, epochs=5, batch_size=16, lr=1e-2)
    after = reconstruction_loss(model(x), x).item()
    assert after < before - 0.3  # deterministic, so any drop is real; starts near log(2)*144


def test_vae_training_improves_elbo():
    torch.manual_seed(0)
    x = _images(16, size=12)
    model = VAE(latent_dim=2, channels=4, hidden=32, image_size=12)
    before = evaluate_elbo(model, x)["elbo"]
    history = train_vae(model, x, epochs=5, batch_size=16, lr=1e-2)
    assert evaluate_elbo(model, x)["elbo"] > before + 0.5  # same eps for both evaluations
    assert set(history) >= {"loss", "nll", "kl", "neg_elbo", "epoch", "seconds"}


def test_gan_discriminator_step_reduces_its_loss():
    torch.manual_seed(0)
    x = _images(32, size=16)
    gen = init_dcgan_weights(Generator(latent_dim=8, width=4, image_size=16))
    disc = init_dcgan_weights(Discriminator(width=4, image_size=16))
    history = train_gan(gen, disc, x, epochs=3, batch_size=32, lr=2e-3)
    assert history["loss_d"][-1] < history["loss_d"][0]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_interrupted_run_resumes_to_the_same_weights(kind, tmp_path):
    x = _images(32, size=16)

    def build():
        torch.manual_seed(1)
        if kind == "vae":
            return {"model": VAE(latent_dim=2, channels=2, hidden=8, image_size=16)}
        return {
            "generator": Generator(latent_dim=4, width=2, image_size=16),
            "discriminator": Discriminator(width=2, image_size=16),
        }

    def train(mods, path, hook=None):
        common = dict(epochs=3, batch_size=16, seed=3, checkpoint_path=path, on_epoch_end=hook)
        if kind == "vae":
            return train_vae(mods["model"], x, **common)
        return train_gan(mods["generator"], mods["discriminator"], x, **common)

    straight = build()
    torch.manual_seed(99)
    full_history = train(straight, tmp_path / "straight.pt")

    def stop_in_epoch_three(epoch, history):
        if epoch == 3:  # the hook runs before epoch 3's checkpoint: epoch 3 is "in progress"
            raise Interrupt

    interrupted = build()
    torch.manual_seed(99)
    with pytest.raises(Interrupt):
        train(interrupted, tmp_path / "resumed.pt", stop_in_epoch_three)
    assert load_checkpoint(tmp_path / "resumed.pt")["epoch"] == 2  # both finished epochs kept

    resumed = build()  # a fresh process: new modules, different global RNG state
    torch.manual_seed(12345)
    history = train(resumed, tmp_path / "resumed.pt")
    assert history["epoch"] == [1, 2, 3]
    for name in straight:
        for (k, a), b in zip(
            straight[name].state_dict().items(), resumed[name].state_dict().values(), strict=True
        ):
            torch.testing.assert_close(a, b, msg=k)
    key = "loss" if kind == "vae" else "loss_d"
    assert history[key] == pytest.approx(full_history[key])
