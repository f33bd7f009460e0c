"""Variational autoencoder (Kingma & Welling 2013, https://arxiv.org/abs/1312.6114), day 26.

The encoder outputs a Gaussian q(z|x) = N(mu(x), diag(exp(logvar(x)))); the decoder outputs the
logits of a Bernoulli p(x|z) per pixel; the prior is p(z) = N(0, I). Training maximises the
evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

and we minimise its negative with a weight beta on the KL (beta = 1 is the true bound; beta-VAE,
Higgins et al. 2017, uses beta > 1):

    loss = BCE(logits(z), x) summed over pixels + beta * KL,      z = mu + sigma * eps

The reparameterisation `z = mu + sigma * eps, eps ~ N(0, I)` moves the randomness into eps, so z
is a differentiable function of (mu, sigma). The KL between diagonal Gaussians and N(0, I) has a
closed form (per latent dimension, summed):

    KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

Likelihood: Bernoulli on [0, 1] pixel intensities (grey pixels are "soft" targets); ELBOs are in
nats per image.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.generative.autoencoder import conv_decoder, conv_encoder
from arena_core.nn import sigmoid


def reparameterise(
    mu: Float[Tensor, "batch latent"],
    logvar: Float[Tensor, "batch latent"],
    generator: torch.Generator | None = None,
) -> Float[Tensor, "batch latent"]:
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I)."""
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(
    mu: Float[Tensor, "batch latent"], logvar: Float[Tensor, "batch latent"]
) -> Float[Tensor, " batch"]:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, summed over latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def bernoulli_nll(
    logits: Float[Tensor, "batch 1 h w"], x: Float[Tensor, "batch 1 h w"]
) -> Float[Tensor, " batch"]:
    """-log p(x|z) per example for independent Bernoulli pixels, summed over pixels (nats)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


class VAE(nn.Module):
    def __init__(
        self, latent_dim: int = 2, channels: int = 16, hidden: int = 128, image_size: int = 28
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(2 * latent_dim, channels, hidden, image_size)
        self.decoder = conv_decoder(latent_dim, channels, hidden, image_size)

    def encode(
        self, x: Float[Tensor, "batch 1 h w"]
    ) -> tuple[Float[Tensor, "batch latent"], Float[Tensor, "batch latent"]]:
        """(mu, logvar) of q(z|x)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def decode_logits(self, z: Float[Tensor, "batch latent"]) -> Float[Tensor, "batch 1 h w"]:
        return self.decoder(z)

    def forward(
        self, x: Float[Tensor, "batch 1 h w"]
    ) -> tuple[
        Float[Tensor, "batch 1 h w"], Float[Tensor, "batch latent"], Float[Tensor, "batch latent"]
    ]:
        """(reconstruction logits from one reparameterised sample, mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode_logits(reparameterise(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Pixels of n images decoded from the prior z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return sigmoid(self.decode_logits(z))


def vae_loss(
    model: VAE, x: Float[Tensor, "batch 1 h w"], beta: float = 1.0
) -> tuple[Float[Tensor, ""], dict[str, float]]:
    """(mean over the batch of NLL + beta * KL, {"nll", "kl", "neg_elbo"} batch means in nats)."""
    logits, mu, logvar = model(x)
    nll = bernoulli_nll(logits, x)
    kl = gaussian_kl(mu, logvar)
    loss = (nll + beta * kl).mean()
    stats = {
        "nll": nll.mean().item(),
        "kl": kl.mean().item(),
        "neg_elbo": (nll + kl).mean().item(),
    }
    return loss, stats


@torch.no_grad()
def evaluate_elbo(
    model: VAE, images: Float[Tensor, "n 1 h w"], batch_size: int = 500, seed: int = 0
) -> dict[str, float]:
    """Mean ELBO (nats/image, one z sample per image, beta = 1) and its two terms on `images`."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    totals = {"nll": 0.0, "kl": 0.0}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        mu, logvar = model.encode(x)
        z = reparameterise(mu.cpu(), logvar.cpu(), generator).to(device)
        totals["nll"] += bernoulli_nll(model.decode_logits(z), x).sum().item()
        totals["kl"] += gaussian_kl(mu, logvar).sum().item()
    model.train(was_training)
    nll, kl = totals["nll"] / len(images), totals["kl"] / len(images)
    return {"elbo": -(nll + kl), "nll": nll, "kl": kl}
