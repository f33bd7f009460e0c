"""SAE-latent read-out: decoder directions planted along one word's unembedding are read as that
word, the vote follows the most-increased latents, and the maths matches a loop by hand."""

import pytest
import torch

from arena_core.interp.sae_readout import latent_vote, latent_word_probs
from arena_core.interp.secret_readout import SecretReadoutError
from arena_core.transformer import Llama, TransformerConfig

CFG = TransformerConfig(
    d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=53, n_ctx=24, init_range=0.5
)  # large weights, so a planted direction dominates
IDS = [[3, 7], [5], [11, 12]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Llama(CFG).double().eval()


def test_planted_decoder_directions_are_read_as_their_words(model):
    """Latent j's decoder row is word (j mod 3)'s first token's unembedding column: its
    distribution must put most weight on that word."""
    W_U = model.unembed.W_U.detach()
    rows = [W_U[:, IDS[j % 3][0]] * 4 for j in range(6)]
    q = latent_word_probs(model, torch.stack(rows), IDS)
    assert q.shape == (6, 3)
    torch.testing.assert_close(q.sum(-1), torch.ones(6, dtype=q.dtype))
    assert q.argmax(-1).tolist() == [0, 1, 2, 0, 1, 2]


def test_vote_matches_a_loop_and_uses_only_the_top_k():
    g = torch.Generator().manual_seed(2)
    q = torch.rand(8, 3, generator=g, dtype=torch.float64).softmax(-1)
    u = torch.tensor([0.1, -2.0, 3.0, 0.0, 1.5, 0.2, -0.5, 2.0], dtype=torch.float64)
    want = torch.zeros(3, dtype=torch.float64)
    for j in (2, 7, 4):  # the three largest weights
        want += u[j] * q[j]
    torch.testing.assert_close(latent_vote(u, q, k=3), want)
    # the secret's latent turned on more than any other wins the vote
    q2 = torch.eye(3, dtype=torch.float64).repeat(3, 1)  # latent j means word j mod 3
    u2 = torch.zeros(9, dtype=torch.float64)
    u2[4] = 2.0  # word 1
    u2[6] = 0.5  # word 0
    assert int(latent_vote(u2, q2, k=2).argmax()) == 1
    # no latent turned on more: nothing to vote with
    assert latent_vote(-torch.ones(9, dtype=torch.float64), q2, k=3).abs().sum() == 0


def test_bad_inputs_raise(model):
    # shape mismatches: our error at run time, or jaxtyping's (a TypeError) first under the tests
    with pytest.raises((SecretReadoutError, TypeError)):
        latent_vote(torch.ones(4), torch.ones(5, 3))
    with pytest.raises((SecretReadoutError, TypeError)):
        latent_word_probs(model, torch.ones(32), IDS)
    with pytest.raises(SecretReadoutError):
        latent_vote(torch.ones(5), torch.ones(5, 3), k=0)
    with pytest.raises(SecretReadoutError):
        latent_word_probs(model, torch.ones(4, CFG.d_model), [[1], []])
