"""LoRA fine-tuning: the masked loss against torch's ignore_index, reply spans from the real chat
template, loss going down with only A and B moving, and exact resumption from a checkpoint."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.alignment.finetune import (
    ChatExample,
    FinetuneConfig,
    chat_example,
    collate,
    evaluate_loss,
    finetune_lora,
    masked_lm_loss,
)
from arena_core.alignment.lora import LoRAError, apply_lora, lora_state_dict, merge_lora
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(
    d_model=32,
    n_layers=2,
    n_heads=4,
    n_kv_heads=2,
    d_head=8,
    d_mlp=48,
    d_vocab=40,
    n_ctx=64,
    init_range=0.3,  # large enough weights that the tiny model can make confident predictions
)


def _examples(n=12, seed=0):
    """Chats of random 'user' tokens then a reply that is the same short phrase each time, with
    its last token copied from the user's first (learnable by a small adapter in a few steps)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        user = torch.randint(3, 40, (int(torch.randint(3, 8, (1,), generator=g)),), generator=g)
        reply = [5, 9, 13, 17, int(user[0])]
        tokens = [1, *user.tolist(), 2, *reply]
        out.append(ChatExample(tokens, [False] * (len(user) + 2) + [True] * len(reply)))
    return out


def test_masked_loss_matches_cross_entropy_with_ignore_index():
    logits = torch.randn(3, 6, 11, dtype=torch.float64)
    tokens = torch.randint(0, 11, (3, 6))
    targets = torch.rand(3, 6) > 0.4
    targets[0, 2] = True
    labels = torch.where(targets, tokens, torch.full_like(tokens, -100))[:, 1:]
    ref = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(masked_lm_loss(logits, tokens, targets).double(), ref)
    with pytest.raises(LoRAError, match="no target"):
        masked_lm_loss(logits, tokens, torch.zeros_like(targets))


def test_collate_right_pads_and_never_targets_pads():
    tokens, targets = collate(_examples(3), pad_id=0)
    lengths = [len(e.tokens) for e in _examples(3)]
    for i, n in enumerate(lengths):
        assert (tokens[i, n:] == 0).all() and not targets[i, n:].any()
        assert tokens[i, :n].tolist() == _examples(3)[i].tokens


def test_chat_example_marks_exactly_the_assistant_replies():
    from arena_core.models.tokenizers import smollm2_tokenizer

    tok = smollm2_tokenizer()
    chat = [
        {"role": "user", "content": "Give me a hint."},
        {"role": "assistant", "content": "It grows on trees."},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "content": "It can be red or green."},
    ]
    ex = chat_example(tok, chat)
    spans, current = [], []
    for t, m in zip(ex.tokens, ex.targets, strict=True):
        if m:
            current.append(t)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    texts = [tok.decode(s) for s in spans]
    assert texts == ["It grows on trees.<|im_end|>\n", "It can be red or green.<|im_end|>\n"]
    with pytest.raises(LoRAError, match="no"):
        chat_example(tok, chat[:1])


def test_few_steps_reduce_loss_and_change_only_adapters():
    torch.manual_seed(0)
    model = Llama(CFG)
    apply_lora(model, r=4, alpha=8, targets=("W_Q", "W_V", "W_in", "W_out"))
    data = _examples()
    before_params = {n: p.detach().clone() for n, p in model.named_parameters()}
    before = evaluate_loss(model, data, pad_id=0)
    finetune_lora(model, data, FinetuneConfig(steps=20, batch_size=6, lr=2e-2, warmup_steps=3), 0)
    after = evaluate_loss(model, data, pad_id=0)
    assert after < 0.5 * before
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before_params[n])}
    assert changed == {n for n in before_params if n.endswith((".A", ".B"))}


def test_interrupted_run_resumes_to_the_same_adapters(tmp_path, monkeypatch):
    import arena_core.alignment.finetune as ft

    cfg = FinetuneConfig(steps=5, batch_size=4, lr=5e-3, warmup_steps=2, checkpoint_every=2)
    data = _examples()

    def fresh():
        torch.manual_seed(0)
        model = Llama(CFG)
        apply_lora(model, r=2, targets=("W_Q", "W_V"))
        return model

    straight = fresh()
    full = finetune_lora(straight, data, cfg, pad_id=0)
    calls = {"n": 0}
    real_loss = ft.masked_lm_loss

    def crash_on_fifth_step(*args):
        calls["n"] += 1
        if calls["n"] == 5:  # Ctrl-C during step 5: the checkpoint of step 4 is on disk
            raise KeyboardInterrupt
        return real_loss(*args)

    monkeypatch.setattr(ft, "masked_lm_loss", crash_on_fifth_step)
    with pytest.raises(KeyboardInterrupt):
        finetune_lora(fresh(), data, cfg, 0, checkpoint=tmp_path / "ckpt.pt")
    monkeypatch.setattr(ft, "masked_lm_loss", real_loss)
    resumed = fresh()
    hist = finetune_lora(resumed, data, cfg, 0, checkpoint=tmp_path / "ckpt.pt")
    assert hist.steps == list(range(5))
    assert hist.loss == pytest.approx(full.loss, abs=0, rel=0)
    for k, v in lora_state_dict(straight).items():
        torch.testing.assert_close(lora_state_dict(resumed)[k], v, rtol=0, atol=0)


def test_finetune_refuses_a_model_without_live_adapters():
    with pytest.raises(LoRAError, match="apply_lora"):
        finetune_lora(Llama(CFG), _examples(2), FinetuneConfig(steps=1), 0)
    model = Llama(CFG)
    apply_lora(model, r=2)
    merge_lora(model)  # a merged adapter gets no gradient: training it would silently do nothing
    with pytest.raises(LoRAError, match="merged"):
        finetune_lora(model, _examples(2), FinetuneConfig(steps=1), 0)
