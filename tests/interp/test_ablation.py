"""Head and neuron ablation against TransformerLens' twin of the same random model.

References: zero-ablating head h is the same as zeroing W_O[h] (z_h @ W_O[h] is the head's only
path into the residual stream), zeroing neuron n the same as zeroing row n of W_out; mean
ablation is compared with a hook written here and run by TL's own `run_with_hooks`; losses with
`torch.nn.functional.cross_entropy`. float64 throughout, so 1e-10 only leaves room for op order.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from arena_core.interp.ablation import (
    head_ablation_hooks,
    head_ablation_scan,
    loss_with_hooks,
    mean_post,
    mean_z,
    neuron_ablation_hooks,
)
from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
TOL = dict(atol=1e-10, rtol=1e-10)


def make_model(family: str):
    if family == "gpt2":
        model = GPT2(CFG)
    else:  # grouped-query attention: 4 query heads share 2 key/value heads
        model = Llama(CFG.with_(n_kv_heads=2, rotary_base=500.0))
    model = model.double().eval()
    with torch.no_grad():  # non-trivial norms and biases, so nothing is accidentally zero
        for name, p in model.named_parameters():
            if not name.rsplit(".", 1)[-1].startswith("W_"):
                p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    torch.manual_seed(1)
    model = make_model(request.param)
    return model, transformer_lens_twin(model, dtype=torch.float64)


def ce(logits, tokens):
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())


def test_zero_ablation_equals_zeroing_W_O_in_transformer_lens(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 10))
    heads = [(0, 1), (2, 3), (2, 0)]
    with torch.no_grad():
        ours = model.run_with_hooks(tokens, fwd_hooks=head_ablation_hooks(heads))
        edited = copy.deepcopy(tl)
        for layer, head in heads:
            edited.blocks[layer].attn.W_O[head] = 0.0
        ref = edited(tokens)
        plain = model(tokens)
    torch.testing.assert_close(ours, ref, **TOL)
    assert (ours - plain).abs().max() > 1e-4  # the ablation did something
    # the same hooks run unchanged on the TL model itself
    torch.testing.assert_close(tl.run_with_hooks(tokens, fwd_hooks=head_ablation_hooks(heads)), ref)


def test_mean_ablation_matches_a_hand_written_hook_in_transformer_lens(pair):
    model, tl = pair
    ref_tokens = torch.randint(0, CFG.d_vocab, (6, 10))
    tokens = torch.randint(0, CFG.d_vocab, (2, 10))
    means = mean_z(model, ref_tokens)
    _, tl_cache = tl.run_with_cache(ref_tokens)
    layer, head = 1, 2
    # the mean over batch and positions, taken from TL's own cache
    tl_mean = tl_cache["z", layer][:, :, head].reshape(-1, CFG.d_head).mean(0)
    torch.testing.assert_close(means[layer][head], tl_mean, **TOL)

    def set_to_mean(z, hook):
        mask = torch.zeros(CFG.n_heads, 1, dtype=torch.bool)
        mask[head] = True
        return torch.where(mask, tl_mean, z)

    ref = tl.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", set_to_mean)])
    ours = loss_with_hooks(model, tokens, head_ablation_hooks([(layer, head)], means))
    torch.testing.assert_close(ours, ce(ref, tokens), **TOL)
    per_token = loss_with_hooks(model, tokens, head_ablation_hooks([(layer, head)], means), True)
    assert per_token.shape == (2, 9)
    torch.testing.assert_close(per_token.mean(), ours, **TOL)


def test_mean_ablation_is_a_no_op_where_z_equals_the_mean(pair):
    """Identical rows: the per-position mean over the batch is z itself, so nothing changes;
    the mean over positions differs from z, so that ablation must change the loss."""
    model, _ = pair
    tokens = torch.randint(0, CFG.d_vocab, (1, 10)).repeat(3, 1)
    heads = [(layer, h) for layer in range(CFG.n_layers) for h in range(CFG.n_heads)]
    clean = model(tokens)
    per_pos = mean_z(model, tokens, per_position=True)
    same = model.run_with_hooks(tokens, fwd_hooks=head_ablation_hooks(heads, per_pos))
    torch.testing.assert_close(same, clean, **TOL)
    other = model.run_with_hooks(
        tokens, fwd_hooks=head_ablation_hooks(heads, mean_z(model, tokens))
    )
    assert (other - clean).abs().max() > 1e-4


def test_neuron_ablation_equals_editing_W_out(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 10))
    neurons = [(0, 5), (0, 7), (2, 40)]
    with torch.no_grad():
        edited = copy.deepcopy(tl)
        for layer, n in neurons:  # post[n] only reaches the residual through row n of W_out
            edited.blocks[layer].mlp.W_out[n] = 0.0
        ref = edited(tokens)
        ours = model.run_with_hooks(tokens, fwd_hooks=neuron_ablation_hooks(neurons))
    torch.testing.assert_close(ours, ref, **TOL)
    # mean ablation of a neuron: the mean of TL's hook_post over batch and position
    _, cache = tl.run_with_cache(tokens)
    means = mean_post(model, tokens)
    torch.testing.assert_close(means[2][40], cache["post", 2][..., 40].mean(), **TOL)


@pytest.mark.parametrize("kind", ["zero", "mean"])
def test_head_ablation_scan_matches_full_forwards_in_transformer_lens(pair, kind):
    """The scan re-runs only blocks l.. from the cached prefix; the reference re-runs the whole
    TL model with a hook written here, head by head."""
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 8))
    scan = head_ablation_scan(model, tokens, kind=kind, show_progress=False)
    _, cache = tl.run_with_cache(tokens)
    base = ce(tl(tokens), tokens)
    ref = torch.zeros(CFG.n_layers, CFG.n_heads)
    for layer in range(CFG.n_layers):
        z = cache["z", layer]
        for head in range(CFG.n_heads):
            value = torch.zeros(CFG.d_head, dtype=z.dtype)
            if kind == "mean":
                value = z[:, :, head].mean(dim=(0, 1))

            def fn(act, hook, head=head, value=value):
                act = act.clone()
                act[:, :, head] = value
                return act

            logits = tl.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", fn)])
            ref[layer, head] = ce(logits, tokens) - base
    torch.testing.assert_close(scan, ref, atol=1e-6, rtol=0)  # scan is stored in float32
    assert scan.abs().max() > 1e-4
    if kind == "mean":  # the start_at_layer path for TL models gives the same scan (once)
        torch.testing.assert_close(
            head_ablation_scan(tl, tokens, kind=kind, show_progress=False), ref, atol=1e-6, rtol=0
        )


def test_bad_kind_raises(pair):
    with pytest.raises(ValueError, match="kind"):
        head_ablation_scan(pair[0], torch.zeros(1, 4, dtype=torch.long), kind="resample")


@pytest.mark.slow
def test_smollm2_zero_and_mean_ablation_against_the_transformer_lens_twin():
    """Real SmolLM2 weights (GQA: heads 3-5 of a layer share one key/value head): ablating those
    three query heads with hooks equals zeroing their W_O rows in TL. fp32 through 30 layers with
    residual norms up to ~700 and two different attention kernels: logits agree to ~1e-3 (a few
    ulp of the residual), far below the >1.0 change the ablation makes."""
    from arena_core.models import load_model

    lm = load_model("smollm2-135m")
    model, tokens = lm.model, lm.model.to_tokens("To be, or not to be: that is the question")
    heads = [(1, 3), (1, 4), (1, 5)]
    tl = transformer_lens_twin(model)
    with torch.no_grad():
        ours = model.run_with_hooks(tokens, fwd_hooks=head_ablation_hooks(heads))
        plain = model(tokens)
        for layer, head in heads:
            tl.blocks[layer].attn.W_O[head] = 0.0
        ref = tl(tokens)
    torch.testing.assert_close(ours, ref, atol=5e-3, rtol=0)
    assert (ours - plain).abs().max() > 1.0
    # mean ablation of one head: our loss vs TL run with a hook written here
    means = mean_z(model, tokens)

    def fn(z, hook):
        z = z.clone()
        z[:, :, 7] = means[20][7]
        return z

    ref_loss = ce(tl.run_with_hooks(tokens, fwd_hooks=[("blocks.20.attn.hook_z", fn)]), tokens)
    # TL's twin now has layer 1 ablated too: apply the same edit on our side
    hooks = head_ablation_hooks(heads) + head_ablation_hooks([(20, 7)], means)
    torch.testing.assert_close(loss_with_hooks(model, tokens, hooks), ref_loss, atol=1e-4, rtol=0)
