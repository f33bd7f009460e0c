"""A convolutional autoencoder for 28x28 (or any 4k x 4k) grey images (day 25).

    encoder: conv4x4/2 (1->c) ReLU -> conv4x4/2 (c->2c) ReLU -> flatten -> linear h ReLU -> linear d
    decoder: linear h ReLU -> linear 2c*7*7 ReLU -> unflatten -> convT4x4/2 (2c->c) ReLU
             -> convT4x4/2 (c->1)                                      (logits; sigmoid = pixels)

Every layer is ours (`arena_core.nn`): the strided convolutions halve the image twice
(28 -> 14 -> 7) and the transposed ones double it back (7 -> 14 -> 28). The decoder returns
*logits*, so the reconstruction loss can be the numerically stable Bernoulli cross-entropy
(`binary_cross_entropy_with_logits`) and pixels are `sigmoid(logits)`. The VAE (day 26) reuses
both halves, with an encoder that outputs 2d numbers (mean and log-variance).
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn import Conv2d, ConvTranspose2d, Linear, ReLU, Sequential, sigmoid
from arena_core.nn.linear import Flatten


class Unflatten(nn.Module):
    """[b, prod(shape)] -> [b, *shape]."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)


def conv_encoder(
    out_features: int, channels: int = 16, hidden: int = 128, image_size: int = 28
) -> Sequential:
    side = image_size // 4
    return Sequential(
        Conv2d(1, channels, 4, stride=2, padding=1),
        ReLU(),
        Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
        ReLU(),
        Flatten(),
        Linear(2 * channels * side * side, hidden),
        ReLU(),
        Linear(hidden, out_features),
    )


def conv_decoder(
    latent_dim: int, channels: int = 16, hidden: int = 128, image_size: int = 28
) -> Sequential:
    side = image_size // 4
    return Sequential(
        Linear(latent_dim, hidden),
        ReLU(),
        Linear(hidden, 2 * channels * side * side),
        ReLU(),
        Unflatten(2 * channels, side, side),
        ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
        ReLU(),
        ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
    )


class Autoencoder(nn.Module):
    def __init__(
        self, latent_dim: int = 2, channels: int = 16, hidden: int = 128, image_size: int = 28
    ):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4, got {image_size}")
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(latent_dim, channels, hidden, image_size)
        self.decoder = conv_decoder(latent_dim, channels, hidden, image_size)

    def encode(self, x: Float[Tensor, "batch 1 h w"]) -> Float[Tensor, "batch latent"]:
        return self.encoder(x)

    def decode_logits(self, z: Float[Tensor, "batch latent"]) -> Float[Tensor, "batch 1 h w"]:
        return self.decoder(z)

    def forward(self, x: Float[Tensor, "batch 1 h w"]) -> Float[Tensor, "batch 1 h w"]:
        """Reconstruction logits."""
        return self.decode_logits(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: Float[Tensor, "batch 1 h w"]) -> Float[Tensor, "batch 1 h w"]:
        return sigmoid(self(x))


def reconstruction_loss(
    logits: Float[Tensor, "batch 1 h w"], x: Float[Tensor, "batch 1 h w"]
) -> Float[Tensor, ""]:
    """Bernoulli negative log-likelihood, summed over pixels and averaged over the batch (nats)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
