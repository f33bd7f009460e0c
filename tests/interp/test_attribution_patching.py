"""Attribution patching: the gradient term against finite differences, and against exact patching.

References: (1) a central finite difference of the metric along the patch direction,
(M(a + eps D) - M(a - eps D)) / (2 eps) with D = a_clean - a_corr, computed with plain forward
hooks on the TransformerLens twin of the same random model (float64, eps = 1e-5: truncation error
~eps^2, rounding ~1e-16/eps, so 1e-6 relative leaves a wide margin); (2) exact activation
patching by `transformer_lens.patching` on the twin: the linear estimate is not exact, so only a
loose correlation bound is asserted (the value is printed with -s)."""

import pytest
import torch
import transformer_lens.patching as tl_patching

from arena_core.interp.attribution_patching import (
    AttributionPatchingError,
    attr_patch_head_z,
    attr_patch_layer_pos,
    attribution_patching,
    pearson,
)
from arena_core.interp.patching import logit_diff
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
POS = 7


def make(kind: str, scale: float):
    model, tl = scaled_tl_pair(kind, CFG, seed=3, scale=scale)
    g = torch.Generator().manual_seed(5)
    clean = torch.randint(0, CFG.d_vocab, (4, POS), generator=g)
    corrupted = clean.clone()
    corrupted[:, 2] = (clean[:, 2] + 7) % CFG.d_vocab
    corrupted[:, 4] = (clean[:, 4] + 11) % CFG.d_vocab
    answers = torch.randint(0, CFG.d_vocab, (4, 2), generator=g)
    return model, tl, clean, corrupted, answers


@pytest.mark.parametrize("kind", ["gpt2", "llama-gqa"])
def test_attribution_equals_finite_difference(kind):
    model, tl, clean, corrupted, answers = make(kind, scale=2.0)

    def metric(logits):
        return logit_diff(logits, answers)

    heads = attr_patch_head_z(model, clean, corrupted, metric)  # [layers pos heads]
    resid = attr_patch_layer_pos(model, clean, corrupted, metric, "hook_resid_pre")
    assert heads.shape == (CFG.n_layers, POS, CFG.n_heads) and resid.shape == (CFG.n_layers, POS)
    _, tl_clean = tl.run_with_cache(clean)
    _, tl_corr = tl.run_with_cache(corrupted)
    eps = 1e-5

    def fd(name, index):
        delta = tl_clean[name] - tl_corr[name]

        def hook_at(sign):
            def hook(act, hook):
                act = act.clone()
                act[index] = act[index] + sign * eps * delta[index]
                return act

            return hook

        plus = metric(tl.run_with_hooks(corrupted, fwd_hooks=[(name, hook_at(1))]))
        minus = metric(tl.run_with_hooks(corrupted, fwd_hooks=[(name, hook_at(-1))]))
        return ((plus - minus) / (2 * eps)).item()

    for layer, pos, head in [(0, 2, 1), (1, 4, 3), (2, 6, 0), (1, 6, 2)]:
        ref = fd(f"blocks.{layer}.attn.hook_z", (slice(None), pos, head))
        assert heads[layer, pos, head].item() == pytest.approx(ref, rel=1e-6, abs=1e-9)
    for layer, pos in [(0, 2), (1, 4), (2, 6)]:
        ref = fd(f"blocks.{layer}.hook_resid_pre", (slice(None), pos))
        assert resid[layer, pos].item() == pytest.approx(ref, rel=1e-6, abs=1e-9)
    # unchanged positions before the first corrupted token have no difference to patch
    assert heads[:, :2].abs().max() < 1e-12 and resid[:, :2].abs().max() < 1e-12


@pytest.mark.parametrize("kind", ["gpt2", "llama-gqa"])
def test_attribution_tracks_exact_head_patching(kind):
    model, tl, clean, corrupted, answers = make(kind, scale=1.0)
    clean_ld = logit_diff(tl(clean), answers).item()
    corr_ld = logit_diff(tl(corrupted), answers).item()

    def metric(logits):
        return (logit_diff(logits, answers) - corr_ld) / (clean_ld - corr_ld)

    _, tl_cache = tl.run_with_cache(clean)
    exact = tl_patching.get_act_patch_attn_head_out_all_pos(tl, corrupted, tl_cache, metric)
    approx = attr_patch_head_z(model, clean, corrupted, metric).sum(1)  # all positions
    r = pearson(approx, exact)
    print(f"{kind}: attribution vs exact head patching, Pearson r = {r:.3f}")
    assert r > 0.6


def test_resid_attribution_at_layer0_is_the_embedding_difference():
    # at layer 0 the residual is the embedding: linear estimate at the changed positions only
    model, tl, clean, corrupted, answers = make("llama-gqa", scale=1.0)
    out = attribution_patching(model, clean, corrupted, lambda lg: logit_diff(lg, answers),
                               ["blocks.0.hook_resid_pre"])["blocks.0.hook_resid_pre"]  # fmt: skip
    assert out.shape == (POS, CFG.d_model)
    changed = out.abs().sum(-1) > 0
    assert changed.tolist() == [p in (2, 4) for p in range(POS)]


def test_bad_inputs():
    model, _, clean, corrupted, answers = make("gpt2", scale=1.0)

    def metric(lg):
        return logit_diff(lg, answers)

    with pytest.raises(AttributionPatchingError, match="same shape"):
        attribution_patching(model, clean, corrupted[:, :-1], metric, ["blocks.0.hook_resid_pre"])
    with pytest.raises(AttributionPatchingError, match="unknown hook"):
        attribution_patching(model, clean, corrupted, metric, ["blocks.9.hook_resid_pre"])
    with pytest.raises(AttributionPatchingError, match="no hook"):
        attribution_patching(model, clean, corrupted, metric, [])
    with pytest.raises(AttributionPatchingError, match="equal size"):
        pearson(torch.ones(3), torch.ones(4))
