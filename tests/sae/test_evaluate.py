"""Evaluation: L0 / explained variance / densities against direct formulas, and CE loss recovered
on our model against the same splice done by hand on a TransformerLens twin of it."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.probes.activations import pad_batch
from arena_core.sae import ReluSAE, SAEConfig, SAEError
from arena_core.sae.evaluate import ce_loss_recovered, log_density, sae_stats
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
HOOK = "blocks.1.hook_resid_post"


def test_stats_match_direct_formulas():
    sae = ReluSAE(SAEConfig(d_in=8, d_sae=12), seed=2)
    with torch.no_grad():
        sae.b_enc[:3] = -1e3  # three latents can never fire: dead
        sae.b_enc[3] = 1e3  # one latent always fires: dense
    x = torch.randn(500, 8)
    s = sae_stats(sae, x, batch_size=64)
    f = F.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc).detach()
    recon = f @ sae.W_dec.detach() + sae.b_dec.detach()
    assert s.l0 == pytest.approx((f > 0).sum(1).float().mean().item(), rel=1e-6)
    fve = 1 - ((recon - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
    assert s.fve == pytest.approx(fve.item(), rel=1e-5)
    assert s.dead_fraction == pytest.approx(3 / 12)
    assert s.density[3] == 1.0 and s.dense_fraction >= 1 / 12
    assert len(log_density(s.density)) == 9


def test_ce_loss_recovered_matches_a_hand_splice_on_transformer_lens():
    torch.manual_seed(0)
    model = Llama(CFG.with_(n_kv_heads=2)).double().eval()
    tl = transformer_lens_twin(model, dtype=torch.float64)
    sae = ReluSAE(SAEConfig(d_in=32, d_sae=64), seed=1).double()
    rows = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 1], [2, 9, 11, 30, 5, 6, 7]]
    tokens, mask = pad_batch(rows, pad_id=0, side="right")
    mean_act = torch.randn(32, dtype=torch.float64)
    got = ce_loss_recovered(model, sae, tokens, mask, HOOK, mean_act)

    def ref_ce(fn=None):  # per-prompt, unpadded, on the TransformerLens twin
        losses = []
        for r in rows:
            t = torch.tensor([r])
            logits = tl.run_with_hooks(t, fwd_hooks=[(HOOK, fn)] if fn else [])
            losses.append(F.cross_entropy(logits[0, :-1], t[0, 1:], reduction="none"))
        return torch.cat(losses).mean().item()

    want = {
        "ce_clean": ref_ce(),
        "ce_spliced": ref_ce(lambda a, hook: sae(a)),
        "ce_zero_ablation": ref_ce(lambda a, hook: torch.zeros_like(a)),
        "ce_mean_ablation": ref_ce(lambda a, hook: mean_act.expand_as(a)),
    }
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9), k
    z = want["ce_zero_ablation"]
    assert got["recovered_vs_zero"] == pytest.approx(
        (z - want["ce_spliced"]) / (z - want["ce_clean"]), rel=1e-9
    )

    class Identity(ReluSAE):  # a "perfect" SAE recovers everything
        def forward(self, x):
            return x

    perfect = ce_loss_recovered(model, Identity(SAEConfig(d_in=32, d_sae=4)).double(), tokens,
                                mask, HOOK, mean_act)  # fmt: skip
    assert perfect["recovered_vs_zero"] == pytest.approx(1.0)
    assert perfect["recovered_vs_mean"] == pytest.approx(1.0)


def test_bad_inputs_raise():
    sae = ReluSAE(SAEConfig(d_in=8, d_sae=12))
    with pytest.raises(SAEError, match="non-empty"):
        sae_stats(sae, torch.zeros(0, 8))
    with pytest.raises(SAEError, match="mean_act"):
        ce_loss_recovered(None, sae, torch.zeros(2, 3, dtype=torch.long),
                          torch.ones(2, 3, dtype=torch.long), HOOK, torch.zeros(5))  # fmt: skip


def test_folding_an_input_scale_keeps_the_code_and_rescales_the_output():
    sae = ReluSAE(SAEConfig(d_in=8, d_sae=12), seed=2)
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_enc.normal_()
    x = torch.randn(20, 8)
    f, recon = sae.encode(3.0 * x), sae(3.0 * x)
    sae.fold_input_scale(3.0)
    torch.testing.assert_close(sae.encode(x), f)
    torch.testing.assert_close(sae(x), recon / 3.0)
    with pytest.raises(SAEError, match="positive"):
        sae.fold_input_scale(0.0)


def test_token_activations_match_a_full_forward_and_outliers_pass_through():
    from arena_core.sae.store import token_activations

    torch.manual_seed(0)
    model = Llama(CFG.with_(n_kv_heads=2)).double().eval()
    tl = transformer_lens_twin(model, dtype=torch.float64)
    rows = [[1, 5, 9, 2, 7], [4, 4, 8, 1, 3], [2, 9, 11, 30, 5]]
    got = token_activations(model, rows, HOOK, batch_size=2, skip_first=1)
    _, cache = tl.run_with_cache(torch.tensor(rows))
    torch.testing.assert_close(got, cache[HOOK][:, 1:].reshape(-1, 32).float())
    # with a norm cut below every activation, all interventions leave the model clean
    sae = ReluSAE(SAEConfig(d_in=32, d_sae=64), seed=1).double()
    tokens, mask = pad_batch(rows, pad_id=0, side="right")
    out = ce_loss_recovered(model, sae, tokens, mask, HOOK, torch.zeros(32, dtype=torch.float64),
                            max_norm=0.0)  # fmt: skip
    assert out["ce_spliced"] == pytest.approx(out["ce_clean"])
    assert out["ce_zero_ablation"] == pytest.approx(out["ce_clean"])
    with pytest.raises(SAEError, match="one length"):
        token_activations(model, [[1, 2], [3]], HOOK)
