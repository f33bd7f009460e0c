"""The bracket classifier (day 59): a training smoke run, resuming, and the committed checkpoint
(its held-out accuracy and hand cases against a stack counter, its logits against TL)."""

import pytest
import torch

from arena_core.data.brackets import BracketData, attention_mask, tokenize
from arena_core.models.bracket_classifier import (
    CHECKPOINT,
    BracketRecipe,
    class_logits,
    evaluate,
    load_bracket_classifier,
    train_classifier,
)
from arena_core.transformer.tl_twin import pad_key_mask_hooks, transformer_lens_twin

TINY = BracketRecipe(d_model=16, n_heads=2, d_mlp=16, n_layers=1, max_steps=20, batch_size=32,
                     lr=3e-3, eval_every=10, n_test=200)  # fmt: skip


def stack_balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c == "(" else -1
        if depth < 0:
            return False
    return depth == 0


def test_training_lowers_the_loss_and_resumes_exactly(tmp_path):
    model, hist, _ = train_classifier(TINY, show_progress=False)
    assert len(hist.step) == 20 and hist.eval_step == [10, 20]
    first, last = sum(hist.train_loss[:5]) / 5, sum(hist.train_loss[-5:]) / 5
    assert last < first
    # interrupt after the evaluation at step 10, then resume to 20: same weights as the
    # uninterrupted run
    ckpt = tmp_path / "ckpt.pt"

    def stop(step, acc):
        if step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_classifier(TINY, ckpt, show_progress=False, on_eval=stop)
    resumed, hist2, _ = train_classifier(TINY, ckpt, resume=True, show_progress=False)
    assert hist2.step == hist.step and hist2.train_loss == pytest.approx(hist.train_loss)
    for (n, a), (_, b) in zip(model.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)
    with pytest.raises(ValueError, match="another recipe"):
        train_classifier(TINY.__class__(**{**TINY.__dict__, "lr": 1e-2}), ckpt, resume=True,
                         show_progress=False)  # fmt: skip


def test_committed_checkpoint_is_small_and_classifies_held_out_and_hand_cases():
    assert CHECKPOINT.stat().st_size <= 5 * 2**20
    model = load_bracket_classifier()
    data = BracketData(seed=model.info["recipe"]["seed"], n_test=model.info["recipe"]["n_test"])
    _, pred = evaluate(model, data.test.tokens, data.test.labels)
    acc = (pred == data.test.labels).float().mean().item()
    assert acc == pytest.approx(model.info["test_accuracy"])
    want = torch.tensor([stack_balanced(s) for s in data.test.strings]).long()
    assert torch.equal(data.test.labels, want)
    assert acc >= 0.99
    # "(())" is a held-out string the committed model gets wrong (day 59's post), so not here
    cases = ["()()", "(()", "())(", ")(", "((()))", "(()))(", "()" * 20]
    with torch.no_grad():
        got = class_logits(model, tokenize(cases)).argmax(-1)
    assert got.tolist() == [int(stack_balanced(s)) for s in cases]


def test_committed_checkpoint_matches_its_transformer_lens_twin():
    model = load_bracket_classifier()
    tl = transformer_lens_twin(model)
    tokens = tokenize(["(()))(", "()" * 20, ")", "((())"])
    mask = attention_mask(tokens)
    with torch.no_grad(), tl.hooks(fwd_hooks=pad_key_mask_hooks(tl, mask)):
        want = tl(tokens)[:, 0]
    torch.testing.assert_close(class_logits(model, tokens), want, atol=1e-5, rtol=1e-5)
