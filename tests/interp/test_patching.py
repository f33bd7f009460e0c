"""Activation patching against `transformer_lens.patching` on TL's twin of the same random model,
plus identities that hold whatever the weights: patching the one position where the prompts
differ at layer 0 restores the clean run exactly (metric 1), any other position changes nothing
(metric 0). float64, so the TL comparison is exact up to op-order rounding (1e-9 on a ratio)."""

import pytest
import torch
import transformer_lens.patching as tl_patching

from arena_core.interp.patching import (
    logit_diff,
    patch_attn_out,
    patch_by_layer_pos,
    patch_head_z_all_pos,
    patch_mlp_out,
    patch_resid_pre,
    patching_setup,
)
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
TOL = dict(atol=1e-9, rtol=0)
POS, CHANGED = 6, 2  # prompt length; the position where clean and corrupted differ


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def setup(request):
    model, tl = scaled_tl_pair(request.param, CFG, seed=2)
    clean = torch.randint(0, CFG.d_vocab, (3, POS))
    corrupted = clean.clone()
    corrupted[:, CHANGED] = (clean[:, CHANGED] + 1 + torch.arange(3)) % CFG.d_vocab
    answers = torch.randint(0, CFG.d_vocab, (3, 2))
    s = patching_setup(model, clean, corrupted, answers)
    _, tl_cache = tl.run_with_cache(clean)
    return model, tl, corrupted, s, tl_cache, answers


def test_metric_is_0_for_corrupted_and_1_for_clean(setup):
    model, tl, corrupted, s, tl_cache, answers = setup
    # logit difference by hand on TL's logits: mean over pairs of l[a0] - l[a1] at the last pos
    logits = tl(corrupted)[:, -1]
    by_hand = sum(logits[i, answers[i, 0]] - logits[i, answers[i, 1]] for i in range(3)) / 3
    assert s.corrupted_logit_diff == pytest.approx(by_hand.item(), abs=1e-9)
    torch.testing.assert_close(s.metric(tl(corrupted)), torch.tensor(0.0, dtype=torch.float64))
    assert abs(s.clean_logit_diff - s.corrupted_logit_diff) > 1e-3
    assert logit_diff(logits[:, None], answers).item() == pytest.approx(by_hand.item())


def test_resid_pre_patching_matches_transformer_lens(setup):
    model, tl, corrupted, s, tl_cache, _ = setup
    ours = patch_resid_pre(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref = tl_patching.get_act_patch_resid_pre(tl, corrupted, tl_cache, s.metric)
    assert ours.shape == (CFG.n_layers, POS)
    torch.testing.assert_close(ours, ref.float(), **TOL)
    # layer 0: only the changed position matters, and it restores the clean run completely
    expected = torch.zeros(POS)
    expected[CHANGED] = 1.0
    torch.testing.assert_close(ours[0], expected, atol=1e-6, rtol=0)
    # after the last block, the last position alone carries the whole answer
    post = patch_by_layer_pos(model, corrupted, s.clean_cache, s.metric, "hook_resid_post", False)
    assert post[-1, -1].item() == pytest.approx(1.0, abs=1e-6)
    assert post[-1, :-1].abs().max() < 1e-6


@pytest.mark.parametrize("component", ["attn_out", "mlp_out"])
def test_block_output_patching_matches_transformer_lens(setup, component):
    model, tl, corrupted, s, tl_cache, _ = setup
    fn = patch_attn_out if component == "attn_out" else patch_mlp_out
    ours = fn(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref_fn = getattr(tl_patching, f"get_act_patch_{component}")
    ref = ref_fn(tl, corrupted, tl_cache, s.metric)
    torch.testing.assert_close(ours, ref.float(), **TOL)
    assert ours.abs().max() > 1e-3  # the patches did move the metric


def test_head_patching_matches_transformer_lens(setup):
    model, tl, corrupted, s, tl_cache, _ = setup
    ours = patch_head_z_all_pos(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref = tl_patching.get_act_patch_attn_head_out_all_pos(tl, corrupted, tl_cache, s.metric)
    assert ours.shape == (CFG.n_layers, CFG.n_heads)
    torch.testing.assert_close(ours, ref.float(), **TOL)
    assert ours.abs().max() > 1e-3


def test_our_patching_runs_on_a_transformer_lens_model(setup):
    """The same function with TL's model and TL's cache reproduces TL's own patching."""
    _, tl, corrupted, s, tl_cache, _ = setup
    ours = patch_by_layer_pos(tl, corrupted, tl_cache, s.metric, "hook_resid_mid", False)
    ref = tl_patching.get_act_patch_resid_mid(tl, corrupted, tl_cache, s.metric)
    torch.testing.assert_close(ours, ref.float(), **TOL)


def test_prompts_of_different_length_are_refused(setup):
    """Refused by the shape annotation under the test-time jaxtyping checker, by an explicit
    ValueError otherwise (both name the mismatch)."""
    model = setup[0]
    short, long_ = torch.zeros(1, 5).long(), torch.zeros(1, 6).long()
    with pytest.raises((ValueError, TypeError), match="same shape|corrupted_tokens"):
        patching_setup(model, short, long_, torch.zeros(1, 2).long())
