"""Each SAE architecture's forward and backward against plain torch formulas written out here,
and JumpReLU's straight-through gradients against SAELens's own autograd functions.

float64 throughout so that agreement is to ~1e-12 and any real difference shows."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.sae import JumpReluSAE, ReluSAE, SAEConfig, SAEError, TopKSAE, Transcoder

D, M, N = 6, 10, 32


def _params(sae):
    return {k: getattr(sae, k).detach().clone().requires_grad_(True)
            for k in ("W_enc", "b_enc", "W_dec", "b_dec")}  # fmt: skip


def _randomise(sae, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
    return sae


def test_relu_forward_and_grads_match_formula():
    sae = _randomise(ReluSAE(SAEConfig(d_in=D, d_sae=M, l1_coeff=0.7)).double())
    x = torch.randn(N, D, dtype=torch.float64)
    p = _params(sae)
    pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    f = F.relu(pre)
    recon = f @ p["W_dec"] + p["b_dec"]
    ref = ((recon - x) ** 2).sum(1).mean() + 0.7 * (f * p["W_dec"].norm(dim=1)).sum(1).mean()
    ref.backward()
    out = sae.run(x)
    out.loss.backward()
    torch.testing.assert_close(out.recon, recon.detach())
    torch.testing.assert_close(out.loss.detach(), ref.detach())
    for k, v in p.items():
        torch.testing.assert_close(getattr(sae, k).grad, v.grad)


def test_topk_keeps_k_largest_and_grads_match_formula():
    sae = _randomise(TopKSAE(SAEConfig(d_in=D, d_sae=M, k=3)).double())
    x = torch.randn(N, D, dtype=torch.float64)
    p = _params(sae)
    pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    kth = pre.detach().sort(dim=1, descending=True).values[:, 2:3]  # the 3rd largest per row
    f = F.relu(pre) * (pre.detach() >= kth)
    recon = f @ p["W_dec"] + p["b_dec"]
    ref = ((recon - x) ** 2).sum(1).mean()
    ref.backward()
    out = sae.run(x)
    out.loss.backward()
    assert ((out.feats != 0).sum(1) <= 3).all()
    torch.testing.assert_close(out.feats, f.detach())
    for k, v in p.items():
        torch.testing.assert_close(getattr(sae, k).grad, v.grad)


def test_jumprelu_straight_through_grads_match_saelens_and_formula():
    from sae_lens.saes.jumprelu_sae import JumpReLU, Step

    eps = 0.3
    sae = _randomise(JumpReluSAE(SAEConfig(d_in=D, d_sae=M, bandwidth=eps, l0_coeff=0.2)).double())
    with torch.no_grad():
        sae.log_threshold.copy_(torch.full((M,), 0.4, dtype=torch.float64).log())
    x = torch.randn(N, D, dtype=torch.float64)
    out = sae.run(x)
    out.loss.backward()

    p = _params(sae)
    theta = sae.threshold.detach().clone().requires_grad_(True)
    pre = (x - p["b_dec"]) @ p["W_enc"] + p["b_enc"]
    f = JumpReLU.apply(pre, theta, eps, False)
    recon = f @ p["W_dec"] + p["b_dec"]
    ref = ((recon - x) ** 2).sum(1).mean() + 0.2 * Step.apply(pre, theta, eps, False).sum(1).mean()
    ref.backward()
    for k, v in p.items():
        torch.testing.assert_close(getattr(sae, k).grad, v.grad)
    # d/d(log θ) = θ · d/dθ
    torch.testing.assert_close(sae.log_threshold.grad, theta.grad * theta.detach())

    # the estimator written out: ∂L/∂θ_i = Σ_rows [−(θ/ε) K · ∂L/∂f − 0.2/N · (1/ε) K]
    pre0 = pre.detach()
    f_leaf = (pre0 * (pre0 > theta.detach())).requires_grad_(True)
    ((f_leaf @ p["W_dec"].detach() + p["b_dec"].detach() - x) ** 2).sum(1).mean().backward()
    kern = ((pre0 - theta.detach()).abs() < eps / 2).double() / eps
    hand = (-theta.detach() * kern * f_leaf.grad - 0.2 / N * kern).sum(0)
    torch.testing.assert_close(theta.grad, hand)
    assert theta.grad.abs().sum() > 0  # the example exercises the kernel


def test_transcoder_predicts_a_different_target():
    cfg = SAEConfig(d_in=D, d_sae=M, d_out=4, l1_coeff=0.1, apply_b_dec_to_input=False)
    tc = _randomise(Transcoder(cfg).double())
    x, y = torch.randn(N, D, dtype=torch.float64), torch.randn(N, 4, dtype=torch.float64)
    p = _params(tc)
    f = F.relu(x @ p["W_enc"] + p["b_enc"])
    ref = ((f @ p["W_dec"] + p["b_dec"] - y) ** 2).sum(1).mean()
    ref = ref + 0.1 * (f * p["W_dec"].norm(dim=1)).sum(1).mean()
    ref.backward()
    out = tc.run(x, y)
    out.loss.backward()
    torch.testing.assert_close(out.loss.detach(), ref.detach())
    for k, v in p.items():
        torch.testing.assert_close(getattr(tc, k).grad, v.grad)
    with pytest.raises(SAEError, match="needs a target"):
        tc.run(x)


def test_decoder_rows_stay_unit_norm_after_constrained_steps():
    sae = ReluSAE(SAEConfig(d_in=D, d_sae=M, l1_coeff=0.5))
    opt = torch.optim.Adam(sae.parameters(), lr=0.05)
    for _ in range(20):
        x = torch.randn(64, D)
        opt.zero_grad()
        sae.run(x).loss.backward()
        sae.remove_parallel_grad()
        w = sae.W_dec.data / sae.W_dec.data.norm(dim=1, keepdim=True)
        assert (sae.W_dec.grad * w).sum(1).abs().max() < 1e-5  # nothing left along the rows
        opt.step()
        sae.normalize_decoder()
        torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(M))


def test_bad_configs_and_inputs_raise_clear_errors():
    with pytest.raises(SAEError, match="larger than the number of latents"):
        TopKSAE(SAEConfig(d_in=4, d_sae=5, k=6))
    with pytest.raises(SAEError, match="positive"):
        SAEConfig(d_in=0, d_sae=5)
    with pytest.raises(SAEError, match="threshold"):
        SAEConfig(d_in=4, d_sae=5, threshold=0.0)
    with pytest.raises(SAEError, match="apply_b_dec_to_input=False"):
        Transcoder(SAEConfig(d_in=4, d_sae=5, d_out=3))
    sae = ReluSAE(SAEConfig(d_in=4, d_sae=5))
    with pytest.raises(SAEError, match="expects d_in = 4"):
        sae.encode(torch.randn(2, 3))
