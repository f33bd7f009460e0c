"""Training on planted sparse features: recovery, resampling of dead latents, schedule, store."""

import numpy as np
import pytest
import torch

from arena_core.sae import JumpReluSAE, ReluSAE, SAEConfig, SAEError, TopKSAE
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.store import ActivationFile, ActivationStore
from arena_core.sae.synthetic import mean_max_cosine, planted_features, sparse_data
from arena_core.sae.training import TrainConfig, lr_factor, resample_dead, train_sae

# 48 features in 32 dimensions, ~1.9 active per row; the SAE has 2x as many latents as features
FEAT = planted_features(48, 32, seed=0)
X, _ = sparse_data(FEAT, 40_000, p=0.04, seed=0)


@pytest.mark.slow  # 1,500 steps each: 7-27 s under the test suite's runtime type checks
@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (ReluSAE, {"l1_coeff": 1.0}),
        (TopKSAE, {"k": 2}),
        (JumpReluSAE, {"l0_coeff": 1.0, "threshold": 0.1}),
    ],  # fmt: skip
)
def test_recovers_planted_features(cls, kw):
    sae = cls(SAEConfig(d_in=32, d_sae=96, **kw), seed=1)
    batches = iter(ActivationStore(X, 256, 8192, seed=1))
    train_sae(sae, batches, TrainConfig(n_steps=1500, lr=3e-3, dead_window=5000,
                                        resample_every=250))  # fmt: skip
    assert mean_max_cosine(sae.W_dec.data, FEAT) >= 0.99
    # a random decoder of the same size scores far lower: the bar is not trivially met
    assert mean_max_cosine(planted_features(96, 32, seed=123), FEAT) < 0.8


def test_resampling_revives_dead_latents():
    sae = ReluSAE(SAEConfig(d_in=32, d_sae=96, l1_coeff=0.3), seed=1)
    with torch.no_grad():  # kill half the latents: a bias so negative they can never fire
        sae.b_enc[:48] = -100.0
    dead = torch.zeros(96, dtype=torch.bool)
    dead[:48] = True
    assert sae_stats(sae, X[:2000]).density[:48].sum() == 0
    opt = torch.optim.Adam(sae.parameters())
    n = resample_dead(sae, dead, X[:512], None, opt, torch.Generator().manual_seed(0))
    assert n == 48
    assert (sae_stats(sae, X[:2000]).density[:48] > 0).all()
    torch.testing.assert_close(sae.W_dec[:48].norm(dim=1), torch.ones(48))


def test_training_loop_resamples_planted_dead_latents():
    sae = ReluSAE(SAEConfig(d_in=32, d_sae=96, l1_coeff=0.3), seed=1)
    with torch.no_grad():
        sae.b_enc[:48] = -100.0
    cfg = TrainConfig(n_steps=300, lr=3e-3, dead_window=2000, resample_every=50)
    hist = train_sae(sae, iter(ActivationStore(X, 256, 8192)), cfg)
    assert hist.resampled and hist.resampled[0][1] >= 48
    assert sae_stats(sae, X).dead_fraction < 0.1


def test_lr_schedule_warms_up_and_decays_to_zero():
    cfg = TrainConfig(n_steps=100, warmup_frac=0.1, decay_frac=0.2)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == 1.0 and lr_factor(79, cfg) == 1.0
    assert lr_factor(90, cfg) == pytest.approx(0.5)
    assert lr_factor(99, cfg) == pytest.approx(0.05)


def test_checkpoint_resume_gives_the_same_weights(tmp_path):
    def run(n_steps, ckpt):
        sae = TopKSAE(SAEConfig(d_in=32, d_sae=96, k=2), seed=3)
        cfg = TrainConfig(n_steps=60, lr=3e-3, checkpoint=ckpt, checkpoint_every=30)
        batches = iter(ActivationStore(X, 128, 4096, seed=5))
        if n_steps < 60:  # simulate an interrupted run: stop after the first checkpoint
            cfg_short = TrainConfig(n_steps=60, lr=3e-3, checkpoint=ckpt, checkpoint_every=30)
            it = (b for i, b in zip(range(n_steps), batches, strict=False))
            with pytest.raises(StopIteration):
                train_sae(sae, it, cfg_short)
            return sae, batches
        return train_sae(sae, batches, cfg), sae

    _, full = run(60, None)
    ckpt = tmp_path / "ck.pt"
    _, batches = run(30, ckpt)
    assert ckpt.exists()
    resumed = TopKSAE(SAEConfig(d_in=32, d_sae=96, k=2), seed=99)
    train_sae(resumed, batches, TrainConfig(n_steps=60, lr=3e-3, checkpoint=ckpt,
                                            checkpoint_every=30))  # fmt: skip
    torch.testing.assert_close(resumed.W_dec, full.W_dec)


def test_store_serves_every_row_once_per_epoch_shuffled():
    src = torch.arange(1000.0)[:, None].repeat(1, 3)
    tgt = -src[:, :2]
    store = iter(ActivationStore(src, batch_size=50, buffer_rows=200, targets=tgt, seed=0))
    seen = []
    for _ in range(16):  # 800 of 1000 rows: within the first epoch no row repeats
        x, y = next(store)
        torch.testing.assert_close(y, -x[:, :2])
        seen += x[:, 0].tolist()
    assert len(set(seen)) == len(seen) == 800
    assert seen[:50] != sorted(seen[:50])


def test_activation_file_resumes_and_rebuilds(tmp_path):
    f = ActivationFile(tmp_path, n_total=10, d=3, fingerprint="a")
    f.append(torch.ones(4, 3))
    with pytest.raises(SAEError, match="resume"):
        f.read()
    g = ActivationFile(tmp_path, n_total=10, d=3, fingerprint="a")
    assert g.done == 4
    g.append(2 * torch.ones(6, 3))
    arr = g.read()
    assert isinstance(arr, np.memmap) and arr[:4].sum() == 12 and arr[4:].sum() == 36
    assert ActivationFile(tmp_path, n_total=10, d=3, fingerprint="b").done == 0
    with pytest.raises(SAEError, match="overflows"):
        g.append(torch.ones(1, 3))


def test_bad_inputs_raise():
    with pytest.raises(SAEError, match="non-empty"):
        ActivationStore(torch.zeros(0, 3), 4, 16)
    with pytest.raises(SAEError, match="batch_size"):
        ActivationStore(torch.zeros(10, 3), 64, 16)
    with pytest.raises(SAEError, match="probability"):
        sparse_data(FEAT, 10, p=1.5)
    with pytest.raises(SAEError, match="positive"):
        TrainConfig(n_steps=0)
