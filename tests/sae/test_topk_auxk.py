"""TopK's auxiliary loss (AuxK, Gao et al. 2024): same value and gradients as SAELens's, and it
does its job: latents that plain TopK never trains come alive."""

import pytest
import torch

from arena_core.sae import SAEConfig, SAEError, TopKSAE
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.store import ActivationStore
from arena_core.sae.synthetic import planted_features, sparse_data
from arena_core.sae.training import TrainConfig, train_sae

sae_lens = pytest.importorskip("sae_lens", reason="sae-lens is in the dev extra")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("n_dead", [3, 9, 25])  # fewer and more dead latents than k_aux = 8
def test_auxk_matches_saelens(n_dead):
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    ours = TopKSAE(SAEConfig(d_in=16, d_sae=40, k=4, aux_coeff=0.25), seed=3)
    with torch.no_grad():
        ours.b_enc.normal_(0, 0.2)
        ours.b_dec.normal_(0, 0.2)
        ours.W_dec.mul_(1.3)
    cfg = TopKTrainingSAEConfig(
        d_in=16,
        d_sae=40,
        k=4,
        aux_loss_coefficient=0.25,
        rescale_acts_by_decoder_norm=False,
        apply_b_dec_to_input=True,
    )
    theirs = TopKTrainingSAE(cfg)
    with torch.no_grad():
        for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(theirs, k).copy_(getattr(ours, k))
    x = torch.randn(32, 16)
    dead = torch.zeros(40, dtype=torch.bool)
    dead[torch.randperm(40, generator=torch.Generator().manual_seed(n_dead))[:n_dead]] = True
    out = ours.run(x)
    mine = ours.aux_loss(out, x, dead)
    feats, pre = theirs.encode_with_hidden_pre(x)
    ref = theirs.calculate_topk_aux_loss(x, theirs.decode(feats), pre, dead)
    torch.testing.assert_close(mine, ref, atol=1e-6, rtol=1e-5)
    assert mine > 0
    mine.backward()
    ref.backward()
    for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
        torch.testing.assert_close(getattr(ours, k).grad, getattr(theirs, k).grad, atol=1e-6,
                                   rtol=1e-5)  # fmt: skip
    # no dead latents or a zero coefficient: no loss
    assert ours.aux_loss(out, x, torch.zeros(40, dtype=torch.bool)) == 0
    off = TopKSAE(SAEConfig(d_in=16, d_sae=40, k=4), seed=3)
    assert off.aux_loss(off.run(x), x, dead) == 0


def test_auxk_revives_latents_that_start_outside_the_data():
    """Data in a 10-dim subspace of R^20; half the latents start in the orthogonal complement, so
    they never reach the top k and plain TopK never trains them. AuxK gives them a gradient
    toward the residual, and some come alive; the reconstruction improves."""
    g = torch.Generator().manual_seed(0)
    inside = torch.linalg.qr(torch.randn(20, 20, generator=g))[0][:, :10]
    x, _ = sparse_data(planted_features(24, 10, seed=1) @ inside.T, 12_000, 0.06, seed=1)
    cfg = TrainConfig(n_steps=600, lr=4e-3, dead_window=512, log_every=200)
    stats, outside_dead = {}, {}
    for coeff in (0.0, 1 / 32):
        sae = TopKSAE(SAEConfig(d_in=20, d_sae=48, k=3, aux_coeff=coeff), seed=0)
        with torch.no_grad():
            w = sae.W_dec[24:] - (sae.W_dec[24:] @ inside) @ inside.T
            sae.W_dec[24:] = w / w.norm(dim=1, keepdim=True)
            sae.W_enc[:, 24:] = sae.W_dec[24:].T
        train_sae(sae, iter(ActivationStore(x, 128, 4096, seed=0)), cfg)
        stats[coeff] = sae_stats(sae, x[:4000])
        outside_dead[coeff] = (stats[coeff].density[24:] == 0).float().mean().item()
    assert outside_dead[0.0] == 1.0  # without AuxK none of them ever fires
    assert outside_dead[1 / 32] < 0.8
    assert stats[1 / 32].dead_fraction < stats[0.0].dead_fraction - 0.1
    assert stats[1 / 32].fve > stats[0.0].fve


def test_negative_aux_coeff_is_rejected():
    with pytest.raises(SAEError):
        SAEConfig(d_in=4, d_sae=8, aux_coeff=-1.0)
