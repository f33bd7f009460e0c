"""Latent statistics for dashboards: checked against brute-force loops and direct formulas.

Top-k contexts and per-row peaks are compared with plain Python loops over toy codes; the code
grid with `sae.encode` token by token; the histogram with `numpy.histogram`; logit effects with an
explicit loop and with `torch.nn.functional.rms_norm` followed by W_U (the norm's 1/rms factor
put back), in float64 so that the comparison is to rounding (1e-10)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arena_core.sae import ReluSAE, SAEConfig, SAEError
from arena_core.sae.features import (
    activation_histogram,
    encode_grid,
    latent_stats,
    logit_effects,
    quantile_contexts,
    silent_contexts,
    top_contexts,
    top_logit_tokens,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def toy_codes(rows=12, pos=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.rand(rows, pos, generator=g) * (torch.rand(rows, pos, generator=g) < 0.15)
    c[3] = 0.0  # silent rows
    c[7] = 0.0
    return c


def test_top_contexts_match_a_brute_force_loop():
    codes = toy_codes()
    subset = [0, 2, 3, 5, 7, 8, 11]
    got = top_contexts(codes, k=4, before=3, after=2, rows=subset)
    # brute force: each row's peak by a loop, rows sorted by peak, silent rows skipped
    peaks = []
    for r in subset:
        best_v, best_p = 0.0, -1
        for p in range(codes.shape[1]):
            if codes[r, p] > best_v:
                best_v, best_p = codes[r, p].item(), p
        if best_v > 0:
            peaks.append((best_v, r, best_p))
    peaks.sort(key=lambda t: -t[0])
    assert [(c.row, c.pos) for c in got] == [(r, p) for _, r, p in peaks[:4]]
    for c in got:
        lo, hi = max(0, c.pos - 3), min(codes.shape[1], c.pos + 3)
        assert (c.start, c.stop) == (lo, hi)
        assert c.acts == tuple(codes[c.row, lo:hi].tolist())
        assert c.value == pytest.approx(max(c.acts))


def test_encode_grid_and_latent_stats_match_token_by_token_encoding():
    sae = ReluSAE(SAEConfig(d_in=6, d_sae=10), seed=1)
    with torch.no_grad():
        sae.b_enc.fill_(-0.3)
    acts = torch.randn(5, 7, 6)
    keep = torch.ones(5, 7, dtype=torch.bool)
    keep[1, 2] = False
    full = encode_grid(sae, acts, keep=keep, chunk_rows=2)
    some = encode_grid(sae, acts, latents=[4, 0], keep=keep, chunk_rows=3)
    stats = latent_stats(sae, acts, keep, chunk_rows=2)
    fired = torch.zeros(10)
    for r in range(5):
        for p in range(7):
            f = sae.encode(acts[r, p]).detach() * keep[r, p]
            assert torch.allclose(full[r, p], f, atol=1e-6)
            assert torch.allclose(some[r, p], f[[4, 0]], atol=1e-6)
            fired += f > 0
        assert torch.allclose(stats.row_max[r], full[r].max(0).values)
    assert torch.allclose(stats.density, fired / keep.sum())
    assert stats.n_tokens == 34


def test_quantile_and_silent_contexts():
    codes = toy_codes(rows=40, seed=3)
    g = torch.Generator().manual_seed(0)
    rows = list(range(0, 40, 2))
    firing = [r for r in rows if codes[r].max() > 0]
    q = quantile_contexts(codes, n=10, n_bins=5, rows=rows, generator=g)
    assert len(q) == 10 and len({c.row for c in q}) == 10
    assert all(c.row in firing and c.value == codes[c.row].max() for c in q)
    # equal-count bins of the sorted peaks: two picks from each fifth of the firing rows
    order = sorted(firing, key=lambda r: codes[r].max().item())
    fifths = np.array_split(np.array(order), 5)
    for b in fifths:
        assert sum(c.row in set(b.tolist()) for c in q) == 2
    s = silent_contexts(codes, n=50, length=6, rows=rows, generator=g)
    quiet = [r for r in rows if codes[r].max() == 0]
    assert sorted(c.row for c in s) == sorted(quiet)  # all of them: fewer than asked
    assert all(c.stop - c.start == 6 and codes[c.row].max() == 0 for c in s)


def test_histogram_matches_numpy():
    v = torch.tensor([0.0, 0.0, 0.5, 1.0, 2.0, 2.0, 3.5, 0.0])
    counts, edges = activation_histogram(v, bins=7)
    ref, ref_edges = np.histogram(np.array([0.5, 1.0, 2.0, 2.0, 3.5]), bins=7, range=(0, 3.5))
    assert counts.tolist() == ref.tolist()
    assert np.allclose(edges.numpy(), ref_edges)


def test_logit_effects_match_an_explicit_loop_and_the_norm_then_unembed():
    g = torch.Generator().manual_seed(0)
    w_dec = torch.randn(3, 5, generator=g, dtype=torch.float64)
    w_u = torch.randn(5, 11, generator=g, dtype=torch.float64)
    gain = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    eff = logit_effects(w_dec, w_u, gain)
    for i in range(3):
        for t in range(11):
            ref = sum(w_dec[i, k] * gain[k] * w_u[k, t] for k in range(5))
            assert eff[i, t].item() == pytest.approx(ref.item(), abs=1e-10)
    # the final RMSNorm applied to the direction, then W_U: the same up to the 1/rms factor
    rms = w_dec.pow(2).mean(-1, keepdim=True).sqrt()
    through_norm = F.rms_norm(w_dec, (5,), weight=gain, eps=0.0) @ w_u
    assert torch.allclose(through_norm * rms, eff, atol=1e-10)
    top = top_logit_tokens(eff[0], k=3)
    assert top["top_ids"] == torch.argsort(eff[0], descending=True)[:3].tolist()
    assert top["bottom_ids"] == torch.argsort(eff[0])[:3].tolist()


def test_bad_inputs_raise_sae_errors():
    sae = ReluSAE(SAEConfig(d_in=6, d_sae=10), seed=1)
    with pytest.raises(SAEError):
        encode_grid(sae, torch.randn(2, 3, 5))  # wrong width
    with pytest.raises(SAEError):
        encode_grid(sae, torch.randn(2, 6))  # not a grid
    with pytest.raises(SAEError):
        encode_grid(sae, torch.randn(2, 3, 6), latents=[10])
    with pytest.raises(SAEError):
        top_contexts(torch.rand(3, 4), k=0)
    with pytest.raises(SAEError):
        top_contexts(torch.rand(3, 4, 2), k=1)
    with pytest.raises(SAEError):
        silent_contexts(torch.rand(3, 4), n=1, length=5)
    with pytest.raises(SAEError):
        logit_effects(torch.randn(2, 4), torch.randn(5, 7))
    with pytest.raises(SAEError):
        logit_effects(torch.randn(2, 4), torch.randn(4, 7), gain=torch.ones(3))
