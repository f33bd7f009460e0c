"""IOI patching maps against `arena_core.interp.patching` (itself checked against
`transformer_lens.patching`), one cell per forward pass on each batch, combined by hand
(prompt-weighted means of LD changes); float64, so 1e-9 (+1e-7 relative: logit differences are
~50 at this weight scale) is op-order rounding."""

import pytest
import torch

from arena_core.interp.attribution_patching import attribution_patching
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.ioi_patching import (
    CLASSES,
    attribution_maps,
    exact_head_map,
    exact_resid_map,
)
from arena_core.interp.patching import logit_diff, patch_by_layer_pos, patch_head_z_all_pos
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
POS = [{"IO": 1, "S1": 2, "S1+1": 3, "S2": 5, "end": 7},
       {"IO": 2, "S1": 1, "S1+1": 2, "S2": 6, "end": 9}]  # fmt: skip


@pytest.fixture(scope="module")
def setup():
    model, _ = scaled_tl_pair("llama-gqa", CFG, seed=9, scale=1.5)
    g = torch.Generator().manual_seed(3)
    clean, corr = [], []
    for p, n in zip(POS, (2, 3), strict=True):
        t = torch.randint(0, CFG.d_vocab, (n, p["end"] + 1), generator=g)
        c = t.clone()
        c[:, [p["IO"], p["S1"], p["S2"]]] = torch.randint(0, CFG.d_vocab, (n, 3), generator=g)
        clean.append(TemplateBatch(list(range(n)), t, dict(p), t[:, p["IO"]], t[:, p["S1"]]))
        corr.append(TemplateBatch(list(range(n)), c, dict(p), t[:, p["IO"]], t[:, p["S1"]]))
    return model, clean, corr


def reference(model, clean, corr, fn):
    total = 0.0
    for b, c in zip(clean, corr, strict=True):
        with torch.no_grad():
            _, cache = model.run_with_cache(b.tokens)
            base = logit_diff(model(c.tokens), b.answers)

        def metric(lg, b=b, base=base):
            return logit_diff(lg, b.answers) - base

        total = total + len(b.idx) / 5 * fn(b, c, cache, metric).double()
    return total


def test_exact_maps_match_one_cell_per_pass(setup):
    model, clean, corr = setup
    heads = exact_head_map(model, clean, corr, cells_per_pass=3)
    ref = reference(model, clean, corr, lambda b, c, cache, m: patch_head_z_all_pos(
        model, c.tokens, cache, m, show_progress=False))  # fmt: skip
    torch.testing.assert_close(heads, ref, atol=1e-9, rtol=1e-7)  # LDs ~50: 1e-7 rel
    assert heads.abs().max() > 1e-3
    late = exact_head_map(model, clean, corr, from_layer=1)
    assert late[0].isnan().all()
    torch.testing.assert_close(late[1:], heads[1:], atol=1e-9, rtol=1e-7)
    resid = exact_resid_map(model, clean, corr)

    def by_class(b, c, cache, m):
        grid = patch_by_layer_pos(model, c.tokens, cache, m, show_progress=False)
        return grid[:, [b.positions[k] for k in CLASSES]]

    torch.testing.assert_close(resid, reference(model, clean, corr, by_class), atol=1e-9, rtol=1e-7)


def test_attribution_maps_are_weighted_per_batch_attributions(setup):
    model, clean, corr = setup
    maps = attribution_maps(model, clean, corr)
    ref_heads, ref_s2 = 0.0, 0.0
    for b, c in zip(clean, corr, strict=True):
        name = "blocks.2.attn.hook_z"
        a = attribution_patching(model, b.tokens, c.tokens, lambda lg, b=b: logit_diff(
            lg, b.answers), [name, "blocks.1.hook_resid_pre"])  # fmt: skip
        ref_heads = ref_heads + len(b.idx) / 5 * a[name].sum((0, 2))
        ref_s2 = ref_s2 + len(b.idx) / 5 * a["blocks.1.hook_resid_pre"][b.positions["S2"]].sum()
    torch.testing.assert_close(maps["heads"][2], ref_heads, atol=1e-10, rtol=0)
    assert maps["resid_S2"][1].item() == pytest.approx(ref_s2.item(), abs=1e-10)
    with pytest.raises(ValueError, match="one to one"):
        attribution_maps(model, clean, corr[:1])
