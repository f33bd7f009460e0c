"""Secret maps: the candidate lens against the model's own logits, residual gathering against
unpadded single-row passes, a planted secret direction found at the planted layer and position,
an identity Patchscope patch that must reproduce the unpatched logits, and hand-made toys."""

import pytest
import torch

from arena_core.interp.patchscopes import patched_logits
from arena_core.interp.secret_maps import (
    aligned_positions,
    aligned_residuals,
    candidate_logits,
    named_candidate,
    patchscope_candidate_logits,
    pick,
    secret_share,
    whole_word_ids,
)
from arena_core.interp.secret_readout import SecretReadoutError
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(
    d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=53, n_ctx=24, init_range=0.5
)  # weights large enough that a planted direction dominates the random rest
IDS = [[3, 7], [5], [11, 12, 3]]  # token 3 is shared by words 0 and 2


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Llama(CFG).double().eval()


def _final_resid(model, tokens):
    store = {}
    hook = f"blocks.{CFG.n_layers - 1}.hook_resid_post"
    with torch.no_grad(), model.hooks([(hook, lambda x, hook=None: store.setdefault("r", x))]):
        logits = model(tokens)
    return store["r"], logits


def test_candidate_lens_of_final_residual_matches_model_logits(model):
    tokens = torch.randint(0, CFG.d_vocab, (2, 6))
    resid, logits = _final_resid(model, tokens)
    lp = logits.double().log_softmax(-1)
    want = torch.stack([lp[..., list(dict.fromkeys(v))].logsumexp(-1) for v in IDS], -1)
    got = candidate_logits(model, resid, IDS).double()
    torch.testing.assert_close(got.log_softmax(-1), want.log_softmax(-1), atol=1e-5, rtol=0)
    # normalised over the whole vocabulary (in chunks of 5 vectors): the words' probabilities
    torch.testing.assert_close(
        candidate_logits(model, resid, IDS, normalise=True, chunk=5).double(),
        want,
        atol=1e-5,
        rtol=0,
    )


def test_aligned_positions_by_hand():
    idx, valid = aligned_positions([5, 3], [8, 4], n_prompt=2, n_hint=3)
    assert idx.tolist() == [[3, 4, 5, 6, 7], [1, 2, 3, 0, 0]]
    assert valid.tolist() == [[True] * 5, [True, True, True, False, False]]
    with pytest.raises(SecretReadoutError):
        aligned_positions([1], [4], n_prompt=2, n_hint=1)
    with pytest.raises(SecretReadoutError):
        aligned_positions([3], [4, 5], n_prompt=1, n_hint=1)


def test_aligned_residuals_match_unpadded_single_rows(model):
    rows = [[1, 2, 3, 4, 5, 6], [7, 8, 9]]
    idx, valid = aligned_positions([4, 2], [6, 3], n_prompt=2, n_hint=2)
    got = aligned_residuals(model, rows, idx)
    assert got.shape == (CFG.n_layers, 2, 4, CFG.d_model)
    for b, r in enumerate(rows):
        store = []
        hooks = [(f"blocks.{i}.hook_resid_post", lambda x, hook=None: store.append(x))
                 for i in range(CFG.n_layers)]  # fmt: skip
        with torch.no_grad(), model.hooks(hooks):
            model(torch.tensor([r]))
        ref = torch.stack(store)[:, 0]  # [L pos d]
        for c in range(4):
            if valid[b, c]:
                torch.testing.assert_close(got[:, b, c], ref[:, int(idx[b, c])])


def test_planted_secret_direction_is_found_where_it_was_planted(model):
    """Random residuals [L n col d]; at layer 1, column 2 every row gets a push along the
    unembedding of word 1's token: the map's best cell must be exactly there."""
    g = torch.Generator().manual_seed(3)
    L, n, C = CFG.n_layers, 5, 4
    resid = torch.randn(L, n, C, CFG.d_model, generator=g, dtype=torch.float64)
    push = model.unembed.W_U[:, 5] / model.unembed.W_U[:, 5].norm()
    resid[1, :, 2] += 8 * push
    scores = candidate_logits(model, resid, IDS)  # [L n C K]
    share, hit = secret_share(scores, torch.ones(n, C, dtype=torch.bool), secret=1)
    best = int(share.flatten().argmax())
    assert divmod(best, C) == (1, 2)
    assert hit[1, 2] == 1.0 and share[1, 2] > 0.8
    # missing columns do not count: a row whose column 2 is invalid changes nothing there
    valid = torch.ones(n, C, dtype=torch.bool)
    valid[0, 2] = False
    share2, _ = secret_share(scores, valid, secret=1)
    probs = scores[1, 1:, 2].double().softmax(-1)[:, 1].mean()
    torch.testing.assert_close(share2[1, 2].double(), probs)


def test_pick_gives_no_pick_for_ties_and_the_zero_difference(model):
    assert pick(torch.tensor([[0.1, 0.5, 0.2], [1.0, 1.0, 1.0]])).tolist() == [1, -1]
    zero = candidate_logits(model, torch.zeros(2, CFG.d_model, dtype=torch.float64), IDS)
    assert pick(zero).tolist() == [-1, -1]  # even though the words have 2, 1 and 3 tokens


def test_identity_patch_reproduces_unpatched_logits(model):
    """Patching the clean residual of the placeholder token back in changes nothing."""
    prompt = [4, 9, 2, 13, 6]
    place, layer = 3, 1
    store = {}
    hook = f"blocks.{layer}.hook_resid_post"
    with torch.no_grad(), model.hooks([(hook, lambda x, hook=None: store.setdefault("r", x))]):
        logits = model(torch.tensor([prompt]))
    vec = store["r"][0, place][None].expand(3, -1)
    scores, top, top_p = patchscope_candidate_logits(model, prompt, place, hook, vec, IDS)
    lp = logits[0, -1].double().log_softmax(-1)
    want = torch.stack([lp[list(dict.fromkeys(v))].logsumexp(-1) for v in IDS])
    torch.testing.assert_close(scores.double(), want.expand(3, -1), atol=1e-5, rtol=0)
    assert top.tolist() == [int(lp.argmax())] * 3
    torch.testing.assert_close(top_p.double(), lp.max().exp().expand(3), atol=1e-6, rtol=0)
    # any vector: the shared-prefix pass equals a full patched pass (patchscopes.patched_logits,
    # itself checked against TransformerLens) on every candidate and the greedy token
    g = torch.Generator().manual_seed(1)
    vecs = torch.randn(5, CFG.d_model, generator=g, dtype=torch.float64) * 3
    scores, top, _ = patchscope_candidate_logits(
        model, prompt, place, hook, vecs, IDS, batch_size=2
    )
    full, _ = patched_logits(model, [prompt] * 5, place, hook, vecs)
    lp = full[:, -1].double().log_softmax(-1)
    want = torch.stack([lp[:, list(dict.fromkeys(v))].logsumexp(-1) for v in IDS], -1)
    torch.testing.assert_close(scores.double(), want, atol=1e-5, rtol=0)
    assert top.tolist() == lp.argmax(-1).tolist()
    assert not torch.allclose(scores[0], scores[1])


def test_named_candidate_and_whole_word_ids():
    top = torch.tensor([3, 5, 12, 40])
    assert named_candidate(top, IDS).tolist() == [0, 1, 2, -1]

    class Tok:  # known single tokens; anything else splits into characters
        vocab = {" moon": 1, "Moon": 2, " cat": 3}

        def __call__(self, text, add_special_tokens=False):
            ids = [self.vocab[text]] if text in self.vocab else [100 + ord(c) for c in text]
            return type("E", (), {"input_ids": ids})()

    assert whole_word_ids(Tok(), ["moon", "cat"]) == [[1, 2], [3]]
    with pytest.raises(SecretReadoutError, match="single token"):
        whole_word_ids(Tok(), ["dog"])


def test_bad_inputs_raise(model):
    with pytest.raises(SecretReadoutError):
        candidate_logits(model, torch.zeros(2, CFG.d_model), [[1], []])
    with pytest.raises(SecretReadoutError):
        patchscope_candidate_logits(model, [1, 2], 0, "blocks.0.hook_resid_post",
                                    torch.zeros(0, CFG.d_model), IDS)  # fmt: skip
    with pytest.raises(SecretReadoutError):
        aligned_residuals(model, [[1, 2]], torch.tensor([[0, 5]]))
