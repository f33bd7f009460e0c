"""MLP-neuron tools against independent references: a TransformerLens twin of a small random model
(its `mlp.hook_post`, `W_out`, `ln_final.w`, `W_U`, `run_with_hooks`) and plain sorts/loops.

Everything runs in float64 so that rounding cannot reorder near-equal activations in the top-k
and the tolerances (1e-10) only leave room for op-order differences between us and TL.
"""

import pytest
import torch
import torch.nn.functional as F

from arena_core.interp.neurons import (
    context_windows,
    max_activating_examples,
    neuron_ablation_effect,
    neuron_activations,
    neuron_logit_effects,
    next_token_agreement,
    top_tokens,
)
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(
    d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32, init_range=0.2
)
TOL = dict(atol=1e-10, rtol=1e-10)


def make_model(family: str):
    cfg = CFG.with_(n_kv_heads=2) if family == "llama" else CFG
    model = (Llama(cfg) if family == "llama" else GPT2(cfg)).double().eval()
    with torch.no_grad():  # non-trivial norm gains (and GPT-2 biases), so they are really tested
        for name, p in model.named_parameters():
            if not name.rsplit(".", 1)[-1].startswith("W_"):
                p.add_(0.2 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def pair(request):
    torch.manual_seed(1)
    model = make_model(request.param)
    return model, transformer_lens_twin(model, dtype=torch.float64)


@pytest.mark.parametrize("largest", [True, False])
def test_streaming_topk_and_stats_equal_a_sort_of_the_full_cache(pair, largest):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (11, 7))
    k, skip, thr = 4, 1, 0.05
    # batch_size 3 does not divide 11 docs: the last batch is short
    stats = max_activating_examples(
        model, tokens, [0, 1], k=k, batch_size=3, threshold=thr, skip_positions=skip,
        largest=largest, show_progress=False,
    )  # fmt: skip
    _, cache = tl.run_with_cache(tokens)
    width = tokens.shape[1] - skip
    for row, layer in enumerate([0, 1]):
        acts = cache[f"blocks.{layer}.mlp.hook_post"][:, skip:]  # [doc pos d_mlp]
        flat = acts.permute(2, 0, 1).reshape(CFG.d_mlp, -1)  # one row per neuron
        order = flat.argsort(dim=-1, descending=largest, stable=True)[:, :k]
        torch.testing.assert_close(stats.values[row], flat.gather(-1, order), **TOL)
        assert torch.equal(stats.doc[row], order // width)
        assert torch.equal(stats.pos[row], skip + order % width)
        # stats over the same positions, computed on the whole tensor at once
        torch.testing.assert_close(stats.mean[row].double(), flat.mean(-1), atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(
            stats.std[row].double(), flat.std(-1, correction=0), atol=1e-6, rtol=1e-6
        )
        torch.testing.assert_close(stats.frac_active[row].double(), (flat > thr).double().mean(-1))
    assert stats.n_positions == tokens.shape[0] * width
    # the recorded (doc, pos) point at the recorded values in the TL cache
    acts1 = cache["blocks.1.mlp.hook_post"]
    neuron = torch.arange(CFG.d_mlp)[:, None].expand(-1, k)
    torch.testing.assert_close(acts1[stats.doc[1], stats.pos[1], neuron], stats.values[1], **TOL)


def test_neuron_activations_equal_tl_hook_post(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 6))
    _, cache = tl.run_with_cache(tokens)
    ref = cache["blocks.1.mlp.hook_post"]
    torch.testing.assert_close(neuron_activations(model, tokens, 1, 5), ref[..., 5], **TOL)
    torch.testing.assert_close(
        neuron_activations(model, tokens, 1, [2, 7]), ref[..., [2, 7]], **TOL
    )


def test_logit_effects_equal_tl_weights(pair):
    model, tl = pair
    neurons = [0, 3, 17]
    ours = neuron_logit_effects(model, 1, neurons)
    W_out = tl.W_out[1][neurons]  # TL stacks W_out over layers: [n_layers d_mlp d_model]
    if tl.cfg.normalization_type == "LN":
        # LayerNorm removes the mean: project out the all-ones direction with an explicit matrix
        d = tl.cfg.d_model
        W_out = W_out @ (torch.eye(d, dtype=W_out.dtype) - torch.full((d, d), 1.0 / d))
    ref = (W_out * tl.ln_final.w) @ tl.W_U
    torch.testing.assert_close(ours, ref, **TOL)
    # top_tokens agrees with a full sort of one row
    tops = top_tokens(ours[1], k=3)
    order = ref[1].argsort(descending=True)
    assert [t for t, _ in tops["promoted"]] == order[:3].tolist()
    assert [t for t, _ in tops["suppressed"]] == order.flip(0)[:3].tolist()


@pytest.mark.parametrize("mean", [None, 0.3])
def test_ablation_effect_equals_tl_run_with_an_independent_hook(pair, mean):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (3, 9))
    layer, neuron, token_id = 1, 5, 7
    _, cache = tl.run_with_cache(tokens)
    acts = cache[f"blocks.{layer}.mlp.hook_post"][:, :-1, neuron]
    middle = acts.flatten().sort().values[acts.numel() // 2 - 1 : acts.numel() // 2 + 1]
    thr = middle.mean().item()  # half-way between two activations: both groups non-empty

    def overwrite(act, hook):
        act = act.clone()
        act[:, :, neuron] = 0.0 if mean is None else mean
        return act

    clean_logits = tl(tokens)
    ablated_logits = tl.run_with_hooks(
        tokens, fwd_hooks=[(f"blocks.{layer}.mlp.hook_post", overwrite)]
    )

    def per_token(logits):
        return F.cross_entropy(
            logits[:, :-1].reshape(-1, CFG.d_vocab), tokens[:, 1:].reshape(-1), reduction="none"
        ).view(3, 8)

    fire = acts > thr
    lc, la = per_token(clean_logits), per_token(ablated_logits)
    dlp = (ablated_logits.log_softmax(-1) - clean_logits.log_softmax(-1))[:, :-1, token_id]
    got = neuron_ablation_effect(model, tokens, layer, neuron, thr, mean=mean, token_id=token_id)
    assert got["n_fire"] == int(fire.sum()) and got["n_other"] == int((~fire).sum())
    expected = {
        "loss_clean_fire": lc[fire].mean(),
        "loss_ablated_fire": la[fire].mean(),
        "delta_loss_fire": (la - lc)[fire].mean(),
        "loss_clean_other": lc[~fire].mean(),
        "delta_loss_other": (la - lc)[~fire].mean(),
        "delta_logprob_token_fire": dlp[fire].mean(),
        "delta_logprob_token_other": dlp[~fire].mean(),
    }
    for key, value in expected.items():
        assert got[key] == pytest.approx(value.item(), abs=1e-9), key
    assert abs(got["delta_loss_fire"]) > 1e-6  # the ablation really changed something


def test_context_windows_equal_an_explicit_loop():
    tokens = torch.arange(40).view(4, 10)
    doc, pos = torch.tensor([0, 2, 3]), torch.tensor([1, 5, 9])
    windows, centre = context_windows(tokens, doc, pos, before=3, after=2)
    for i, (d, p) in enumerate(zip(doc.tolist(), pos.tolist())):
        want = [tokens[d, q].item() if 0 <= q < 10 else -1 for q in range(p - 3, p + 3)]
        assert windows[i].tolist() == want
        assert windows[i, centre[i]].item() == tokens[d, p].item()


def test_attention_only_model_is_refused():
    model = Llama(CFG.with_(attn_only=True))
    with pytest.raises(ValueError, match="no MLP"):
        max_activating_examples(model, torch.zeros(1, 4, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="no MLP"):
        neuron_logit_effects(model, 0, 1)


def test_next_token_agreement_equals_an_explicit_loop(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (5, 6))
    stats = max_activating_examples(model, tokens, [1], k=3, batch_size=2, show_progress=False)
    got = next_token_agreement(model, stats, tokens)
    assert (stats.pos[0] == tokens.shape[1] - 1).any()  # the "no next token" case is exercised
    for n in range(CFG.d_mlp):
        # TL's weights, a z-score via numpy-style (x - mean) / std, one example at a time
        eff = tl.W_out[1][n] - tl.W_out[1][n].mean() * (tl.cfg.normalization_type == "LN")
        eff = (eff * tl.ln_final.w) @ tl.W_U
        z = (eff - eff.mean()) / eff.std()
        scores = [
            z[tokens[d, p + 1]].item()
            for d, p in zip(stats.doc[0, n].tolist(), stats.pos[0, n].tolist())
            if p + 1 < tokens.shape[1]
        ]
        want = sum(scores) / len(scores) if scores else 0.0
        assert got[0, n].item() == pytest.approx(want, abs=1e-9)
