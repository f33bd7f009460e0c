"""Batched activation extraction against a plain unbatched forward with our cache (the reference:
one prompt at a time, no padding, no mask), for both padding sides, and the on-disk cache:
resumption after an interrupt and invalidation when the model or prompts change."""

import json

import numpy as np
import pytest
import torch

import arena_core.probes.activations as activations
from arena_core.interp.cache import run_with_cache
from arena_core.probes.activations import ActivationSpecError, extract_activations
from arena_core.transformer import GPT2, Llama, TransformerConfig

CFG = TransformerConfig(d_model=24, n_layers=3, n_heads=4, d_head=6, d_mlp=40, d_vocab=53, n_ctx=32)
HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_mid", "blocks.2.hook_mlp_out"]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def model(request):
    torch.manual_seed(5)
    m = GPT2(CFG) if request.param == "gpt2" else Llama(CFG.with_(n_kv_heads=2))
    return m.double().eval()


def prompts(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 9, (n,), generator=g)
    return [torch.randint(1, CFG.d_vocab, (int(k),), generator=g).tolist() for k in lengths]


def reference(model, rows, hook, position):
    """One forward per prompt, unpadded; pick the position by hand."""
    out = []
    for i, r in enumerate(rows):
        _, cache = run_with_cache(model, torch.tensor([r]), names_filter=hook)
        a = cache[hook][0]
        if position == "mean":
            out.append(a.mean(dim=0))
        elif position == "last":
            out.append(a[-1])
        else:
            p = position if isinstance(position, int) else position[i]
            out.append(a[p])
    return torch.stack(out)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("position", ["last", "mean", 0, "per-prompt"])
def test_batched_equals_unbatched_forward(model, side, position):
    rows = prompts()
    if position == "per-prompt":
        position = [len(r) // 2 for r in rows[:-1]] + [-len(rows[-1])]  # a negative one too
    got = extract_activations(
        model, rows, HOOKS, position, batch_size=3, padding_side=side, dtype=torch.float64
    )
    for hook in HOOKS:
        # float64: batching and masking only change op order
        torch.testing.assert_close(
            got[hook], reference(model, rows, hook, position), atol=1e-10, rtol=0
        )


def test_whole_model_hooks_and_stopping_early_agree(model):
    rows = prompts(4)
    # hooks of different widths (d_model and d_mlp) in one call
    hooks = ["hook_embed", "blocks.1.mlp.hook_post", "ln_final.hook_normalized"]
    got = extract_activations(model, rows, hooks, "mean", dtype=torch.float64)
    assert got["blocks.1.mlp.hook_post"].shape == (4, CFG.d_mlp)
    for hook in got:
        torch.testing.assert_close(
            got[hook], reference(model, rows, hook, "mean"), atol=1e-10, rtol=0
        )


def _interrupt_after(monkeypatch, n_batches):
    """Make the n-th real batch raise KeyboardInterrupt (the 1-token width probes don't count)."""
    real, calls = activations._run_batch, {"n": 0}

    def run(model, tokens, *args):
        if tokens.shape[0] > 1:
            calls["n"] += 1
            if calls["n"] == n_batches:
                raise KeyboardInterrupt
        return real(model, tokens, *args)

    monkeypatch.setattr(activations, "_run_batch", run)
    return calls


def test_resume_after_interrupt_gives_identical_arrays(model, tmp_path, monkeypatch):
    rows = prompts(11)
    plain = extract_activations(model, rows, HOOKS, "last", batch_size=3, dtype=torch.float64)
    calls = _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        extract_activations(
            model, rows, HOOKS, "last", batch_size=3, cache_dir=tmp_path, dtype=torch.float64
        )
    assert json.loads((tmp_path / "index.json").read_text())["done"] == 6  # 2 batches saved
    monkeypatch.undo()
    calls = _interrupt_after(monkeypatch, 99)  # counts only
    resumed = extract_activations(
        model, rows, HOOKS, "last", batch_size=3, cache_dir=tmp_path, dtype=torch.float64
    )
    assert calls["n"] == 2  # prompts 6..10 only: two batches of 3 and 2
    for hook in HOOKS:
        assert torch.equal(resumed[hook], plain[hook])
        assert np.load(tmp_path / f"{hook}.npy").shape == (11, CFG.d_model)
    # a finished cache is read back without any forward pass
    again = extract_activations(
        model, rows, HOOKS, "last", batch_size=3, cache_dir=tmp_path, dtype=torch.float64
    )
    assert calls["n"] == 2 and torch.equal(again[HOOKS[0]], plain[HOOKS[0]])


def test_changed_prompts_or_weights_invalidate_the_cache(model, tmp_path, monkeypatch):
    rows = prompts(6)
    extract_activations(model, rows, HOOKS[:1], "mean", cache_dir=tmp_path, dtype=torch.float64)
    other = prompts(6, seed=1)
    got = extract_activations(
        model, other, HOOKS[:1], "mean", cache_dir=tmp_path, dtype=torch.float64
    )
    torch.testing.assert_close(
        got[HOOKS[0]], reference(model, other, HOOKS[0], "mean"), atol=1e-10, rtol=0
    )
    changed = type(model)(model.cfg).double().eval()
    changed.load_state_dict(model.state_dict())
    with torch.no_grad():
        changed.blocks[0].mlp.W_out.add_(0.5)
    got = extract_activations(
        changed, other, HOOKS[:1], "mean", cache_dir=tmp_path, dtype=torch.float64
    )
    torch.testing.assert_close(
        got[HOOKS[0]], reference(changed, other, HOOKS[0], "mean"), atol=1e-10, rtol=0
    )


def test_bad_specs_are_user_errors(model):
    rows = prompts(3)
    with pytest.raises(ActivationSpecError, match="outside prompt"):
        extract_activations(model, rows, HOOKS[:1], 50)
    with pytest.raises(ActivationSpecError, match="unknown hook"):
        extract_activations(model, rows, ["blocks.7.hook_resid_post"])
    with pytest.raises(ActivationSpecError, match="only \\[batch pos d\\]"):
        extract_activations(model, rows, ["blocks.1.attn.hook_z"])
    with pytest.raises(ActivationSpecError, match="tokenizer"):
        extract_activations(model, ["a text"], HOOKS[:1])


def test_smollm2_text_prompts_padding_side_does_not_matter():
    from arena_core.models import load_model

    lm = load_model("smollm2-135m")
    texts = ["The capital of France is", "Two plus two equals four.", "Hi"]
    hooks = ["blocks.3.hook_resid_post", "blocks.12.hook_resid_post"]
    left = extract_activations(lm.model, texts, hooks, "last", batch_size=3, padding_side="left")
    right = extract_activations(lm.model, texts, hooks, "mean", batch_size=3, padding_side="right")
    for i, t in enumerate(texts):
        ids = torch.tensor([lm.tokenizer(t).input_ids])
        _, cache = run_with_cache(lm.model, ids, names_filter=hooks)
        for h in hooks:
            # float32, 576-wide residual of growing norm: masked-batch vs single forward rounding
            torch.testing.assert_close(left[h][i], cache[h][0, -1], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(right[h][i], cache[h][0].mean(0), atol=1e-4, rtol=1e-4)


def test_extraction_on_device_matches_cpu(model, device):
    rows = prompts(5)
    ref = extract_activations(model, rows, HOOKS, "mean", batch_size=2, dtype=torch.float64)
    moved = type(model)(model.cfg).double().eval()
    moved.load_state_dict(model.state_dict())
    got = extract_activations(
        moved.to(device), rows, HOOKS, "mean", batch_size=2, dtype=torch.float64
    )
    for hook in HOOKS:
        assert got[hook].device.type == "cpu"
        torch.testing.assert_close(got[hook], ref[hook], atol=1e-10, rtol=0)


def test_widths_from_the_config_match_a_forward(model):
    """Residual-stream widths come from `cfg.d_model` without a forward; they must be what a
    forward gives (the reference: the activations' own shapes from our cache)."""
    probe = torch.zeros((1, 1), dtype=torch.long)
    _, cache = run_with_cache(model, probe, names_filter=HOOKS)
    assert activations._hook_widths(model, HOOKS) == {h: cache[h].shape[-1] for h in HOOKS}
