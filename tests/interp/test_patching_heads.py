"""Per-head and per-position activation patching against `transformer_lens.patching` on TL's twin
of the same random float64 model (GPT-2 style, and Llama with grouped-query attention), several
cells per pass against one cell per pass, odd shapes and the errors.

TL allocates its result grid with the default dtype, so its calls run under float64 default;
the comparison is then exact up to op-order rounding (1e-8)."""

import pytest
import torch
import transformer_lens.patching as tlp

from arena_core.interp.patch_batch import PatchingError
from arena_core.interp.patching import patching_setup
from arena_core.interp.patching_heads import (
    patch_block_every,
    patch_head_all_pos,
    patch_head_out_by_pos,
)
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

pytestmark = pytest.mark.usefixtures("one_thread")

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
TOL = dict(atol=1e-8, rtol=0)
B, POS = 2, 5


def _problem(model, batch=B, pos=POS, seed=0):
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(0, CFG.d_vocab, (batch, pos), generator=g)
    corrupted = clean.clone()
    corrupted[:, pos // 2] = (clean[:, pos // 2] + 1 + torch.arange(batch)) % CFG.d_vocab
    answers = torch.randint(0, CFG.d_vocab, (batch, 2), generator=g)
    return clean, corrupted, patching_setup(model, clean, corrupted, answers)


def _tl(fn, *args, **kwargs):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_default_dtype(old)


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    model, tl = scaled_tl_pair(request.param, CFG, seed=3)
    clean, corrupted, s = _problem(model)
    _, tl_cache = tl.run_with_cache(clean)
    return request.param, model, tl, corrupted, s, tl_cache


def test_head_out_by_pos_matches_tl(pair):
    _, model, tl, corrupted, s, tl_cache = pair
    ours = patch_head_out_by_pos(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref = _tl(tlp.get_act_patch_attn_head_out_by_pos, tl, corrupted, tl_cache, s.metric)
    assert ours.shape == (CFG.n_layers, POS, CFG.n_heads)
    torch.testing.assert_close(ours, ref, **TOL)
    assert ours.abs().max() > 0.05  # something moves


@pytest.mark.parametrize("kind", ["z", "q", "k", "v", "pattern"])
def test_head_all_pos_matches_tl(pair, kind):
    name, model, tl, corrupted, s, tl_cache = pair
    ours = patch_head_all_pos(model, corrupted, s.clean_cache, s.metric, kind, show_progress=False)
    fn = {
        "z": tlp.get_act_patch_attn_head_out_all_pos,
        "q": tlp.get_act_patch_attn_head_q_all_pos,
        "k": tlp.get_act_patch_attn_head_k_all_pos,
        "v": tlp.get_act_patch_attn_head_v_all_pos,
        "pattern": tlp.get_act_patch_attn_head_pattern_all_pos,
    }[kind]
    ref = _tl(fn, tl, corrupted, tl_cache, s.metric)
    n_heads = 2 if kind in ("k", "v") and name == "llama-gqa" else CFG.n_heads
    assert ours.shape == (CFG.n_layers, n_heads)  # GQA: one column per KV head, as TL
    torch.testing.assert_close(ours, ref, **TOL)


def test_block_every_matches_tl(pair):
    _, model, tl, corrupted, s, tl_cache = pair
    ours = patch_block_every(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref = _tl(tlp.get_act_patch_block_every, tl, corrupted, tl_cache, s.metric)
    assert ours.shape == (3, CFG.n_layers, POS)
    torch.testing.assert_close(ours, ref, **TOL)


@pytest.mark.parametrize("kind", ["k", "v"])
def test_gqa_per_query_head_matches_ungrouped_tl(kind):
    model, tl = scaled_tl_pair("llama-gqa", CFG, seed=4)
    clean, corrupted, s = _problem(model, seed=1)
    ours = patch_head_all_pos(
        model, corrupted, s.clean_cache, s.metric, kind, per="query_head", show_progress=False
    )
    tl.cfg.ungroup_grouped_query_attention = True  # TL: one key/value per query head
    try:
        _, cache = tl.run_with_cache(clean)
        assert cache[f"blocks.0.attn.hook_{kind}"].shape[2] == CFG.n_heads
        cells = [(la, h) for la in range(CFG.n_layers) for h in range(CFG.n_heads)]
        import pandas as pd

        ref = _tl(
            tlp.generic_activation_patch, tl, corrupted, cache, s.metric,
            patch_setter=tlp.layer_head_vector_patch_setter, activation_name=kind,
            index_df=pd.DataFrame(cells, columns=["layer", "head"]),
        )  # fmt: skip
    finally:
        tl.cfg.ungroup_grouped_query_attention = False
    torch.testing.assert_close(ours, ref.view(CFG.n_layers, CFG.n_heads), **TOL)
    # per query head differs from per KV head (which patches the whole group at once)
    grouped = patch_head_all_pos(
        model, corrupted, s.clean_cache, s.metric, kind, show_progress=False
    )
    assert not torch.allclose(ours[:, ::2], grouped, atol=1e-4)


@pytest.mark.parametrize("kind", ["gpt2", "llama-gqa"])
def test_batched_equals_one_cell_per_pass(kind):
    model, _ = scaled_tl_pair(kind, CFG, seed=5)
    _, corrupted, s = _problem(model, seed=2)
    args = (model, corrupted, s.clean_cache, s.metric)
    for fn, kw in [
        (patch_head_out_by_pos, {}),
        (patch_block_every, {}),
        (patch_head_all_pos, {"kind": "pattern"}),
        (patch_head_all_pos, {"kind": "k", "per": "query_head"}),
    ]:
        one = fn(*args, cells_per_pass=1, show_progress=False, **kw)
        many = fn(*args, cells_per_pass=7, show_progress=False, **kw)
        torch.testing.assert_close(one, many, atol=1e-10, rtol=0)


@pytest.mark.parametrize("batch,pos", [(1, 4), (3, 1)])
def test_odd_shapes(batch, pos):
    model, tl = scaled_tl_pair("llama-gqa", CFG, seed=6)
    clean = torch.randint(0, CFG.d_vocab, (batch, pos))
    corrupted = (clean + 1) % CFG.d_vocab
    answers = torch.randint(0, CFG.d_vocab, (batch, 2))
    s = patching_setup(model, clean, corrupted, answers)
    _, tl_cache = tl.run_with_cache(clean)
    ours = patch_head_out_by_pos(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    ref = _tl(tlp.get_act_patch_attn_head_out_by_pos, tl, corrupted, tl_cache, s.metric)
    torch.testing.assert_close(ours, ref, **TOL)


def test_layers_subset_leaves_nan():
    model, _ = scaled_tl_pair("gpt2", CFG, seed=7)
    _, corrupted, s = _problem(model, seed=3)
    full = patch_head_all_pos(model, corrupted, s.clean_cache, s.metric, show_progress=False)
    part = patch_head_all_pos(
        model, corrupted, s.clean_cache, s.metric, layers=[1], show_progress=False
    )
    assert torch.isnan(part[0]).all()
    torch.testing.assert_close(part[1], full[1], atol=1e-12, rtol=0)


def test_errors():
    model, _ = scaled_tl_pair("gpt2", CFG, seed=8)
    clean, corrupted, s = _problem(model)
    args = (model, corrupted, s.clean_cache, s.metric)
    with pytest.raises(PatchingError, match="kind"):
        patch_head_all_pos(*args, kind="resid")
    with pytest.raises(PatchingError, match="per"):
        patch_head_all_pos(*args, kind="k", per="group")
    with pytest.raises(PatchingError, match="out of range"):
        patch_head_out_by_pos(*args, layers=[2])
    with pytest.raises(PatchingError, match="does not match"):
        patch_head_out_by_pos(model, corrupted[:, :-1], s.clean_cache, s.metric)
    with pytest.raises(PatchingError, match="does not match"):
        patch_block_every(model, corrupted[:1], s.clean_cache, s.metric)
    with pytest.raises(PatchingError, match="no 'blocks.0.attn.hook_pattern'"):
        cache = {k: v for k, v in s.clean_cache.items() if "pattern" not in k}
        patch_head_all_pos(model, corrupted, cache, s.metric, kind="pattern")
    with pytest.raises(PatchingError, match="cells_per_pass"):
        patch_head_all_pos(*args, cells_per_pass=0)
    with pytest.raises(PatchingError, match="non-empty"):
        patch_head_all_pos(model, corrupted[:0], s.clean_cache, s.metric)
    attn_only, _ = scaled_tl_pair("gpt2", CFG.with_(attn_only=True), seed=8)
    with pytest.raises(PatchingError, match="attention-only"):
        patch_block_every(attn_only, corrupted, s.clean_cache, s.metric)
