"""QK/OV circuits and composition scores against TransformerLens and dense computations.

References: TL's `FactoredMatrix` circuits (`tl.OV`, `tl.QK`, which repeat grouped K/V heads
themselves) and `tl.all_composition_scores` on the twin of a small random model; TL's own
`fold_ln` + `center_writing_weights` processing for our `fold_ln=True`; explicit d_model x d_model
products in loops for the full circuits, the copying metric and the random baseline.
TL defines K-composition with `QK.T`, i.e. ||W_OV^A (W_QK^B)^T||_F, the paper's definition in
row-vector form; it is also checked against the dense product written out here.
Everything in float64, so 1e-9 covers summation order (QR vs dense products).
"""

import pytest
import torch

from arena_core.interp import circuits as C
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=97, n_ctx=24)
TOL = dict(atol=1e-9, rtol=1e-9)


def _model(kind: str):
    torch.manual_seed(5)
    model = GPT2(CFG) if kind == "gpt2" else Llama(CFG.with_(n_kv_heads=2))
    model = model.double().eval()
    with torch.no_grad():  # non-trivial norm gains/biases, so folding them matters
        for name, p in model.named_parameters():
            if name.endswith(".w"):
                p.copy_(1 + 0.5 * torch.randn_like(p))
            elif name.endswith("ln1.b") or name.endswith("ln_final.b"):
                p.copy_(0.3 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    model = _model(request.param)
    return model, transformer_lens_twin(model, dtype=torch.float64)


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def folded_pair(request):
    model = _model(request.param)
    tl = transformer_lens_twin(model, dtype=torch.float64)
    tl.process_weights_(fold_ln=True, center_writing_weights=True, center_unembed=False)
    return model, tl


def test_head_circuits_match_tl_factored_matrices(pair):
    model, tl = pair
    for layer in range(CFG.n_layers):
        for head in range(CFG.n_heads):
            ov = C.ov_circuit(model, layer, head, fold_ln=False)
            qk = C.qk_circuit(model, layer, head, fold_ln=False)
            torch.testing.assert_close(ov, tl.OV[layer, head].AB, **TOL)
            torch.testing.assert_close(qk, tl.QK[layer, head].AB, **TOL)


def test_folded_circuits_match_tl_fold_ln_processing(folded_pair):
    # TL's weight processing rounds through float32 somewhere (relative errors ~1e-7 on float64
    # weights), hence float32-sized tolerances here only
    TOL = dict(atol=1e-6, rtol=1e-5)
    model, tl = folded_pair
    torch.testing.assert_close(C.embedding(model), tl.W_E, **TOL)
    torch.testing.assert_close(C.unembedding(model), tl.W_U, **TOL)
    for layer in range(CFG.n_layers):
        for head in range(CFG.n_heads):
            torch.testing.assert_close(
                C.ov_circuit(model, layer, head), tl.OV[layer, head].AB, **TOL
            )
            torch.testing.assert_close(
                C.qk_circuit(model, layer, head), tl.QK[layer, head].AB, **TOL
            )
    # the processed TL model has nothing left to fold: our functions must leave it unchanged
    torch.testing.assert_close(C.composition_scores(tl, "K"), tl.all_composition_scores("K"), **TOL)
    torch.testing.assert_close(
        C.composition_scores(model, "K"), tl.all_composition_scores("K"), **TOL
    )
    if isinstance(model, GPT2):
        torch.testing.assert_close(C.positional(model), tl.W_pos, **TOL)


@pytest.mark.parametrize("mode", ["Q", "K", "V"])
def test_composition_scores_match_tl(pair, mode):
    model, tl = pair
    ours = C.composition_scores(model, mode, fold_ln=False)
    torch.testing.assert_close(ours, tl.all_composition_scores(mode), **TOL)
    folded = C.composition_scores(model, mode, fold_ln=True)
    assert not torch.allclose(folded, ours)  # folding the random gains must change something


def test_k_composition_against_dense_products(pair):
    model, tl = pair
    ours = C.composition_scores(model, "K", fold_ln=False)
    for l1, l2 in [(0, 1), (0, 2), (1, 2)]:
        for a in range(CFG.n_heads):
            for b in range(CFG.n_heads):
                ov = (tl.W_V[l1, a] @ tl.W_O[l1, a]).detach()
                qk = tl.W_Q[l2, b] @ tl.W_K[l2, b].T
                want = torch.linalg.norm(ov @ qk.T) / (
                    torch.linalg.norm(ov) * torch.linalg.norm(qk)
                )
                assert abs(float(ours[l1, a, l2, b]) - float(want)) < 1e-9
    assert float(ours[1, 0, 0, 0]) == 0.0 and float(ours[1, 0, 1, 2]) == 0.0  # not later: zero


def test_full_ov_and_copying_against_dense(pair):
    model, tl = pair
    heads = [(0, 1), (2, 3)]
    ids = torch.tensor([0, 5, 17, 96, 40])
    dense = tl.W_E @ (tl.OV[0, 1].AB + tl.OV[2, 3].AB) @ tl.W_U  # vocab x vocab, small here
    torch.testing.assert_close(
        C.full_ov_circuit(model, heads, ids, fold_ln=False), dense[ids], **TOL
    )
    hits = sum(int(dense[i].argmax()) == i for i in range(CFG.d_vocab))
    score = C.ov_copying_score(model, heads, fold_ln=False, chunk=10)
    assert score == hits / CFG.d_vocab
    ranks = C.ov_self_ranks(model, heads, ids, fold_ln=False, chunk=2)
    order = dense[ids].argsort(-1, descending=True)  # position of the token in its sorted row
    assert ranks.tolist() == [int((order[i] == t).nonzero()) for i, t in enumerate(ids)]


def test_copying_score_detects_an_identity_ov():
    model = _model("gpt2")
    with torch.no_grad():  # make head (1, 2) copy: W_V W_O ~ pseudo-inverse route E -> U
        attn = model.blocks[1].attn
        model.unembed.W_U.copy_(model.embed.W_E.T)
        basis = torch.linalg.qr(torch.randn(CFG.d_model, CFG.d_head, dtype=torch.float64))[0]
        attn.W_V[2].copy_(basis)
        attn.W_O[2].copy_(basis.T)
    # rank-8 projection of 97 tokens in 32 dims: well above chance (1/97) yet not perfect
    assert C.ov_copying_score(model, [(1, 2)], fold_ln=False) > 0.2


def test_positional_qk_and_rope_error(pair):
    model, tl = pair
    if isinstance(model, Llama):
        with pytest.raises(ValueError, match="rotary"):
            C.full_qk_circuit(model, 0, 0, source="pos")
        return
    got = C.full_qk_circuit(model, 0, 2, source="pos", fold_ln=False)
    want = tl.W_pos @ tl.QK[0, 2].AB @ tl.W_pos.T
    torch.testing.assert_close(got, want, **TOL)
    ids = torch.tensor([3, 9, 1])
    got = C.full_qk_circuit(model, 1, 0, source="token", ids=ids, fold_ln=False)
    torch.testing.assert_close(got, tl.W_E[ids] @ tl.QK[1, 0].AB @ tl.W_E[ids].T, **TOL)


def test_random_baseline_against_dense_draws():
    d_model, d_head, n = 24, 4, 6
    got = C.random_composition_baseline(d_model, d_head, n, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)  # same draws, same order as the implementation
    la, lb = torch.randn(2, n, d_model, d_head, generator=g)
    ra, rb = torch.randn(2, n, d_head, d_model, generator=g)
    scores = []
    for i in range(n):
        x, y = la[i] @ ra[i], lb[i] @ rb[i]
        scores.append(
            float(torch.linalg.norm(x @ y) / (torch.linalg.norm(x) * torch.linalg.norm(y)))
        )
    assert abs(got - sum(scores) / n) < 1e-5  # float32 draws
    assert 0.05 < got < 0.6


@pytest.mark.slow
def test_smollm2_composition_and_copying_vs_tl_twin():
    """Real SmolLM2 weights (GQA 9:3, RMSNorm): composition scores of layer 17 into 18 against TL's
    FactoredMatrix composition on the twin (unfolded), and the copying score of a head on sampled
    token ids against dense rows built from TL's weights."""
    from transformer_lens.utils import composition_scores as tl_composition

    from arena_core.models import load_model

    model = load_model("smollm2-135m").model
    tl = transformer_lens_twin(model)
    ours = C.composition_scores(model, "K", fold_ln=False)[17, :, 18, :]
    want = tl_composition(tl.OV[17][:, None], tl.QK[18].T[None, :], broadcast_dims=False)
    torch.testing.assert_close(ours, want, atol=2e-4, rtol=1e-3)  # fp32 QR vs SVD routes
    ids = torch.randint(0, model.cfg.d_vocab, (64,), generator=torch.Generator().manual_seed(0))
    rows = tl.W_E[ids] @ tl.OV[18, 6].AB @ tl.W_U
    got = C.full_ov_circuit(model, [(18, 6)], ids, fold_ln=False)
    torch.testing.assert_close(got, rows.detach(), atol=1e-3, rtol=1e-3)
