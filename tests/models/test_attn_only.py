"""The project-trained 2-layer attention-only model: its data recipe, its checkpoint, and the
induction behaviour it was trained to show — measured with TransformerLens on the same weights."""

import pytest
import torch

from arena_core.models import load_model
from arena_core.models.attn_only import (
    CHECKPOINT,
    AttnOnlyRecipe,
    load_attn_only,
    random_windows,
    train_attn_only,
    windows_with_copies,
)
from arena_core.transformer.tl_twin import transformer_lens_twin


def test_copied_spans_repeat_a_span_of_the_same_window():
    recipe = AttnOnlyRecipe(
        n_ctx=64, batch_size=200, copy_prob=0.5, min_span=4, max_span=12, random_fraction=0.0
    )
    data = torch.arange(100_000)  # every token distinct: a repeat can only come from a copy
    batch = windows_with_copies(data, recipe, torch.Generator().manual_seed(0))
    n_copied = 0
    for row in batch.tolist():
        # a plain window is consecutive integers; find the pasted run by where that breaks
        breaks = [i for i in range(1, len(row)) if row[i] != row[i - 1] + 1]
        if not breaks:
            continue
        n_copied += 1
        start = breaks[0]
        end = breaks[1] if len(breaks) > 1 else len(row)
        length = end - start
        assert recipe.min_span <= length <= recipe.max_span or end == len(row)
        source = row.index(row[start])  # the first occurrence of the pasted tokens
        assert source + length <= start, "the source span must end before the copy starts"
        assert row[source : source + length] == row[start:end]
    assert 60 < n_copied < 140  # about copy_prob of 200 rows


def test_random_spans_are_pasted_twice_over_plain_windows():
    recipe = AttnOnlyRecipe(
        n_ctx=64, batch_size=100, copy_prob=1.0, min_span=4, max_span=12, random_fraction=1.0
    )
    data = torch.arange(1000) % 50
    data[-1] = 10**6  # random ids are drawn up to max(data): they (almost) never equal the text
    batch = windows_with_copies(data, recipe, torch.Generator().manual_seed(1))
    # the same generator state draws the same plain windows first
    plain = random_windows(data, 100, 64, torch.Generator().manual_seed(1))
    for row, orig in zip(batch.tolist(), plain.tolist(), strict=True):
        changed = sorted(i for i in range(64) if row[i] != orig[i])
        length = len(changed) // 2
        src, dst = changed[:length], changed[length:]
        assert recipe.min_span <= length <= recipe.max_span and len(changed) == 2 * length
        assert src == list(range(src[0], src[0] + length)), "the random span is contiguous"
        assert dst == list(range(dst[0], dst[0] + length)) and dst[0] >= src[-1] + 1
        assert [row[i] for i in src] == [row[i] for i in dst]


def test_tokenizer_round_trip_and_hf_style_call():
    lm = load_model("attn-only-2l")
    text = "ROMEO:\nBut, soft! what light"
    assert lm.tokenizer.decode(lm.tokenizer.encode(text)) == text
    assert lm.model.to_tokens(text)[0].tolist() == lm.tokenizer.encode(text)


def test_committed_checkpoint_is_small_and_matches_transformer_lens():
    assert CHECKPOINT.stat().st_size <= 5 * 2**20
    lm = load_attn_only()
    assert lm.model.cfg.attn_only and lm.model.cfg.n_layers == 2
    tl = transformer_lens_twin(lm.model, dtype=torch.float32)
    tokens = lm.model.to_tokens("KING HENRY:\nOnce more unto the breach, dear friends")
    with torch.no_grad():
        torch.testing.assert_close(lm.model(tokens), tl(tokens), atol=1e-4, rtol=1e-4)


def test_checkpoint_has_an_induction_head_by_transformer_lens_patterns():
    """Induction score >= 0.9 on repeated random characters (never seen in training), computed
    from TransformerLens' own attention patterns, and the repeat is predicted far better."""
    lm = load_attn_only()
    tl = transformer_lens_twin(lm.model, dtype=torch.float32)
    block = 40
    gen = torch.Generator().manual_seed(3)
    rand = torch.randint(0, lm.model.cfg.d_vocab, (8, block), generator=gen)
    tokens = torch.cat([rand, rand], dim=1)
    with torch.no_grad():
        logits, cache = tl.run_with_cache(tokens)
    pattern = cache["blocks.1.attn.hook_pattern"]  # [batch head q k]
    q = torch.arange(block, 2 * block)
    # attention from each token of the second copy to the token after its first occurrence
    scores = pattern[:, :, q, q - block + 1].mean(dim=(0, 2))
    assert scores.max() >= 0.9, scores
    logp = logits.log_softmax(-1)[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
    first, repeated = -logp[:, : block - 1].mean(), -logp[:, block:].mean()
    assert repeated < 0.2 * first, (first, repeated)


def test_training_writes_a_checkpoint_that_loads_back(tmp_path):
    recipe = AttnOnlyRecipe(
        d_model=16, n_heads=2, n_ctx=32, steps=3, batch_size=2, min_span=2, max_span=6
    )
    info = train_attn_only(recipe, tmp_path / "tiny.safetensors", show_progress=False)
    assert info["recipe"]["steps"] == 3 and torch.isfinite(torch.tensor(info["val_loss"]))
    lm = load_attn_only(tmp_path / "tiny.safetensors")
    assert lm.model.cfg.d_model == 16 and "trained by this project" in lm.source


def test_recipe_rejects_spans_that_cannot_fit_twice_in_a_window():
    with pytest.raises(ValueError, match="must fit in one window"):
        AttnOnlyRecipe(n_ctx=32, max_span=20)
    with pytest.raises(ValueError, match="min_span"):
        AttnOnlyRecipe(min_span=10, max_span=5)
