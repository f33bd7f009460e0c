"""LoRA mechanics on our own models: zero update at start, merge/unmerge, save/load, errors.

The reference for "same function" is the model itself with the update written into the weight
by hand (W + s (B A)^T in the parameter's layout), computed here with plain torch."""

import pytest
import torch

from arena_core.alignment.lora import (
    LoRAError,
    apply_lora,
    count_parameters,
    load_lora,
    lora_modules,
    lora_parameters,
    merge_lora,
    remove_lora,
    save_lora,
    set_lora_enabled,
    unmerge_lora,
)
from arena_core.transformer import GPT2, Llama, TransformerConfig

CFG = TransformerConfig(
    d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32
)


def _llama(dtype=torch.float64):
    torch.manual_seed(0)
    return Llama(CFG).to(dtype).eval()


def _randomise_B(model):
    with torch.no_grad():
        for _, m in lora_modules(model):
            m.B.copy_(0.2 * torch.randn_like(m.B))


def test_fresh_adapters_leave_model_unchanged_and_freeze_base():
    model = _llama()
    tokens = torch.randint(0, CFG.d_vocab, (2, 9))
    before = model(tokens).detach()
    adapters = apply_lora(model, r=4, alpha=8, targets=("W_Q", "W_V", "W_out"))
    assert len(adapters) == 2 * 3
    torch.testing.assert_close(model(tokens), before, rtol=0, atol=0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith((".A", ".B")) for n in trainable)
    # W_Q: A [4, d_model] + B [n_heads*d_head, 4]; W_V: B [n_kv*d_head, 4]; W_out: A [4, d_mlp]
    per_layer = (4 * 32 + 32 * 4) + (4 * 32 + 16 * 4) + (4 * 48 + 32 * 4)
    assert count_parameters(model)["trainable"] == 2 * per_layer


def test_update_equals_hand_written_weight_change():
    model = _llama()
    tokens = torch.randint(0, CFG.d_vocab, (2, 9))
    apply_lora(model, r=3, alpha=6, targets=("W_Q", "W_O", "W_in"))
    _randomise_B(model)
    got = model(tokens)
    ref = _llama()
    with torch.no_grad():
        for name, m in lora_modules(model):
            delta = 2.0 * (m.B @ m.A).T  # alpha / r = 2, [d_in d_out]
            W = ref.get_parameter(name)
            if name.endswith("W_Q"):  # d_in x (h e) -> h d_in e
                delta = delta.reshape(CFG.d_model, CFG.n_heads, CFG.d_head).permute(1, 0, 2)
            elif name.endswith("W_O"):  # (h e) x d_out -> h e d_out
                delta = delta.reshape(CFG.n_heads, CFG.d_head, CFG.d_model)
            W.add_(delta)
    torch.testing.assert_close(got, ref(tokens), rtol=0, atol=1e-12)


def test_merge_unmerge_remove_and_disable():
    model = _llama()
    tokens = torch.randint(0, CFG.d_vocab, (2, 7))
    base = model(tokens).detach()
    apply_lora(model, r=2, alpha=4, targets=("W_K", "W_gate"))
    _randomise_B(model)
    adapted = model(tokens).detach()
    assert (adapted - base).abs().max() > 1e-3
    set_lora_enabled(model, False)
    torch.testing.assert_close(model(tokens), base, rtol=0, atol=0)
    set_lora_enabled(model, True)
    merge_lora(model)
    torch.testing.assert_close(model(tokens), adapted, rtol=0, atol=1e-12)
    with pytest.raises(LoRAError):
        set_lora_enabled(model, False)
    unmerge_lora(model)
    torch.testing.assert_close(model(tokens), adapted, rtol=0, atol=1e-12)
    remove_lora(model, merge=True)
    assert not list(lora_modules(model))
    assert set(dict(model.named_parameters())) == set(dict(_llama().named_parameters()))
    torch.testing.assert_close(model(tokens), adapted, rtol=0, atol=1e-12)


def test_no_grad_generation_sees_adapter_changes():
    """The fused QKV weight is cached outside autograd; an adapter update must not go stale."""
    model = _llama()
    apply_lora(model, r=2, alpha=2, targets=("W_Q", "W_K", "W_V"))
    tokens = torch.randint(0, CFG.d_vocab, (1, 6))
    with torch.no_grad():
        first = model(tokens)
        _randomise_B(model)
        second = model(tokens)
        set_lora_enabled(model, False)
        third = model(tokens)
    assert (first - second).abs().max() > 1e-3
    torch.testing.assert_close(first, third, rtol=0, atol=0)


def test_save_load_roundtrip(tmp_path):
    model = _llama()
    apply_lora(model, r=4, alpha=16, targets=("W_V", "W_out"), layers=[1])
    _randomise_B(model)
    tokens = torch.randint(0, CFG.d_vocab, (2, 5))
    path = save_lora(model, tmp_path / "adapter.safetensors")
    fresh = _llama()
    cfg = load_lora(fresh, path)
    assert cfg == {"r": 4, "alpha": 16.0, "targets": ["W_V", "W_out"], "layers": [1]}
    torch.testing.assert_close(fresh(tokens), model(tokens), rtol=0, atol=0)
    assert len(lora_parameters(fresh)) == 4


def test_works_on_gpt2_and_trains_only_adapters():
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32, d_vocab=29)
    model = GPT2(cfg)
    apply_lora(model, r=2, targets=("W_Q", "W_in"))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.SGD(lora_parameters(model), lr=0.1)
    tokens = torch.randint(0, 29, (2, 6))
    for _ in range(2):
        opt.zero_grad()
        model(tokens).logsumexp(-1).mean().backward()
        opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {n for n in before if n.endswith((".A", ".B"))}


def test_bad_requests_raise_clear_errors(tmp_path):
    model = _llama()
    with pytest.raises(LoRAError, match="unknown LoRA targets"):
        apply_lora(model, targets=("W_X",))
    with pytest.raises(LoRAError, match="positive integer"):
        apply_lora(model, r=0)
    with pytest.raises(LoRAError, match="out of range"):
        apply_lora(model, layers=[5])
    with pytest.raises(LoRAError, match="init"):
        apply_lora(model, init="orthogonal")
    no_mlp = Llama(TransformerConfig(d_model=8, n_layers=1, n_heads=2, d_head=4, attn_only=True))
    with pytest.raises(LoRAError, match="not parameters"):
        apply_lora(no_mlp, targets=("W_in",))
    apply_lora(model)
    with pytest.raises(LoRAError, match="already has"):
        apply_lora(model)
    with pytest.raises(LoRAError, match="no adapter file"):
        load_lora(_llama(), tmp_path / "missing.safetensors")
    other = _llama()
    apply_lora(other, r=2, targets=("W_K",))
    save_lora(other, tmp_path / "k.safetensors")
    from safetensors.torch import load_file

    from arena_core.alignment.lora import load_lora_state_dict

    with pytest.raises(LoRAError, match="keys do not match"):
        load_lora_state_dict(model, load_file(str(tmp_path / "k.safetensors")))
