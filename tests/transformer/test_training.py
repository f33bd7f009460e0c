"""LM training: the loss matches a direct computation, falls on a tiny corpus, and a run that is
interrupted and resumed from its checkpoint ends with exactly the parameters of a straight run.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.training import TrainConfig, lm_loss, lr_at, random_windows, train_lm

TEXT = "to be or not to be, that is the question. " * 40


def tiny_gpt(vocab, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, d_vocab=vocab, n_ctx=32
    )
    return GPT2(cfg)


def corpus():
    chars = sorted(set(TEXT))
    data = torch.tensor([chars.index(c) for c in TEXT])
    return data, len(chars)


def test_lm_loss_is_next_token_cross_entropy():
    logits = torch.randn(3, 7, 11, dtype=torch.float64)
    tokens = torch.randint(0, 11, (3, 7))
    logp = logits.log_softmax(-1)
    manual = -sum(logp[b, t, tokens[b, t + 1]] for b in range(3) for t in range(6)) / 18
    torch.testing.assert_close(lm_loss(logits, tokens).double(), manual, rtol=1e-6, atol=1e-6)


def test_random_windows_are_contiguous_slices():
    data = torch.arange(100)
    windows = random_windows(data, 5, 9, torch.Generator().manual_seed(0))
    assert windows.shape == (5, 9)
    assert torch.equal(windows[:, 1:] - windows[:, :-1], torch.ones(5, 8, dtype=torch.long))


def test_lr_schedule_warmup_and_cosine():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert math.isclose(lr_at(0, cfg), 1e-4)
    assert math.isclose(lr_at(9, cfg), 1e-3)
    assert math.isclose(lr_at(10, cfg), 1e-3)
    assert math.isclose(lr_at(55, cfg), 1e-3 * (0.1 + 0.9 * 0.5))  # half-way: cos = 0
    assert math.isclose(lr_at(100, cfg), 1e-4)


def test_loss_decreases_on_tiny_corpus():
    data, vocab = corpus()
    model = tiny_gpt(vocab)
    cfg = TrainConfig(
        steps=30, batch_size=8, seq_len=24, lr=1e-2, warmup_steps=3, eval_every=15, eval_batches=2
    )
    history = train_lm(model, data, data, cfg, show_progress=False)
    first = sum(history.train_loss[:5]) / 5
    last = sum(history.train_loss[-5:]) / 5
    assert first > 0.8 * math.log(vocab)  # starts near chance
    assert last < 0.65 * first  # a repeated sentence is easy to learn
    assert history.val_steps == [15, 30] and history.val_loss[1] < history.val_loss[0]


class Crash(Exception):
    pass


def test_resume_after_interruption_is_identical(tmp_path):
    data, vocab = corpus()
    cfg = TrainConfig(
        steps=14,
        batch_size=4,
        seq_len=16,
        lr=3e-3,
        warmup_steps=3,
        eval_every=5,
        eval_batches=2,
        checkpoint_every=4,
    )
    straight = tiny_gpt(vocab)
    ref = train_lm(straight, data, data, cfg, show_progress=False)

    # 1) stop_after: run 6 steps, return, resume for the rest in a fresh model and process state
    path = tmp_path / "a.pt"
    train_lm(
        tiny_gpt(vocab), data, data, cfg, checkpoint_path=path, stop_after=6, show_progress=False
    )
    torch.manual_seed(123)  # disturb the global RNG: resumption must not depend on it
    resumed = tiny_gpt(vocab, seed=99)
    hist = train_lm(resumed, data, data, cfg, checkpoint_path=path, show_progress=False)
    for (name, p), q in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q), name
    assert hist.train_loss == ref.train_loss and hist.val_loss == ref.val_loss

    # 2) a crash inside step 10: the last periodic checkpoint (step 8) is where training resumes
    path = tmp_path / "b.pt"
    crashing = tiny_gpt(vocab)
    calls = {"n": 0}
    original = crashing.forward

    def forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10 + 2 * 2:  # 10th training step; evaluations at step 5 used 2 calls
            raise Crash
        return original(*args, **kwargs)

    crashing.forward = forward
    with pytest.raises(Crash):
        train_lm(crashing, data, data, cfg, checkpoint_path=path, show_progress=False)
    resumed = tiny_gpt(vocab, seed=5)
    hist = train_lm(resumed, data, data, cfg, checkpoint_path=path, show_progress=False)
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)
    assert hist.train_loss == ref.train_loss


def test_checkpoint_with_other_config_is_rejected(tmp_path):
    data, vocab = corpus()
    cfg = TrainConfig(steps=2, batch_size=2, seq_len=8, eval_every=100, eval_batches=1)
    train_lm(
        tiny_gpt(vocab), data, None, cfg, checkpoint_path=tmp_path / "c.pt", show_progress=False
    )
    with pytest.raises(ValueError):
        train_lm(
            tiny_gpt(vocab),
            data,
            None,
            TrainConfig(steps=3, batch_size=2, seq_len=8),
            checkpoint_path=tmp_path / "c.pt",
            show_progress=False,
        )


def test_cross_entropy_reference_agrees_with_functional():
    logits = torch.randn(2, 5, 9)
    tokens = torch.randint(0, 9, (2, 5))
    ref = F.cross_entropy(logits[:, :-1].reshape(-1, 9), tokens[:, 1:].reshape(-1))
    torch.testing.assert_close(lm_loss(logits, tokens), ref)
