"""IOI latents by role: role columns right for both orders on real prompts (SmolLM2 tokenizer),
and, on a tiny random Llama-style model of ours (float64), the batched helpers against
independent computations: one prompt at a time with each prompt's own role columns, on the
TransformerLens twin driven by plain hooks. Two synthetic "orders" share a length but swap the
IO and S1 columns, as ABBA and BABA do."""

import pytest
import torch

from arena_core.data.ioi import corrupt, ioi_dataset
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.ioi_latents import (
    IOILatentsError,
    mean_ld,
    paired_batches,
    patch_role_latents,
    role_attribution,
    role_code_sums,
    take,
)
from arena_core.models import smollm2_tokenizer
from arena_core.sae import ReluSAE, SAEConfig
from arena_core.sae.attribution import latent_attribution
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
HOOK = "blocks.0.hook_resid_post"
D_SAE = 80
POS = [{"IO": 1, "S1": 3, "S1+1": 4, "S2": 6, "end": 8},  # "ABBA"
       {"IO": 3, "S1": 1, "S1+1": 2, "S2": 6, "end": 8}]  # "BABA": IO and S1 swapped  # fmt: skip
ROLES = ("IO", "S1", "S1+1", "S2", "end")


def test_role_columns_hold_the_role_tokens_for_both_orders():
    tok = smollm2_tokenizer()
    data = ioi_dataset(tok, 48, seed=1)
    flip_d, abc_d = corrupt(tok, data, "flip_s2", seed=1), corrupt(tok, data, "abc", seed=1)
    clean, flip, abc = paired_batches(data, flip_d, abc_d)
    assert sorted(i for b in clean for i in b.idx) == list(range(48))
    orders = {data.prompts[b.idx[0]].order for b in clean}
    assert orders == {"ABBA", "BABA"}
    for b, f, a in zip(clean, flip, abc, strict=True):
        p = b.positions
        assert {data.prompts[i].order for i in b.idx} == {data.prompts[b.idx[0]].order}
        assert torch.equal(b.tokens[:, p["IO"]], b.io_ids)  # the bug: wrong for half the rows
        assert torch.equal(b.tokens[:, p["S1"]], b.s_ids)
        assert torch.equal(b.tokens[:, p["S2"]], b.s_ids)
        assert p["S1+1"] == p["S1"] + 1
        for i, row in zip(b.idx, b.tokens, strict=True):  # the dataset's own per-prompt columns
            assert data.positions[i]["IO"] == p["IO"] and data.positions[i]["S1"] == p["S1"]
            assert row.tolist() == data.tokens[i]
        assert torch.equal(f.tokens[:, p["S2"]], b.io_ids)  # flip_s2 repeats IO at S2
        assert torch.equal(f.tokens[:, p["IO"]], b.io_ids)
        assert torch.equal(a.tokens[:, p["IO"]], a.io_ids)
    # within a template, the two orders put IO in different columns
    by_t: dict = {}
    for b in clean:
        by_t.setdefault(data.prompts[b.idx[0]].template, set()).add(b.positions["IO"])
    assert any(len(cols) == 2 for cols in by_t.values())
    with pytest.raises(IOILatentsError):
        paired_batches(data, corrupt(tok, ioi_dataset(tok, 32, seed=1), "abc"))


@pytest.fixture(scope="module")
def setup():
    model, tl = scaled_tl_pair("llama-gqa", CFG, seed=5)
    sae = ReluSAE(SAEConfig(d_in=CFG.d_model, d_sae=D_SAE), seed=2).double()
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.5)
        sae.b_dec.normal_(0, 0.3)
    g = torch.Generator().manual_seed(4)
    clean, corr = [], []
    for p, n in zip(POS, (2, 3), strict=True):
        t = torch.randint(0, CFG.d_vocab, (n, p["end"] + 1), generator=g)
        t[:, p["S2"]] = t[:, p["S1"]]
        c = t.clone()
        c[:, p["S2"]] = t[:, p["IO"]]  # flip_s2-like, and a new name at IO
        c[:, p["IO"]] = (t[:, p["IO"]] + 7) % CFG.d_vocab
        start = sum(len(b.idx) for b in clean)
        ids = list(range(start, start + n))
        clean.append(TemplateBatch(ids, t, dict(p), t[:, p["IO"]], t[:, p["S1"]]))
        corr.append(TemplateBatch(ids, c, dict(p), t[:, p["IO"]], t[:, p["S1"]]))
    return model, tl, sae, clean, corr


def _prompts(batches):
    """(tokens [1 pos], io, s, positions) one prompt at a time."""
    return [(b.tokens[i : i + 1], int(b.io_ids[i]), int(b.s_ids[i]), POS[k])
            for k, b in enumerate(batches) for i in range(len(b.idx))]  # fmt: skip


def _ld(logits, io, s):
    return (logits[0, -1, io] - logits[0, -1, s]).item()


def test_mean_ld_with_hooks_equals_one_prompt_at_a_time(setup):
    model, tl, _, clean, corr = setup
    delta = torch.randn(
        CFG.d_model, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )

    def add_at_s2(k, b):
        def hook(x, hook=None):
            x = x.clone()
            x[:, b.positions["S2"]] += delta
            return x

        return [(HOOK, hook)]

    got = mean_ld(model, clean, [c.tokens for c in corr], hooks_for=add_at_s2)
    ref = []
    for (t, io, s, p), c in zip(_prompts(clean), _prompts(corr), strict=True):

        def hook(x, hook, p=p):
            x = x.clone()
            x[:, p["S2"]] += delta
            return x

        ref.append(_ld(tl.run_with_hooks(c[0], fwd_hooks=[(HOOK, hook)]), io, s))
    assert got == pytest.approx(sum(ref) / len(ref), abs=1e-9)
    assert mean_ld(model, clean) == pytest.approx(
        sum(_ld(tl(t), io, s) for t, io, s, _ in _prompts(clean)) / 5, abs=1e-9
    )


def test_role_attribution_equals_per_prompt_attribution_at_own_columns(setup):
    model, _, sae, clean, corr = setup
    ra = role_attribution(model, sae, HOOK, clean, corr, ROLES)
    ref_lat = torch.zeros(len(ROLES) + 1, D_SAE, dtype=torch.float64)
    ref_err = torch.zeros(len(ROLES) + 1, dtype=torch.float64)
    for (t, io, s, p), (c, *_) in zip(_prompts(clean), _prompts(corr), strict=True):
        ans = torch.tensor([[io, s]])
        a = latent_attribution(model, sae, HOOK, t, c,
                               lambda lg, ans=ans: (lg[:, -1, ans[0, 0]] - lg[:, -1, ans[0, 1]]
                                                    ).sum() / 5)  # fmt: skip
        cols = [p[r] for r in ROLES]
        for j, col in enumerate(cols):
            ref_lat[j] += a.latents[col]
            ref_err[j] += a.error[col]
        rest = [q for q in range(t.shape[1]) if q not in cols]
        ref_lat[-1] += a.latents[rest].sum(0)
        ref_err[-1] += a.error[rest].sum()
    torch.testing.assert_close(ra.latents, ref_lat, atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(ra.error, ref_err, atol=1e-9, rtol=1e-7)
    assert ra.latents[0].abs().max() > 1e-3  # IO attribution is not trivially zero
    sums = role_code_sums(clean, ra.codes, ROLES)
    ref = torch.zeros(len(ROLES), D_SAE)
    for k, b in enumerate(clean):
        for i in range(len(b.idx)):
            for j, r in enumerate(ROLES):
                ref[j] += ra.codes[k][0][i, POS[k][r]].float()
    torch.testing.assert_close(sums, ref)


def test_patch_role_latents_equals_plain_residual_edits(setup):
    model, tl, sae, clean, corr = setup
    ra = role_attribution(model, sae, HOOK, clean, corr, ROLES)
    with torch.no_grad():
        w_dec = sae.W_dec.detach()

        def ref(edit):
            vals = []
            for (t, io, s, p), (c, *_) in zip(_prompts(clean), _prompts(corr), strict=True):
                _, cc = tl.run_with_cache(t)

                def hook(x, hook, p=p, xc=cc[HOOK]):
                    return edit(x.clone(), xc, p)

                vals.append(_ld(tl.run_with_hooks(c, fwd_hooks=[(HOOK, hook)]), io, s))
            return sum(vals) / len(vals)

        def whole(x, xc, p):  # every latent and the error at IO: the clean residual there
            x[:, p["IO"]] = xc[:, p["IO"]]
            return x

        got = patch_role_latents(model, sae, HOOK, clean, corr, ra.codes, [("IO", None)], True)
        assert got == pytest.approx(ref(whole), abs=1e-9)
        lat = int(ra.latents[3].abs().argmax())

        def one(x, xc, p):  # one latent at S2: move along W_dec by Δf
            d = sae.encode(xc[:, p["S2"]])[:, lat] - sae.encode(x[:, p["S2"]])[:, lat]
            x[:, p["S2"]] += d[:, None] * w_dec[lat]
            return x

        got = patch_role_latents(model, sae, HOOK, clean, corr, ra.codes, [("S2", lat)])
        assert got == pytest.approx(ref(one), abs=1e-9)
        assert got != pytest.approx(mean_ld(model, clean, [c.tokens for c in corr]), abs=1e-6)


def test_bad_inputs_raise_user_errors(setup):
    model, _, sae, clean, corr = setup
    with pytest.raises(IOILatentsError):
        take(clean, 0)
    with pytest.raises(IOILatentsError):
        mean_ld(model, [])
    codes = role_attribution(model, sae, HOOK, clean, corr, ROLES).codes
    with pytest.raises(IOILatentsError):
        patch_role_latents(model, sae, HOOK, clean, corr, codes, [("S3", 1)])
    assert [len(b.idx) for b in take(clean, 2)] == [2, 2]
