"""Path patching against brute force on small float64 models.

In an attention-only model with every head but the sender frozen, the receiver's residual input is
exactly `resid_orig - sender_out_orig + sender_out_new` (the sender's only route is its direct
write). The tests build that by hand from the weights (LayerNorm / RMSNorm, W_Q, W_K, rotary),
put the receiver's new query (or key) in with ONE plain hook on an otherwise unmodified run and
compare the metric with `path_patch`, which does it differently (three hooked runs, recomputing
the receiver's z). GQA keys are checked on TransformerLens' twin with
`ungroup_grouped_query_attention` (one key per query head, so a plain hook can patch one head's
key). With MLPs: `freeze_mlps=True` gives the same hand formula; recomputed MLPs add
`mlp(ln2(resid_mid'))` by hand. Direct-to-logits: final resid - orig write + new write ->
ln_final -> unembed."""

import pytest
import torch

from arena_core.interp.patch_batch import PatchingError
from arena_core.interp.path_patching import path_patch, path_patch_sweep
from arena_core.transformer import TransformerConfig
from arena_core.transformer.rotary import apply_rotary
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
B, POS = 3, 7


def _tokens(seed=0):
    g = torch.Generator().manual_seed(seed)
    orig = torch.randint(0, CFG.d_vocab, (B, POS), generator=g)
    new = orig.clone()
    new[:, 1:4] = torch.randint(0, CFG.d_vocab, (B, 3), generator=g)
    answers = torch.randint(0, CFG.d_vocab, (B, 2), generator=g)
    return orig, new, answers


def _metric(answers):
    def metric(logits):
        last = logits[:, -1]
        return (last.gather(-1, answers[:, :1]) - last.gather(-1, answers[:, 1:])).mean()

    return metric


def _norm(ln, x):
    """LayerNorm (w, b) or RMSNorm (w) by hand."""
    if hasattr(ln, "b"):
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + ln.eps).sqrt() * ln.w + ln.b
    return x / (x.pow(2).mean(-1, keepdim=True) + ln.eps).sqrt() * ln.w


def _write(model, cache, layer, head):
    """One head's write into the residual stream: z_h @ W_O[h] (b_O is shared, cancels)."""
    return cache[f"blocks.{layer}.attn.hook_z"][:, :, head] @ model.blocks[layer].attn.W_O[head]


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def attn_only(request):
    model, tl = scaled_tl_pair(request.param, CFG.with_(attn_only=True), seed=4)
    return request.param, model, tl


def _caches(model, orig, new):
    _, oc = model.run_with_cache(orig)
    _, nc = model.run_with_cache(new)
    return oc, nc


@pytest.mark.parametrize("sender", [(0, 1), (1, 2)])
def test_query_path_matches_hand_computation(attn_only, sender):
    kind, model, _ = attn_only
    orig, new, answers = _tokens()
    metric = _metric(answers)
    oc, nc = _caches(model, orig, new)
    rl, rh = 2, 3
    resid = (
        oc[f"blocks.{rl}.hook_resid_pre"] - _write(model, oc, *sender) + _write(model, nc, *sender)
    )
    attn = model.blocks[rl].attn
    q = _norm(model.blocks[rl].ln1, resid) @ attn.W_Q[rh]
    if attn.b_Q is not None:
        q = q + attn.b_Q[rh]

    def put_q(act, hook=None):
        act = act.clone()
        act[:, :, rh] = q
        return act

    ref = metric(model.run_with_hooks(orig, fwd_hooks=[(f"blocks.{rl}.attn.hook_q", put_q)]))
    ours = path_patch(model, orig, new, [sender], [(rl, rh)], metric, inputs="q")
    assert ours == pytest.approx(ref.item(), abs=1e-8)
    # the patch does something, and differs from the unpatched metric
    assert abs(ours - metric(model(orig)).item()) > 1e-4


def test_gqa_key_path_changes_only_that_query_head():
    model, tl = scaled_tl_pair("llama-gqa", CFG.with_(attn_only=True), seed=4)
    orig, new, answers = _tokens(1)
    metric = _metric(answers)
    oc, nc = _caches(model, orig, new)
    sender, (rl, rh) = (1, 0), (2, 1)  # head 1 shares its key with head 0 (2 KV heads, group 2)
    resid = (
        oc[f"blocks.{rl}.hook_resid_pre"] - _write(model, oc, *sender) + _write(model, nc, *sender)
    )
    attn = model.blocks[rl].attn
    k = _norm(model.blocks[rl].ln1, resid) @ attn.W_K[rh // 2]  # pre-rotary, as TL's hook_k
    tl.cfg.ungroup_grouped_query_attention = True
    try:

        def put_k(act, hook=None):
            assert act.shape[2] == CFG.n_heads  # one key per query head
            act = act.clone()
            act[:, :, rh] = k
            return act

        ref = metric(tl.run_with_hooks(orig, fwd_hooks=[(f"blocks.{rl}.attn.hook_k", put_k)]))
    finally:
        tl.cfg.ungroup_grouped_query_attention = False
    ours = path_patch(model, orig, new, [sender], [(rl, rh)], metric, inputs="k")
    assert ours == pytest.approx(ref.item(), abs=1e-8)
    # patching the shared KV head instead (all query heads of the group) gives another answer
    cos_sin = model.rope(torch.arange(POS).expand(B, POS), torch.float64)
    k_rot = apply_rotary(k[:, :, None], *cos_sin)[:, :, 0]

    def put_kv_head(act, hook=None):
        act = act.clone()
        act[:, :, rh // 2] = k_rot
        return act

    shared = metric(
        model.run_with_hooks(orig, fwd_hooks=[(f"blocks.{rl}.attn.hook_rot_k", put_kv_head)])
    )
    assert abs(shared.item() - ours) > 1e-4


@pytest.mark.parametrize("kind", ["gpt2", "llama-gqa"])
def test_with_mlps_frozen_and_recomputed(kind):
    model, _ = scaled_tl_pair(kind, CFG, seed=5)
    orig, new, answers = _tokens(2)
    metric = _metric(answers)
    oc, nc = _caches(model, orig, new)
    sender, (rl, rh) = (1, 2), (2, 0)
    delta = _write(model, nc, *sender) - _write(model, oc, *sender)
    attn = model.blocks[rl].attn

    def ref_metric(resid):
        q = _norm(model.blocks[rl].ln1, resid) @ attn.W_Q[rh]
        if attn.b_Q is not None:
            q = q + attn.b_Q[rh]

        def put_q(act, hook=None):
            act = act.clone()
            act[:, :, rh] = q
            return act

        return metric(model.run_with_hooks(orig, fwd_hooks=[(f"blocks.{rl}.attn.hook_q", put_q)]))

    frozen = ref_metric(oc[f"blocks.{rl}.hook_resid_pre"] + delta)
    mid = oc[f"blocks.{sender[0]}.hook_resid_mid"] + delta  # layer 1's MLP sees the new write
    recomputed = ref_metric(mid + model.blocks[1].mlp(model.blocks[1].ln2(mid)))
    got_frozen = path_patch(model, orig, new, [sender], [(rl, rh)], metric, freeze_mlps=True)
    got = path_patch(model, orig, new, [sender], [(rl, rh)], metric)
    assert got_frozen == pytest.approx(frozen.item(), abs=1e-8)
    assert got == pytest.approx(recomputed.item(), abs=1e-8)
    assert abs(got - got_frozen) > 1e-6  # the MLP choice matters here


@pytest.mark.parametrize("kind", ["gpt2", "llama-gqa"])
def test_direct_path_to_logits(kind):
    model, _ = scaled_tl_pair(kind, CFG, seed=6)
    orig, new, answers = _tokens(3)
    metric = _metric(answers)
    oc, nc = _caches(model, orig, new)
    senders = [(0, 3), (1, 1)]
    final = oc[f"blocks.{CFG.n_layers - 1}.hook_resid_post"]
    for s in senders:
        final = final - _write(model, oc, *s) + _write(model, nc, *s)
    logits = _norm(model.ln_final, final) @ model.unembed.W_U
    if getattr(model.unembed, "b_U", None) is not None:
        logits = logits + model.unembed.b_U
    ours = path_patch(model, orig, new, senders, "logits", metric)
    assert ours == pytest.approx(metric(logits).item(), abs=1e-8)


@pytest.mark.parametrize("receivers", ["logits", [(2, 1), (2, 3)]])
def test_sweep_equals_single_calls_and_batching_is_exact(receivers):
    model, _ = scaled_tl_pair("llama-gqa", CFG, seed=7)
    orig, new, answers = _tokens(4)
    metric = _metric(answers)
    kw = dict(inputs=("q", "v"), show_progress=False)
    one = path_patch_sweep(model, orig, new, receivers, metric, cells_per_pass=1, **kw)
    many = path_patch_sweep(model, orig, new, receivers, metric, cells_per_pass=5, **kw)
    torch.testing.assert_close(one, many, atol=1e-10, rtol=0, equal_nan=True)
    n_rows = CFG.n_layers if receivers == "logits" else 2
    assert torch.isfinite(one[:n_rows]).all() and torch.isnan(one[n_rows:]).all()
    for layer, head in [(0, 0), (1, 3)]:
        single = path_patch(model, orig, new, [(layer, head)], receivers, metric, inputs=("q", "v"))
        assert one[layer, head].item() == pytest.approx(single, abs=1e-10)


def test_batch_of_one_and_one_position():
    model, _ = scaled_tl_pair("gpt2", CFG, seed=8)
    orig, new, answers = _tokens(5)
    for o, n, a in [(orig[:1], new[:1], answers[:1]), (orig[:, 1:2], new[:, 1:2], answers)]:
        grid = path_patch_sweep(model, o, n, [(2, 0)], _metric(a), inputs="k", show_progress=False)
        assert torch.isfinite(grid[:2]).all()


def test_errors():
    model, _ = scaled_tl_pair("gpt2", CFG, seed=9)
    orig, new, answers = _tokens()
    m = _metric(answers)
    with pytest.raises(PatchingError, match="same shape"):
        path_patch(model, orig, new[:, :-1], [(0, 0)], "logits", m)
    with pytest.raises(PatchingError, match="no sender"):
        path_patch(model, orig, new, [], "logits", m)
    with pytest.raises(PatchingError, match="no receiver"):
        path_patch(model, orig, new, [(0, 0)], [], m)
    with pytest.raises(PatchingError, match="not before"):
        path_patch(model, orig, new, [(1, 0)], [(1, 2)], m)
    with pytest.raises(PatchingError, match="out of range"):
        path_patch(model, orig, new, [(0, 4)], [(1, 2)], m)
    with pytest.raises(PatchingError, match="out of range"):
        path_patch(model, orig, new, [(0, 0)], [(3, 0)], m)
    with pytest.raises(PatchingError, match="inputs"):
        path_patch(model, orig, new, [(0, 0)], [(1, 0)], m, inputs="z")
    with pytest.raises(PatchingError, match="logits"):
        path_patch(model, orig, new, [(0, 0)], "resid", m)
    with pytest.raises(PatchingError, match="layer 0"):
        path_patch_sweep(model, orig, new, [(0, 1)], m, show_progress=False)
    with pytest.raises(PatchingError, match="cells_per_pass"):
        path_patch_sweep(model, orig, new, "logits", m, cells_per_pass=0, show_progress=False)
