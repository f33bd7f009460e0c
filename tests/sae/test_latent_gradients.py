"""Latent-to-latent, latent-to-logit and token-to-latent Jacobians on a tiny random Llama (float64).

References: central finite differences of the real forward pass with one up latent's activation
moved (through the model's own hooks, not our block runner), and `torch.autograd.functional
.jacobian` of a hand-written composition (decode → blocks → encode, written out here from the
model's modules). float64 keeps finite-difference error (h = 1e-5: O(h²) ≈ 1e-10 truncation,
1e-16/h ≈ 1e-11 rounding) far below the 1e-6 tolerance.
"""

import pytest
import torch

from arena_core.sae import ReluSAE, SAEConfig, SAEError
from arena_core.sae.latent_gradients import (
    latent_jacobian,
    latent_logit_jacobian,
    pearson,
    perturbation_effects,
    token_latent_jacobian,
)
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(d_model=16, n_layers=3, n_heads=4, d_head=4, d_mlp=32, d_vocab=30,
                        n_ctx=16, n_kv_heads=2)  # fmt: skip
UP, DOWN = [0, 3, 5, 7], [1, 2, 9]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = Llama(CFG).double().eval()
    with torch.no_grad():  # random norm gains so RMSNorm is not the identity
        for name, p in model.named_parameters():
            if name.endswith(".w"):
                p.add_(0.2 * torch.randn_like(p))
    up = ReluSAE(SAEConfig(d_in=16, d_sae=24), seed=1).double()
    down = ReluSAE(SAEConfig(d_in=16, d_sae=20), seed=2).double()
    with torch.no_grad():  # positive encoder biases: most latents fire, the test sees gradients
        up.b_enc.fill_(0.5)
        down.b_enc.fill_(0.3)
    tokens = torch.randint(1, 30, (3, 6), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(tokens)
    mask[0, :2] = 0  # left padding in one prompt
    return model, up, down, tokens, mask


def _down_after_moving(model, up, down, tokens, mask, b, p, i, h, q):
    """Down pre-activations at (b, q) with up latent i at (b, p) moved by h: a hook replaces the
    residual stream after block 0 with its SAE reconstruction (plus error) — the model's own
    forward pass, not our block runner."""
    out = {}

    def swap(x, hook=None):
        f = up.encode(x)
        err = x - up.decode(f)
        f = f.clone()
        f[b, p, i] += h
        return up.decode(f) + err

    def read(x, hook=None):
        out["pre"] = down.pre_acts(x)[b, q]

    model.run_with_hooks(tokens, attention_mask=mask, fwd_hooks=[
        ("blocks.0.hook_resid_post", swap), ("blocks.2.hook_resid_post", read)])  # fmt: skip
    return out["pre"]


def test_latent_jacobian_matches_finite_differences(setup):
    model, up, down, tokens, mask = setup
    lj = latent_jacobian(model, tokens, up, 0, down, 2, UP, DOWN, attention_mask=mask)
    assert lj.jac.shape == (3, len(DOWN), 6, len(UP))
    h = 1e-5
    with torch.no_grad():
        for b, p, k in [(0, 5, 0), (0, 3, 2), (1, 0, 1), (2, 4, 3), (2, 5, 1)]:
            i = UP[k]
            plus = _down_after_moving(model, up, down, tokens, mask, b, p, i, h, 5)
            minus = _down_after_moving(model, up, down, tokens, mask, b, p, i, -h, 5)
            fd = ((plus - minus) / (2 * h))[DOWN]
            torch.testing.assert_close(lj.jac[b, :, p, k], fd, atol=1e-6, rtol=1e-6)
    # causality: a down latent at position 3 gets exactly zero from up latents after it
    early = latent_jacobian(model, tokens, up, 0, down, 2, UP, DOWN, down_pos=3,
                            attention_mask=mask)  # fmt: skip
    assert early.jac[:, :, 4:].abs().max() == 0
    assert early.jac[1:, :, :4].abs().max() > 0


def test_latent_jacobian_matches_autograd_on_a_hand_composition(setup):
    model, up, down, _, _ = setup
    tokens = torch.randint(1, 30, (1, 5), generator=torch.Generator().manual_seed(5))
    # hand composition: embed → block 0 (captured), decode chosen codes, blocks 1, 2 by hand
    with torch.no_grad():
        x0 = model.blocks[0](model.embed(tokens), None, model.rope(torch.arange(5)[None],
                             torch.float64), None)  # fmt: skip
        f0 = up.encode(x0)
        err = x0 - up.decode(f0)
    idx = torch.tensor(UP)

    def composed(sel):  # sel [5, k_up]
        f = f0[0].clone()
        f[:, idx] = sel
        x = (f @ up.W_dec + up.b_dec + err[0])[None]
        rope = model.rope(torch.arange(5)[None], torch.float64)
        for blk in model.blocks[1:3]:
            x = blk(x, None, rope, None)
        return ((x[0, -1] - down.b_dec) @ down.W_enc + down.b_enc)[DOWN]

    ref = torch.autograd.functional.jacobian(composed, f0[0][:, idx])  # [k_down 5 k_up]
    lj = latent_jacobian(model, tokens, up, 0, down, 2, UP, DOWN)
    torch.testing.assert_close(lj.jac[0], ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(lj.out[0], composed(f0[0][:, idx]).detach())
    # codes instead of pre-activations: the same rows where the latent fires, zero where it does not
    codes = latent_jacobian(model, tokens, up, 0, down, 2, UP, DOWN, pre=False)
    on = (lj.out[0] > 0).double()[:, None, None]
    torch.testing.assert_close(codes.jac[0], lj.jac[0] * on)


def test_logit_and_token_variants_match_autograd(setup):
    model, up, down, tokens, mask = setup
    ids = [4, 11]
    lg = latent_logit_jacobian(model, tokens, up, 1, UP, ids, attention_mask=mask)

    def logits_of(sel):  # the real forward with latents (all prompts) replaced via a hook
        def swap(x, hook=None):
            f = up.encode(x.detach())
            err = x.detach() - up.decode(f)
            f = f.index_copy(-1, torch.tensor(UP), sel)
            return up.decode(f) + err

        out = model.run_with_hooks(tokens, attention_mask=mask,
                                   fwd_hooks=[("blocks.1.hook_resid_post", swap)])  # fmt: skip
        return out[:, -1][:, ids]

    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, attention_mask=mask,
                                        names_filter="blocks.1.hook_resid_post")  # fmt: skip
        sel0 = up.encode(cache["blocks.1.hook_resid_post"])[..., UP]
    ref = torch.autograd.functional.jacobian(logits_of, sel0)  # [3 k 3 6 k_up]
    for b in range(3):
        torch.testing.assert_close(lg.jac[b], ref[b, :, b], atol=1e-10, rtol=1e-10)

    tj = token_latent_jacobian(model, tokens, down, 1, DOWN, attention_mask=mask)
    emb = model.embed(tokens).detach()

    def latents_of(e):
        out = {}

        def read(x, hook=None):
            out["z"] = down.pre_acts(x)[:, -1][:, DOWN]

        model.run_with_hooks(
            tokens,
            attention_mask=mask,
            fwd_hooks=[("hook_embed", lambda x, hook=None: e), ("blocks.1.hook_resid_post", read)],
        )
        return out["z"]

    ref_t = torch.autograd.functional.jacobian(latents_of, emb)  # [3 k 3 6 d]
    for b in range(3):
        torch.testing.assert_close(tj.jac[b], ref_t[b, :, b], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(tj.attribution, (tj.jac * emb[:, None]).sum(-1))


def test_perturbation_effects_linear_for_small_moves(setup):
    model, up, down, tokens, mask = setup
    small = perturbation_effects(model, tokens, up, 0, down, 2, UP, DOWN, factor=0.999,
                                 attention_mask=mask)  # fmt: skip
    # a 0.1% move: second-order terms are ~1e-3 of the first-order ones
    assert pearson(small.predicted, small.measured) > 0.9999
    rel = (small.predicted - small.measured).norm() / small.measured.norm()
    assert rel < 1e-2
    # measured effects equal re-running the real model by hand for one (prompt, latent) pair
    with torch.no_grad():
        b, k = 2, 1
        f_old = small.delta_up[b, k] / (0.999 - 1)
        moved = _down_after_moving(model, up, down, tokens, mask, b, 5, UP[k], -f_old * 1e-3, 5)
        base = _down_after_moving(model, up, down, tokens, mask, b, 5, UP[k], 0.0, 5)
    torch.testing.assert_close(small.measured[b, k], (moved - base)[DOWN], atol=1e-9, rtol=1e-6)
    ablate = perturbation_effects(model, tokens, up, 0, down, 2, UP, DOWN, factor=0.0,
                                  attention_mask=mask)  # fmt: skip
    torch.testing.assert_close(ablate.delta_up, small.delta_up / 1e-3)


def test_bad_inputs_raise(setup):
    model, up, down, tokens, _ = setup
    with pytest.raises(SAEError, match="must come after"):
        latent_jacobian(model, tokens, up, 2, down, 2, UP, DOWN)
    with pytest.raises(SAEError, match="must come after"):
        latent_jacobian(model, tokens, up, 2, down, 1, UP, DOWN)
    wide = ReluSAE(SAEConfig(d_in=8, d_sae=10)).double()
    with pytest.raises(SAEError, match="d_model"):
        latent_jacobian(model, tokens, wide, 0, down, 2, [0], DOWN)
    with pytest.raises(SAEError, match="d_model"):
        token_latent_jacobian(model, tokens, wide, 1, [0])
    with pytest.raises(SAEError, match="out of range"):
        latent_jacobian(model, tokens, up, 0, down, 2, [24], DOWN)
    with pytest.raises(SAEError, match="out of range"):
        latent_jacobian(model, tokens, up, 0, down, 3, UP, DOWN)
    with pytest.raises(SAEError, match="down_pos"):
        latent_jacobian(model, tokens, up, 0, down, 2, UP, DOWN, down_pos=6)
    with pytest.raises(SAEError, match="token ids"):
        latent_logit_jacobian(model, tokens, up, 0, UP, [30])
