"""Autoencoder and DCGAN: shapes, parity with torch modules (copied weights), initialisation."""

import pytest
import torch
from torch import nn

from arena_core.generative import (
    Autoencoder,
    Discriminator,
    Generator,
    discriminator_loss,
    generator_loss,
    init_dcgan_weights,
)
from arena_core.nn import BatchNorm2d, Conv2d, ConvTranspose2d, LeakyReLU, ReLU, Tanh
from arena_core.nn.linear import Flatten


def torch_twin(module: nn.Module) -> nn.Module:
    """The same architecture built from torch.nn layers (weights copied by state-dict keys)."""
    layers = []
    for m in module.layers:
        if isinstance(m, ConvTranspose2d):
            t = nn.ConvTranspose2d(
                m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                m.output_padding, bias=m.bias is not None,
            )  # fmt: skip
        elif isinstance(m, Conv2d):
            t = nn.Conv2d(
                m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                bias=m.bias is not None,
            )  # fmt: skip
        elif isinstance(m, BatchNorm2d):
            t = nn.BatchNorm2d(m.num_features)
        elif isinstance(m, ReLU):
            t = nn.ReLU()
        elif isinstance(m, LeakyReLU):
            t = nn.LeakyReLU(m.negative_slope)
        elif isinstance(m, Tanh):
            t = nn.Tanh()
        elif isinstance(m, Flatten):
            t = nn.Flatten(m.start_dim, m.end_dim)
        else:
            raise TypeError(m)
        layers.append(t)
    twin = nn.Sequential(*layers)
    twin.load_state_dict(module.layers.state_dict())
    return twin


@pytest.mark.parametrize("image_size", [28, 32])
def test_generator_matches_torch_layers(image_size):
    gen = init_dcgan_weights(Generator(latent_dim=8, channels=3, image_size=image_size, width=8))
    gen = gen.double()
    twin = torch_twin(gen).double()
    z = torch.randn(5, 8, dtype=torch.float64)
    out = gen(z)
    assert out.shape == (5, 3, image_size, image_size) and out.abs().max() <= 1
    # training mode (batch statistics) and after it, eval mode (running statistics)
    torch.testing.assert_close(out, twin(z.view(5, 8, 1, 1)), rtol=1e-9, atol=1e-10)
    gen.eval(), twin.eval()
    torch.testing.assert_close(gen(z), twin(z.view(5, 8, 1, 1)), rtol=1e-9, atol=1e-10)


def test_generator_64_has_four_upsamplings():
    gen = Generator(latent_dim=4, channels=3, image_size=64, width=4)
    assert sum(isinstance(m, ConvTranspose2d) for m in gen.modules()) == 5
    assert gen(torch.randn(2, 4)).shape == (2, 3, 64, 64)


def test_discriminator_matches_torch_layers():
    disc = init_dcgan_weights(Discriminator(channels=1, image_size=28, width=8)).double()
    twin = torch_twin(disc).double()
    x = (torch.rand(6, 1, 28, 28, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    out = disc(x)
    assert out.shape == (6,)
    torch.testing.assert_close(out, twin(x), rtol=1e-9, atol=1e-10)
    g = torch.randn(6, dtype=torch.float64)
    (ours,) = torch.autograd.grad(out, x, g)
    x2 = x.detach().clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(twin(x2), x2, g)
    torch.testing.assert_close(ours, ref, rtol=1e-8, atol=1e-10)


def test_dcgan_initialisation_statistics():
    torch.manual_seed(0)
    gen = init_dcgan_weights(Generator(latent_dim=100, width=64))
    convs = torch.cat([m.weight.flatten() for m in gen.modules() if isinstance(m, ConvTranspose2d)])
    gammas = torch.cat([m.weight for m in gen.modules() if isinstance(m, BatchNorm2d)])
    convs, gammas = convs.detach(), gammas.detach()
    # ~500k weights: the sample mean/std are within 1% of N(0, 0.02)
    assert abs(convs.mean()) < 1e-3 and convs.std().item() == pytest.approx(0.02, rel=0.01)
    assert gammas.mean().item() == pytest.approx(1.0, abs=0.01)
    assert gammas.std().item() == pytest.approx(0.02, rel=0.3)  # only 192 gammas: loose


def test_gan_losses_match_log_formulas():
    real, fake = torch.randn(9, dtype=torch.float64), torch.randn(9, dtype=torch.float64)
    d = torch.sigmoid
    expected_d = -(torch.log(d(real)).mean() + torch.log(1 - d(fake)).mean())
    torch.testing.assert_close(discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(generator_loss(fake), -torch.log(d(fake)).mean())


def test_autoencoder_shapes():
    model = Autoencoder(latent_dim=2, channels=4, hidden=16)
    x = torch.rand(3, 1, 28, 28)
    assert model.encode(x).shape == (3, 2)
    assert model(x).shape == x.shape
    r = model.reconstruct(x)
    assert r.min() >= 0 and r.max() <= 1
