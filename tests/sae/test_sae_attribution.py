"""SAE splicing, latent attribution patching and exact latent patching, checked on a tiny random
Llama-style model of ours against its TransformerLens twin driven by plain hooks (the independent
reference): the spliced forward equals the un-hooked one; attribution equals a central finite
difference along the same residual direction; patching every latent and the error at a position
equals patching the residual there; a mean ablation equals adding (mean − f) W_dec.

float64 throughout: the splice identity then holds to ~1e-12, and a central difference with
step 1e-4 has truncation error ~1e-8 relative (the network is smooth in f: no ReLU after the
edit), hence the tolerances below."""

import pytest
import torch

from arena_core.interp.patching import logit_diff, patch_by_layer_pos
from arena_core.sae import ReluSAE, SAEConfig, SAEError
from arena_core.sae.attribution import latent_attribution, patch_codes
from arena_core.sae.splice import replace_codes, run_spliced, splice_hook, unit_mask
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
HOOK = "blocks.0.hook_resid_post"
B, POS, D_SAE = 3, 6, 80


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model, tl = scaled_tl_pair("llama-gqa", CFG, seed=3)
    sae = ReluSAE(SAEConfig(d_in=CFG.d_model, d_sae=D_SAE), seed=1).double()
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.5)
        sae.b_dec.normal_(0, 0.3)
    clean = torch.randint(0, CFG.d_vocab, (B, POS))
    corrupted = clean.clone()
    corrupted[:, 2] = (clean[:, 2] + 5) % CFG.d_vocab
    corrupted[:, 4] = (clean[:, 4] + 7) % CFG.d_vocab
    answers = torch.randint(0, CFG.d_vocab, (B, 2))
    return model, tl, sae, clean, corrupted, answers


def _metric(answers):
    return lambda logits: logit_diff(logits, answers)


def test_splice_with_error_term_leaves_logits_unchanged(setup):
    model, tl, sae, clean, _, _ = setup
    logits, codes, err = run_spliced(model, sae, HOOK, clean)
    torch.testing.assert_close(logits, tl(clean), atol=1e-10, rtol=0)
    assert (codes > 0).float().mean() > 0.1 and err.norm() > 1.0  # a real, imperfect SAE
    # without the error term the logits do move: the identity above is not vacuous
    drop = lambda f, e: (f, torch.zeros_like(e))  # noqa: E731
    moved, _, _ = run_spliced(model, sae, HOOK, clean, edit=drop)
    assert (moved - logits).abs().max() > 1e-2


def _tl_metric_with_delta(tl, tokens, delta, metric):
    """TL forward with `delta` [batch pos d] added to the residual at HOOK (a plain hook)."""
    return metric(tl.run_with_hooks(tokens, fwd_hooks=[(HOOK, lambda x, hook: x + delta)]))


def test_attribution_equals_finite_differences(setup):
    model, tl, sae, clean, corrupted, answers = setup
    metric = _metric(answers)
    att = latent_attribution(model, sae, HOOK, clean, corrupted, metric)
    assert att.metric_corrupted == pytest.approx(metric(tl(corrupted)).item(), abs=1e-10)
    assert att.metric_clean == pytest.approx(metric(tl(clean)).item(), abs=1e-10)
    diff = att.codes_clean - att.codes_corrupted  # [B POS D_SAE]
    units = [(p, i) for p, i, _ in att.top(4)] + [(5, int(diff[:, 5].abs().sum(0).argmax()))]
    eps = 1e-4
    for p, i in units:
        delta = torch.zeros(B, POS, CFG.d_model, dtype=torch.float64)
        delta[:, p] = diff[:, p, i, None] * sae.W_dec[i].detach()  # move f_{p,i} along Δf
        up = _tl_metric_with_delta(tl, corrupted, eps * delta, metric)
        down = _tl_metric_with_delta(tl, corrupted, -eps * delta, metric)
        fd = ((up - down) / (2 * eps)).item()
        assert att.latents[p, i].item() == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert att.latents.abs().max() > 1e-3
    # positions before the first change have identical codes: zero attribution there
    assert att.latents[:2].abs().max() == 0
    # the error term at position 4: same check along e_clean - e_corr
    _, _, e_corr = run_spliced(model, sae, HOOK, corrupted)
    delta = torch.zeros(B, POS, CFG.d_model, dtype=torch.float64)
    delta[:, 4] = att.error_clean[:, 4] - e_corr[:, 4]
    fd = (_tl_metric_with_delta(tl, corrupted, eps * delta, metric)
          - _tl_metric_with_delta(tl, corrupted, -eps * delta, metric)) / (2 * eps)  # fmt: skip
    assert att.error[4].item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-9)


def test_patching_every_latent_and_error_equals_residual_patch(setup):
    model, tl, sae, clean, corrupted, answers = setup
    metric = _metric(answers)
    _, f_clean, e_clean = run_spliced(model, sae, HOOK, clean)
    _, cache = tl.run_with_cache(clean)
    x_clean = cache[HOOK]
    # patch_by_layer_pos stores its grid in float32: a loose check of the whole row first
    plain = patch_by_layer_pos(tl, corrupted, cache, metric, "hook_resid_post", False)[0]
    for p in (2, 4, 5):

        def resid(x, hook, p=p):  # the plain residual patch, exact in float64
            x = x.clone()
            x[:, p] = x_clean[:, p]
            return x

        exact = metric(tl.run_with_hooks(corrupted, fwd_hooks=[(HOOK, resid)])).item()
        assert exact == pytest.approx(plain[p].item(), abs=1e-6)
        mask = torch.zeros(POS, D_SAE, dtype=torch.bool)
        mask[p] = True
        where = torch.zeros(POS, dtype=torch.bool)
        where[p] = True
        edit = replace_codes(f_clean, mask, e_clean, where)
        assert patch_codes(model, sae, HOOK, corrupted, edit, metric) == pytest.approx(
            exact, abs=1e-9
        )
        # latents only: the residual becomes x_clean − e_clean + e_corr at p
        _, _, e_corr = run_spliced(model, sae, HOOK, corrupted)

        def only_latents(x, hook, p=p):
            x = x.clone()
            x[:, p] = x_clean[:, p] - e_clean[:, p] + e_corr[:, p]
            return x

        ref = metric(tl.run_with_hooks(corrupted, fwd_hooks=[(HOOK, only_latents)])).item()
        got = patch_codes(model, sae, HOOK, corrupted, replace_codes(f_clean, mask), metric)
        assert got == pytest.approx(ref, abs=1e-9)


def test_mean_ablation_of_units_equals_decoder_shift(setup):
    model, tl, sae, clean, _, answers = setup
    metric = _metric(answers)
    _, f, _ = run_spliced(model, sae, HOOK, clean)
    means = torch.rand(POS, D_SAE, dtype=torch.float64)
    units = [(1, 3), (4, 10), (4, 11), (5, 70)]
    got = patch_codes(model, sae, HOOK, clean, replace_codes(means, unit_mask(POS, D_SAE, units)),
                      metric)  # fmt: skip
    delta = torch.zeros(B, POS, CFG.d_model, dtype=torch.float64)
    for p, i in units:
        delta[:, p] += (means[p, i] - f[:, p, i])[:, None] * sae.W_dec[i].detach()
    assert got == pytest.approx(_tl_metric_with_delta(tl, clean, delta, metric).item(), abs=1e-9)


def test_bad_inputs_raise(setup):
    model, _, sae, clean, corrupted, answers = setup
    metric = _metric(answers)
    with pytest.raises(SAEError, match="same shape"):
        latent_attribution(model, sae, HOOK, clean, corrupted[:, :-1], metric)
    with pytest.raises(SAEError, match="unknown hook"):
        run_spliced(model, sae, "blocks.9.nope", clean)
    with pytest.raises(SAEError, match="outside"):
        unit_mask(POS, D_SAE, [(0, D_SAE)])
    with pytest.raises(SAEError, match="bool"):
        replace_codes(torch.zeros(POS, D_SAE), torch.zeros(POS, D_SAE))
    with pytest.raises(SAEError, match="does not match"):
        run_spliced(model, sae, HOOK, clean, replace_codes(0.0 * torch.ones(1),
                                                           torch.zeros(3, 3).bool()))  # fmt: skip
    small = ReluSAE(SAEConfig(d_in=8, d_sae=16)).double()
    with pytest.raises(SAEError, match="width"):
        splice_hook(small)(torch.zeros(1, 2, CFG.d_model, dtype=torch.float64))
    with pytest.raises(SAEError, match="scalar"):
        latent_attribution(model, sae, HOOK, clean, corrupted, lambda lg: lg[:, -1, 0])
