"""Generative models of days 25-28: autoencoder, VAE, DCGAN, their trainers and quality metrics.

`autoencoder` (conv encoder/decoder from our own layers), `vae` (reparameterisation, closed-form
KL, ELBO with a beta weight), `gan` (DCGAN generator/discriminator, Radford et al. initialisation,
losses), `trainers` (one resumable epoch loop for all three), `metrics` (Fréchet distance in a
classifier's feature space, class coverage), `celeba` (CelebA loader for when it is reachable).
"""

from arena_core.generative.autoencoder import Autoencoder, Unflatten, reconstruction_loss
from arena_core.generative.celeba import load_celeba
from arena_core.generative.gan import (
    Discriminator,
    Generator,
    discriminator_loss,
    from_gan_range,
    gan_step,
    generator_loss,
    init_dcgan_weights,
    to_gan_range,
)
from arena_core.generative.metrics import (
    class_coverage,
    classifier_features,
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
)
from arena_core.generative.trainers import fit_epochs, train_autoencoder, train_gan, train_vae
from arena_core.generative.vae import (
    VAE,
    bernoulli_nll,
    evaluate_elbo,
    gaussian_kl,
    reparameterise,
    vae_loss,
)

__all__ = [
    "VAE",
    "Autoencoder",
    "Discriminator",
    "Generator",
    "Unflatten",
    "bernoulli_nll",
    "class_coverage",
    "classifier_features",
    "discriminator_loss",
    "evaluate_elbo",
    "fit_epochs",
    "frechet_distance",
    "frechet_distance_features",
    "from_gan_range",
    "gan_step",
    "gaussian_kl",
    "gaussian_stats",
    "generator_loss",
    "init_dcgan_weights",
    "load_celeba",
    "reconstruction_loss",
    "reparameterise",
    "to_gan_range",
    "train_autoencoder",
    "train_gan",
    "train_vae",
    "vae_loss",
]
