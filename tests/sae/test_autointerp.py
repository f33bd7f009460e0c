"""Auto-interpretation: prompts, the batched yes/no scorer and its metrics.

The scorer is run on a toy "model" whose last-position logits are a lookup table, so the score of
every prompt is known in advance; the metrics are compared with scikit-learn's
`roc_auc_score`, `accuracy_score` and `balanced_accuracy_score`."""

import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from torch import nn

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

YES, NO, PAD = 1, 2, 0


class TableLM(nn.Module):
    """logits[b, p] = table[tokens[b, p]]: the answer depends on the last token only. Records the
    masks it was given so the test can check the left padding."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = nn.Parameter(table)
        self.masks = []

    def forward(self, tokens, attention_mask=None, last_only=False):
        self.masks.append(attention_mask)
        logits = self.table[tokens]
        return logits[:, -1:] if last_only else logits


def test_yes_no_scores_are_the_known_logit_gaps_in_prompt_order():
    g = torch.Generator().manual_seed(0)
    table = torch.randn(20, 6, generator=g)
    model = TableLM(table)
    prompts = [[5, 7, 3], [9], [4, 4, 4, 4, 11], [12, 13], [6, 19, 8, 17]]
    got = yes_no_scores(model, prompts, YES, NO, PAD, batch_size=2)
    want = torch.tensor([table[p[-1], YES] - table[p[-1], NO] for p in prompts])
    assert torch.allclose(got, want)
    assert len(model.masks) == 3  # 5 prompts in batches of 2: three forward passes
    for m in model.masks:  # left padding: each row's real tokens are its last columns
        assert (m.cumsum(1) > 0).eq(m.bool()).all()


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
    text = tok.decode(detection_prompt(tok, "city names", "The city of Paris"))
    assert "city names" in text and "The city of Paris" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_bad_inputs_raise_sae_errors(monkeypatch):
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
        yes_no_scores(TableLM(torch.zeros(3, 3)), [], YES, NO, PAD)
    with pytest.raises(SAEError):
        answer_ids(smollm2_tokenizer(), yes="Absolutely yes")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert api_source() is None
    with pytest.raises(SAEError):
        api_explain([["x"]])
