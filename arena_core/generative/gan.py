"""DCGAN (Radford, Metz & Chintala 2015, https://arxiv.org/abs/1511.06434), day 27.

Generator: z [b, d] -> project to [b, c0, s0, s0] with a transposed conv whose kernel is the whole
first feature map -> (BN, ReLU, stride-2 transposed conv) doubling the side each time -> Tanh.
Discriminator: stride-2 convs with LeakyReLU(0.2) (BN on all but the first) -> one conv whose
kernel covers the last feature map -> one logit. The paper's rules: no pooling (strided convs),
BN in both nets except the generator output and discriminator input, ReLU/Tanh in G, LeakyReLU
in D, Adam(lr=2e-4, beta1=0.5), weights ~ N(0, 0.02) and BN gamma ~ N(1, 0.02).

The side of the first feature map s0 is the image side halved as often as it stays an integer
>= 4: 28 -> 7 (two up-samplings, MNIST) and 64 -> 4 (four, CelebA as in the paper).

Images live in [-1, 1] (Tanh output): `to_gan_range(x) = 2x - 1` for [0, 1] data.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from arena_core.nn import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    LeakyReLU,
    ReLU,
    Sequential,
    Tanh,
)
from arena_core.nn.linear import Flatten


def n_doublings(image_size: int) -> int:
    """How many times image_size halves to an integer >= 4 (28 -> 2, 32 -> 3, 64 -> 4)."""
    n = 0
    while image_size % 2 == 0 and image_size // 2 >= 4:
        image_size //= 2
        n += 1
    if n == 0:
        raise ValueError(f"image_size {image_size} cannot be halved to >= 4")
    return n


class Generator(nn.Module):
    def __init__(
        self, latent_dim: int = 64, channels: int = 1, image_size: int = 28, width: int = 32
    ):
        super().__init__()
        self.latent_dim = latent_dim
        n = n_doublings(image_size)
        side = image_size >> n
        widths = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. [64, 32] for n = 2
        layers: list[nn.Module] = [
            ConvTranspose2d(latent_dim, widths[0], side, bias=False),
            BatchNorm2d(widths[0]),
            ReLU(),
        ]
        for i in range(n - 1):
            layers += [
                ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=False),
                BatchNorm2d(widths[i + 1]),
                ReLU(),
            ]
        layers += [ConvTranspose2d(widths[-1], channels, 4, stride=2, padding=1), Tanh()]
        self.layers = Sequential(*layers)

    def forward(self, z: Float[Tensor, "batch latent"]) -> Float[Tensor, "batch c h w"]:
        return self.layers(z.reshape(*z.shape, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 32):
        super().__init__()
        n = n_doublings(image_size)
        side = image_size >> n
        widths = [width * 2**i for i in range(n)]  # e.g. [32, 64]
        layers: list[nn.Module] = [
            Conv2d(channels, widths[0], 4, stride=2, padding=1),
            LeakyReLU(0.2),
        ]
        for i in range(n - 1):
            layers += [
                Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=False),
                BatchNorm2d(widths[i + 1]),
                LeakyReLU(0.2),
            ]
        layers += [Conv2d(widths[-1], 1, side), Flatten(0)]
        self.layers = Sequential(*layers)

    def forward(self, x: Float[Tensor, "batch c h w"]) -> Float[Tensor, " batch"]:
        return self.layers(x)


@torch.no_grad()
def init_dcgan_weights(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Conv/transposed-conv weights ~ N(0, 0.02), BN gamma ~ N(1, 0.02), biases 0."""
    for module in model.modules():
        if isinstance(module, (Conv2d, ConvTranspose2d, nn.Conv2d, nn.ConvTranspose2d)):
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.02)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, (BatchNorm2d, nn.BatchNorm2d)):
            module.weight.copy_(1.0 + 0.02 * torch.randn(module.weight.shape, generator=generator))
            module.bias.zero_()
    return model


def to_gan_range(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    return 2.0 * x - 1.0


def from_gan_range(x: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def discriminator_loss(
    real_logits: Float[Tensor, " batch"], fake_logits: Float[Tensor, " batch"]
) -> Float[Tensor, ""]:
    """-[log D(x) + log(1 - D(G(z)))], batch means, with D = sigmoid(logit)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: Float[Tensor, " batch"]) -> Float[Tensor, ""]:
    """The non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014, section 3)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gan_step(
    gen: Generator,
    disc: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: Float[Tensor, "batch c h w"],
) -> dict[str, float]:
    """One discriminator step then one generator step on a batch of real images in [-1, 1]."""
    z = torch.randn(real.shape[0], gen.latent_dim, device=real.device)
    fake = gen(z)
    d_real, d_fake = disc(real), disc(fake.detach())
    loss_d = discriminator_loss(d_real, d_fake)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    d_fake_for_g = disc(fake)
    loss_g = generator_loss(d_fake_for_g)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(d_real).mean().item(),
        "d_fake": torch.sigmoid(d_fake).mean().item(),
    }
