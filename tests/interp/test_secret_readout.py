"""Secret read-out helpers against the model's own logits (last layer), explicit loops and toys
whose answer is known by hand."""

import pytest
import torch

from arena_core.interp.secret_readout import (
    SecretReadoutError,
    candidate_scores,
    candidate_token_ids,
    lens_log_probs,
    mention_counts,
    token_rank,
    top_candidate,
    word_variants,
)
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=53, n_ctx=20)


def test_lens_of_the_final_residual_is_the_models_log_softmax():
    torch.manual_seed(0)
    model = Llama(CFG).double().eval()
    tokens = torch.randint(0, CFG.d_vocab, (3, 7))
    store = {}
    hook = f"blocks.{CFG.n_layers - 1}.hook_resid_post"
    with torch.no_grad(), model.hooks([(hook, lambda x, hook=None: store.setdefault("r", x))]):
        logits = model(tokens)
    torch.testing.assert_close(
        lens_log_probs(model, store["r"]), logits.float().log_softmax(-1), atol=1e-5, rtol=0
    )


def test_candidate_scores_sum_variant_probabilities_by_hand():
    p = torch.tensor([0.1, 0.2, 0.3, 0.4])
    scores = candidate_scores(p.log(), [[0, 3], [1], [2, 2]])
    torch.testing.assert_close(scores, torch.tensor([0.5, 0.2, 0.3]).log())
    # leading dims are kept
    assert candidate_scores(p.log().expand(2, 5, 4), [[0], [1]]).shape == (2, 5, 2)


def test_token_rank_matches_a_loop_and_counts_ties_for_the_token():
    torch.manual_seed(1)
    lp = torch.randn(4, 30).log_softmax(-1)
    ids = [3, 17]
    want = [sum(float(v) > max(float(row[3]), float(row[17])) for v in row) for row in lp]
    assert token_rank(lp, ids).tolist() == want
    assert token_rank(torch.zeros(5), [2]).item() == 0


def test_words_variants_and_first_tokens():
    assert word_variants("moon") == [" moon", "moon", " Moon", "Moon"]

    class Tok:  # one token per character: first token = first character's code
        def __call__(self, text, add_special_tokens=False):
            return type("E", (), {"input_ids": [ord(c) for c in text]})()

    assert candidate_token_ids(Tok(), ["moon"]) == [[ord(" "), ord("m"), ord("M")]]


def test_mentions_and_top_candidate():
    texts = ["The Moon is bright", "a honeybee", "nothing here", "moonlight"]
    counts = mention_counts(texts, ["moon", "honey", "clock"])
    assert counts.tolist() == [2, 1, 0]
    assert top_candidate(counts) == 0
    assert top_candidate(torch.zeros(3)) == -1


@pytest.mark.parametrize(
    "call",
    [
        lambda: word_variants("  "),
        lambda: candidate_scores(torch.zeros(4), []),
        lambda: candidate_scores(torch.zeros(4), [[1], []]),
        lambda: token_rank(torch.zeros(4), []),
        lambda: mention_counts(["x"], []),
        lambda: top_candidate(torch.zeros(0)),
    ],
)
def test_bad_input_raises_a_user_error(call):
    with pytest.raises(SecretReadoutError):
        call()
