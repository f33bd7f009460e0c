"""Span means against a plain unbatched forward (the reference: one prompt at a time, no padding,
no mask, then a mean over the span by hand), and the chat-row builder against the tokenizer."""

import pytest
import torch

from arena_core.interp.cache import run_with_cache
from arena_core.probes.activations import ActivationSpecError
from arena_core.probes.spans import chat_rows, extract_span_means, span_mask
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(d_model=24, n_layers=3, n_heads=4, d_head=6, d_mlp=40, d_vocab=53, n_ctx=32)
HOOKS = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(7)
    return Llama(CFG.with_(n_kv_heads=2)).double().eval()


def test_span_means_equal_unbatched_forward(model):
    g = torch.Generator().manual_seed(0)
    rows, spans = [], []
    for k in (3, 9, 5, 12, 1, 7, 8):
        rows.append(torch.randint(1, CFG.d_vocab, (k,), generator=g).tolist())
        s = int(torch.randint(0, k, (1,), generator=g))
        spans.append((s, int(torch.randint(s + 1, k + 1, (1,), generator=g))))
    got = extract_span_means(model, rows, spans, HOOKS, batch_size=3, dtype=torch.float64)
    for hook in HOOKS:
        ref = []
        for r, (s, e) in zip(rows, spans, strict=True):
            _, cache = run_with_cache(model, torch.tensor([r]), names_filter=hook)
            ref.append(cache[hook][0, s:e].mean(dim=0))
        # float64: padding and masking only change the order of operations
        torch.testing.assert_close(got[hook], torch.stack(ref), atol=1e-10, rtol=1e-10)


def test_span_mask_left_and_right_padding():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    m = span_mask(mask, torch.tensor([1, 0, 0]), torch.tensor([3, 2, 2]))
    assert m.tolist() == [[0, 0, 0, 1, 1], [1, 1, 0, 0, 0], [1, 1, 0, 0, 0]]


def test_bad_spans_raise(model):
    with pytest.raises(ActivationSpecError, match="outside"):
        extract_span_means(model, [[1, 2, 3]], [(2, 5)], HOOKS)
    with pytest.raises(ActivationSpecError, match="empty"):
        extract_span_means(model, [[1, 2, 3]], [(1, 1)], HOOKS)
    with pytest.raises(ActivationSpecError, match="spans given"):
        extract_span_means(model, [[1, 2, 3]], [], HOOKS)
    with pytest.raises(ActivationSpecError, match="unknown hook"):
        extract_span_means(model, [[1, 2, 3]], [(0, 1)], "blocks.9.nothing")


def test_chat_rows_match_the_full_chat_template():
    from arena_core.models.tokenizers import smollm2_tokenizer

    tok = smollm2_tokenizer()
    msgs = [{"role": "system", "content": "S."}, {"role": "user", "content": "Go."}]
    rows, spans = chat_rows(tok, msgs, ["I will copy the logs.", [42, 43]])
    full = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    s, e = spans[0]
    assert tok.decode(rows[0][:s]) == full
    assert tok.decode(rows[0][s:e]) == "I will copy the logs."
    assert rows[1][spans[1][0] :] == [42, 43] and rows[1][: spans[1][0]] == rows[0][:s]
    with pytest.raises(ActivationSpecError, match="empty reply"):
        chat_rows(tok, msgs, [""])
