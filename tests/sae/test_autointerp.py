"""Auto-interpretation: prompts, the batched yes/no scorer and its metrics.

The scorer (shared prefix in a KV cache, left-padded suffixes) is compared with one unpadded
forward pass per prompt of HF `LlamaForCausalLM` carrying the same random weights (float64 model;
scores come back as float32, so 1e-6 is rounding); the metrics with scikit-learn's
`roc_auc_score`, `accuracy_score` and `balanced_accuracy_score`."""

import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from arena_core.models import smollm2_tokenizer
from arena_core.sae import SAEError
from arena_core.sae.autointerp import (
    answer_ids,
    api_explain,
    api_source,
    clean_explanation,
    detection_metrics,
    detection_prompt,
    explainer_prompt,
    mark_tokens,
    yes_no_scores,
)
from tests.transformer._refs import hf_llama_pair

YES, NO, PAD = 1, 2, 0
HF_CFG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=48, vocab_size=41, max_position_embeddings=64)  # fmt: skip


def test_yes_no_scores_reuse_the_prefix_and_match_hf_llama():
    # reference: each prompt alone, prefix + suffix in one unpadded forward pass of HF's
    # LlamaForCausalLM holding the same random weights
    torch.manual_seed(0)
    hf, ours = hf_llama_pair(dtype=torch.float64, **HF_CFG)
    prefix = [5, 7, 3, 9]
    suffixes = [[11, 2], [9], [4, 4, 4, 4, 11], [12, 13, 30], [6, 19, 8, 17]]
    got = yes_no_scores(ours, prefix, suffixes, YES, NO, PAD, batch_size=2)
    for i, suf in enumerate(suffixes):
        with torch.no_grad():
            logits = hf(torch.tensor([prefix + suf])).logits[0, -1]
        assert got[i].item() == pytest.approx((logits[YES] - logits[NO]).item(), abs=1e-6)


def test_detection_metrics_match_sklearn():
    g = torch.Generator().manual_seed(1)
    for n_pos, n_neg in ((8, 8), (5, 11)):
        y = torch.tensor([1] * n_pos + [0] * n_neg)
        s = torch.randn(n_pos + n_neg, generator=g) + 0.8 * y
        s[3] = s[n_pos + 1]  # a tie between a positive and a negative
        m = detection_metrics(s, y)
        assert m["auroc"] == pytest.approx(roc_auc_score(y.numpy(), s.numpy()), abs=1e-12)
        pred = (s > 0).long().numpy()
        assert m["accuracy"] == pytest.approx(accuracy_score(y.numpy(), pred))
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y.numpy(), pred))
        assert m["yes_rate"] == pytest.approx(pred.mean())


def test_worked_example_by_hand():
    # 3 activating and 3 silent contexts: 8 of the 9 pairs are ordered right
    s = torch.tensor([2.0, 0.5, -0.3, 0.1, -1.0, -2.0])
    m = detection_metrics(s, torch.tensor([1, 1, 1, 0, 0, 0]))
    assert m["auroc"] == pytest.approx(8 / 9) and m["accuracy"] == pytest.approx(4 / 6)


def test_marking_and_prompts():
    assert mark_tokens(["a", " cat", " sat"], [0.1, 2.0, 1.0], 1.0) == "a<< cat>><< sat>>"
    ask = explainer_prompt(["x <<y>>", "z"])
    assert "1. x <<y>>\n2. z" in ask
    assert clean_explanation(' "names of cities". They are\nmore') == "names of cities"
    tok = smollm2_tokenizer()
    yes, no = answer_ids(tok)
    assert tok.decode([yes]) == "Yes" and tok.decode([no]) == "No"
    head, tail = detection_prompt(tok, "city names", "The city of Paris")
    text = tok.decode(head + tail)
    assert "city names" in tok.decode(head) and "Paris" not in tok.decode(head)
    assert "city names" in text and "The city of Paris" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_bad_inputs_raise_sae_errors(monkeypatch):
    model = hf_llama_pair(**HF_CFG)[1]
    with pytest.raises(SAEError):
        mark_tokens(["a"], [1.0, 2.0], 0.5)
    with pytest.raises(SAEError):
        mark_tokens(["a"], [1.0], 0.0)
    with pytest.raises(SAEError):
        explainer_prompt([])
    with pytest.raises(SAEError):
        detection_metrics(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]))
    with pytest.raises(SAEError):
        detection_metrics(torch.tensor([0.1, 0.2]), torch.tensor([1, 0, 1]))
    with pytest.raises(SAEError):
        yes_no_scores(model, [1], [], YES, NO, PAD)
    with pytest.raises(SAEError):
        yes_no_scores(model, [], [[1]], YES, NO, PAD)
    with pytest.raises(SAEError):
        answer_ids(smollm2_tokenizer(), yes="Absolutely yes")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert api_source() is None
    with pytest.raises(SAEError):
        api_explain([["x"]])
