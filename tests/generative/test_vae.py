"""VAE pieces vs independent references: KL vs torch.distributions, sampler moments, ELBO."""

import torch
from torch.distributions import Normal, kl_divergence

from arena_core.generative import VAE, bernoulli_nll, evaluate_elbo, gaussian_kl, reparameterise
from arena_core.generative.vae import vae_loss


def test_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(7, 5, dtype=torch.float64, generator=gen) * 2
    logvar = torch.randn(7, 5, dtype=torch.float64, generator=gen) * 1.5
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = kl_divergence(q, p).sum(dim=-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), ref, rtol=1e-12, atol=1e-12)
    # KL vanishes exactly at the prior
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_reparameterised_sampler_moments():
    gen = torch.Generator().manual_seed(123)
    mu = torch.tensor([[-2.0, 0.5, 3.0]], dtype=torch.float64).expand(200_000, 3)
    logvar = torch.tensor([[0.0, -2.0, 1.0]], dtype=torch.float64).expand(200_000, 3)
    z = reparameterise(mu, logvar, gen)
    # standard error of the mean is sigma / sqrt(n) <= 1.65 / 447 ~ 0.004; allow ~5 SE
    torch.testing.assert_close(z.mean(0), mu[0], rtol=0, atol=0.02)
    # var estimate has relative SE sqrt(2/n) ~ 0.003; allow 2%
    torch.testing.assert_close(z.var(0), logvar[0].exp(), rtol=0.02, atol=0)


def test_reparameterisation_is_differentiable_in_mu_and_logvar():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    eps_gen = torch.Generator().manual_seed(5)
    z = reparameterise(mu, logvar, eps_gen)
    z.sum().backward()
    eps = torch.randn(4, 2, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(mu.grad, torch.ones(4, 2))
    torch.testing.assert_close(logvar.grad, 0.5 * eps)  # d/dlogvar exp(logvar/2) eps at 0


def test_bernoulli_nll_matches_log_prob():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 1, 4, 4, dtype=torch.float64, generator=gen)
    x = torch.randint(0, 2, (3, 1, 4, 4), generator=gen).double()
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(bernoulli_nll(logits, x), ref)


def test_shapes_and_elbo_bound():
    model = VAE(latent_dim=3, channels=4, hidden=16)
    x = torch.rand(5, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (5, 3)
    assert model.sample(6).shape == (6, 1, 28, 28)
    stats = evaluate_elbo(model, x, batch_size=2)
    assert stats["kl"] >= 0 and abs(stats["elbo"] + stats["nll"] + stats["kl"]) < 1e-6


def test_beta_weights_the_kl_term():
    model = VAE(latent_dim=2, channels=4, hidden=16)
    x = torch.rand(4, 1, 28, 28)
    torch.manual_seed(0)
    loss1, s1 = vae_loss(model, x, beta=1.0)
    torch.manual_seed(0)
    loss3, s3 = vae_loss(model, x, beta=3.0)
    assert abs(s1["kl"] - s3["kl"]) < 1e-9
    torch.testing.assert_close(loss3 - loss1, torch.tensor(2 * s1["kl"]), rtol=1e-5, atol=1e-3)
