"""Transcoder circuits: virtual weights against autograd on a hand-built linear path, per-token MLP
Jacobians against `torch.autograd.functional.jacobian`, the scale folding, and the MLP splice
against the same splice done by hand on a TransformerLens twin (float64 throughout)."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.probes.activations import pad_batch
from arena_core.sae import ReluSAE, SAEConfig, SAEError, TopKSAE, Transcoder
from arena_core.sae.training import TrainConfig
from arena_core.sae.transcoder_circuits import (
    fold_scales,
    mlp_io,
    mlp_splice_ce,
    through_mlp_jacobian,
    train_mlp_dictionary,
    virtual_weights,
)
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=16, n_layers=3, n_heads=4, d_head=4, d_mlp=32, d_vocab=30,
                        n_ctx=16, n_kv_heads=2)  # fmt: skip


def _tc(d_in=16, d_sae=24, d_out=16, seed=0):
    cfg = SAEConfig(d_in=d_in, d_sae=d_sae, d_out=d_out, apply_b_dec_to_input=False)
    return Transcoder(cfg, seed=seed).double()


def test_virtual_weights_equal_the_jacobian_of_a_linear_path_only():
    up, down = _tc(seed=1), _tc(seed=2)
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.SiLU(), torch.nn.Linear(32, 16))
    mlp = mlp.double()
    v = virtual_weights(up.W_dec.detach(), down.W_enc.detach())  # [24 24]
    jacs = {}
    for seed in (0, 1):
        base = torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        f0 = torch.rand(24, dtype=torch.float64)

        def linear(f, base=base):  # upstream writes into the stream, downstream reads it
            return down.pre_acts(base + f @ up.W_dec + up.b_dec)

        def through_mlp(f, base=base):  # the same with an MLP (an SAE's view) in between
            return down.pre_acts(base + mlp(base + f @ up.W_dec + up.b_dec))

        j = torch.autograd.functional.jacobian(linear, f0)  # [k_down k_up]
        torch.testing.assert_close(j.T, v, atol=1e-12, rtol=1e-12)
        jacs[seed] = torch.autograd.functional.jacobian(through_mlp, f0).T
    assert (jacs[0] - jacs[1]).abs().max() > 1e-3  # input-dependent once a non-linearity sits there
    with pytest.raises(SAEError, match="widths differ"):
        virtual_weights(up.W_dec.detach(), torch.randn(8, 3, dtype=torch.float64))


def test_through_mlp_jacobian_matches_autograd_per_token():
    torch.manual_seed(0)
    model = Llama(CFG.with_(act_fn="silu")).double().eval()
    mlp = model.blocks[1].mlp
    with torch.no_grad():  # the random init is tiny: scale it so the SiLU gate really bends
        for p in mlp.parameters():
            p.mul_(20)
    sae = ReluSAE(SAEConfig(d_in=16, d_sae=20), seed=3).double()
    tc = _tc(seed=4)
    x = torch.randn(5, 16, dtype=torch.float64)
    dirs = torch.randn(3, 16, dtype=torch.float64)
    down = [0, 4, 7, 19]

    def sae_read(v):
        return sae.pre_acts(mlp(v[None, None])[0, 0])[down]

    j = through_mlp_jacobian(sae_read, x, dirs)  # [5 3 4]
    for n in range(5):
        ref = torch.autograd.functional.jacobian(sae_read, x[n])  # [4 16]
        torch.testing.assert_close(j[n], dirs @ ref.T, atol=1e-12, rtol=1e-12)
    assert (j.std(0) / j.abs().mean(0)).max() > 0.1  # changes from token to token
    # a transcoder's read-out of the same input: the same number for every token = virtual weight
    jt = through_mlp_jacobian(lambda v: tc.pre_acts(v)[down], x, dirs)
    v = virtual_weights(dirs, tc.W_enc.detach()[:, down])
    torch.testing.assert_close(jt, v.expand(5, -1, -1), atol=1e-12, rtol=1e-12)
    with pytest.raises(SAEError, match="need x"):
        through_mlp_jacobian(sae_read, x, dirs[:, :8])


def test_fold_scales_makes_the_dictionary_act_on_raw_activations():
    tc = _tc(d_in=16, d_out=12, seed=5)
    with torch.no_grad():
        tc.b_enc.normal_()
        tc.b_dec.normal_()
    x = torch.randn(7, 16, dtype=torch.float64)
    c_in, c_out = 3.0, 0.25
    want = tc(c_in * x) / c_out
    fold_scales(tc, c_in, c_out)
    torch.testing.assert_close(tc(x), want)
    sae = ReluSAE(SAEConfig(d_in=16, d_sae=20), seed=1).double()
    with pytest.raises(SAEError, match="one scale"):
        fold_scales(sae, 2.0, 3.0)
    with pytest.raises(SAEError, match="positive"):
        fold_scales(tc, 0.0, 1.0)


def test_train_mlp_dictionary_kinds_and_errors():
    x = torch.randn(600, 16)
    y = F.relu(x @ torch.randn(16, 12))
    cfg = TrainConfig(n_steps=30, lr=1e-3, log_every=10)
    tc, hist = train_mlp_dictionary("transcoder", x, y, d_sae=24, l1=1e-3, cfg=cfg, batch=64)
    assert isinstance(tc, Transcoder) and tc.cfg.d_in == 16 and tc.cfg.out == 12
    assert len(hist.step) >= 3
    sae, _ = train_mlp_dictionary("sae", x, y, d_sae=24, l1=1e-3, cfg=cfg, batch=64)
    assert isinstance(sae, ReluSAE) and not isinstance(sae, Transcoder) and sae.cfg.d_in == 12
    tk, _ = train_mlp_dictionary("transcoder", x, y, d_sae=24, l1=0.0, cfg=cfg, batch=64, k=3)
    assert isinstance(tk, TopKSAE) and not tk.cfg.apply_b_dec_to_input and tk.cfg.out == 12
    assert ((tk.encode(x) > 0).sum(-1) <= 3).all()
    with pytest.raises(SAEError, match="kind"):
        train_mlp_dictionary("topk", x, y, d_sae=24, l1=1e-3, cfg=cfg)
    with pytest.raises(SAEError, match="inputs and targets"):
        train_mlp_dictionary("sae", x[:10], y, d_sae=24, l1=1e-3, cfg=cfg)


@pytest.mark.parametrize(
    "reference", ["ours", pytest.param("transformer_lens", marks=pytest.mark.slow)]
)
def test_mlp_io_and_splice_match_a_hand_splice(reference):
    """The hand splice runs on our model's own hooks (fast) or on its TransformerLens twin."""
    torch.manual_seed(0)
    model = Llama(CFG).double().eval()
    tl = model if reference == "ours" else transformer_lens_twin(model, dtype=torch.float64)
    layer = 1
    rows = [[3, 5, 9, 2, 7, 1], [4, 4, 8, 1, 2, 6]]
    x_in, y_out = mlp_io(model, rows, layer)
    assert x_in.shape == y_out.shape == (10, 16)
    _, cache = tl.run_with_cache(torch.tensor(rows))
    torch.testing.assert_close(
        x_in, cache[f"blocks.{layer}.ln2.hook_normalized"][:, 1:].reshape(-1, 16).float()
    )
    torch.testing.assert_close(
        y_out, cache[f"blocks.{layer}.hook_mlp_out"][:, 1:].reshape(-1, 16).float()
    )

    tc = _tc(seed=6)
    tokens, mask = pad_batch([[1, 5, 9, 2, 7, 3], [4, 4, 8, 1]], 0, "right")
    mean_out = torch.randn(16, dtype=torch.float64)
    res = mlp_splice_ce(model, tokens, layer, lambda xi, yo: tc(xi), mean_out, mask)
    ident = mlp_splice_ce(model, tokens, layer, lambda xi, yo: yo, mean_out, mask)
    assert ident["ce_spliced"] == pytest.approx(ident["ce_clean"], abs=1e-12)
    assert ident["recovered_vs_zero"] == pytest.approx(1.0)

    # by hand on TL: MLP output := transcoder(ln2 output), position 0 kept; right padding is
    # harmless for causal attention, so CE on the real token pairs needs no mask in TL
    def ce(hooks):
        logits = tl.run_with_hooks(tokens, fwd_hooks=hooks)
        logp = logits[:, :-1].log_softmax(-1)
        nll = -logp.gather(-1, tokens[:, 1:, None])[..., 0]
        return nll[(mask[:, 1:] * mask[:, :-1]).bool()].mean().item()

    seen = {}

    def grab(a, hook):
        seen["x"] = a

    def splice(a, hook):
        new = tc(seen["x"])
        new[:, 0] = a[:, 0]
        return new

    def zero(a, hook):
        new = torch.zeros_like(a)
        new[:, 0] = a[:, 0]
        return new

    h_in, h_out = f"blocks.{layer}.ln2.hook_normalized", f"blocks.{layer}.hook_mlp_out"
    assert res["ce_clean"] == pytest.approx(ce([]), rel=1e-10)
    assert res["ce_spliced"] == pytest.approx(ce([(h_in, grab), (h_out, splice)]), rel=1e-10)
    assert res["ce_zero_ablation"] == pytest.approx(ce([(h_out, zero)]), rel=1e-10)
    z, c, s = res["ce_zero_ablation"], res["ce_clean"], res["ce_spliced"]
    assert res["recovered_vs_zero"] == pytest.approx((z - s) / (z - c))
