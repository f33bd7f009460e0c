"""SAELens's trainer on our batches: same start, same loss, comparable result (day 46)."""

import pytest
import torch

from arena_core.sae import ReluSAE, SAEConfig, SAEError, TopKSAE
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.store import ActivationStore
from arena_core.sae.synthetic import planted_features, sparse_data
from arena_core.sae.training import TrainConfig, train_sae

pytest.importorskip("sae_lens", reason="sae-lens is in the dev extra")
from arena_core.sae.saelens_train import saelens_relu_twin, to_ours, train_saelens  # noqa: E402


def test_twin_starts_from_our_weights_and_has_our_loss():
    from sae_lens.saes.sae import TrainStepInput

    torch.manual_seed(0)
    ours = ReluSAE(SAEConfig(d_in=12, d_sae=30, l1_coeff=0.3), seed=1)
    with torch.no_grad():
        ours.b_enc.normal_(0, 0.1)
        ours.b_dec.normal_(0, 0.1)
        ours.W_dec.mul_(torch.rand(30, 1) + 0.5)  # rows of unequal norm: the L1 weights matter
    theirs = saelens_relu_twin(ours)
    x = torch.randn(64, 12)
    out = theirs.training_forward_pass(
        TrainStepInput(
            sae_in=x,
            coefficients={"l1": 0.3},
            dead_neuron_mask=None,
            n_training_steps=0,
            is_logging_step=False,
        )
    )
    mine = ours.run(x)
    torch.testing.assert_close(out.feature_acts, mine.feats, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.sae_out, mine.recon, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.loss, mine.loss, atol=1e-5, rtol=1e-5)
    back = to_ours(theirs)
    torch.testing.assert_close(back.encode(x), ours.encode(x))


def test_both_trainers_reach_similar_metrics_on_planted_features():
    torch.manual_seed(0)
    feats = planted_features(40, 16, seed=0)
    x, _ = sparse_data(feats, 8000, 0.04, seed=0)
    x_test, _ = sparse_data(feats, 4000, 0.04, seed=1)
    cfg = TrainConfig(n_steps=200, lr=3e-3, log_every=50)
    init = ReluSAE(SAEConfig(d_in=16, d_sae=64, l1_coeff=0.3), seed=0)
    ours = ReluSAE(init.cfg, seed=0)
    train_sae(ours, iter(ActivationStore(x, 256, 8192, seed=0)), cfg)
    theirs, hist = train_saelens(init, iter(ActivationStore(x, 256, 8192, seed=0)), cfg, 256)
    a, b = sae_stats(ours, x_test), sae_stats(theirs, x_test)
    assert len(hist.step) == len(hist.l0) == 5 and hist.step[-1] == 199
    assert a.fve > 0.8 and b.fve > 0.8
    assert abs(a.fve - b.fve) < 0.05
    assert abs(a.l0 - b.l0) / a.l0 < 0.35
    # init untouched by the SAELens run
    torch.testing.assert_close(init.W_enc, ReluSAE(init.cfg, seed=0).W_enc)


def test_only_relu_has_a_twin_and_batch_size_is_checked():
    with pytest.raises(SAEError, match="only ReLU"):
        saelens_relu_twin(TopKSAE(SAEConfig(d_in=4, d_sae=8, k=2)))
    init = ReluSAE(SAEConfig(d_in=4, d_sae=8))
    with pytest.raises(SAEError, match="rows"):
        train_saelens(init, iter([torch.randn(5, 4)]), TrainConfig(n_steps=1), batch_size=8)


def test_with_saelens_recipe_our_trainer_follows_saelens_step_for_step():
    """Free decoder rows + gradient clipping at 1 is SAELens's recipe: on the same batches from
    the same start, our loop and SAELens's `SAETrainer` must then give the same weights."""
    feats = planted_features(40, 16, seed=0)
    x, _ = sparse_data(feats, 8000, 0.04, seed=0)
    cfg = TrainConfig(n_steps=120, lr=3e-3, log_every=40, unit_norm_decoder=False, grad_clip=1.0)
    init = ReluSAE(SAEConfig(d_in=16, d_sae=64, l1_coeff=0.3), seed=0)
    ours = ReluSAE(init.cfg, seed=0)
    train_sae(ours, iter(ActivationStore(x, 256, 8192, seed=0)), cfg)
    theirs, _ = train_saelens(init, iter(ActivationStore(x, 256, 8192, seed=0)), cfg, 256)
    for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
        assert (getattr(ours, k) - getattr(init, k)).abs().max() > 1e-2  # it did train
        torch.testing.assert_close(getattr(ours, k), getattr(theirs, k), atol=1e-6, rtol=1e-5)
    # and our default recipe (unit-norm decoder, no clipping) is a different trajectory
    unit = ReluSAE(init.cfg, seed=0)
    train_sae(unit, iter(ActivationStore(x, 256, 8192, seed=0)), TrainConfig(n_steps=120, lr=3e-3))
    assert (unit.W_dec - theirs.W_dec).abs().max() > 1e-3
    with pytest.raises(SAEError, match="grad_clip"):
        TrainConfig(grad_clip=0.0)
