"""The mixed SAE corpus and `pretrained_sae` (train once, then load from the cache)."""

import pytest
import torch

from arena_core.models import smollm2_tokenizer
from arena_core.sae.base import SAEError
from arena_core.sae.corpus import SOURCES, build_corpus, split_corpus
from arena_core.sae.pretrained import SAERecipe, drop_massive, pretrained_sae
from arena_core.transformer import Llama, TransformerConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def test_corpus_mix_sources_and_determinism(tok):
    mix = {"shakespeare": 1, "python": 1, "facts": 2}
    c = build_corpus(tok, 40, seq_len=32, mix=mix, seed=3)
    assert len(c) == 40 and all(len(r) == 32 for r in c.rows)
    assert c.counts() == {"shakespeare": 10, "python": 10, "facts": 20}
    assert set(c.source) <= set(SOURCES)
    text = {s: " ".join(tok.decode(r) for r, s2 in zip(c.rows, c.source) if s2 == s) for s in
            ("python", "facts")}  # fmt: skip
    assert sum(k in text["python"] for k in ("def ", "return", "self.", "import ")) >= 2
    assert " is " in text["facts"]  # templated statements ("The city of X is in Y.")
    again = build_corpus(tok, 40, seq_len=32, mix=mix, seed=3)
    assert again.rows == c.rows and again.source == c.source
    other = build_corpus(tok, 40, seq_len=32, mix=mix, seed=4)
    assert other.source != c.source  # the seed shuffles


def test_corpus_chat_needs_a_model_and_bad_input_raises(tok):
    c = build_corpus(tok, 10, seq_len=16, mix={"chat": 1, "shakespeare": 1})
    assert "chat source left out" in c.description and c.counts() == {"shakespeare": 10}
    with pytest.raises(SAEError, match="unknown corpus sources"):
        build_corpus(tok, 10, mix={"wikipedia": 1})
    with pytest.raises(SAEError):
        build_corpus(tok, 0)
    with pytest.raises(SAEError):
        build_corpus(tok, 10, mix={"python": -1, "facts": 1})
    train, held = split_corpus(c, 3)
    assert len(train) == 7 and held.rows == c.rows[7:]
    with pytest.raises(SAEError):
        split_corpus(c, 10)


def test_drop_massive():
    x = torch.ones(5, 4)
    x[2] *= 100
    assert len(drop_massive(x, median_norm=2.0)) == 4


def test_pretrained_sae_trains_once_then_loads(tok, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32,
                            d_vocab=len(tok), n_ctx=64)  # fmt: skip
    model = Llama(cfg).eval()
    recipe = SAERecipe(layer=1, expansion=2, n_tokens=600, held_rows=2, seq_len=16, epochs=2,
                       batch=32, with_chat=False)  # fmt: skip
    first = pretrained_sae(model, tok, "toy", recipe, log=lambda *_: None)
    assert not first.meta["loaded_from_cache"] and first.hook == "blocks.1.hook_resid_post"
    assert first.sae.cfg.d_sae == 32 and len(first.corpus) == 40 + 2
    assert not (first.folder / "acts").exists()  # activations removed once trained
    second = pretrained_sae(model, tok, "toy", recipe, log=lambda *_: None)
    assert second.meta["loaded_from_cache"] and second.corpus.rows == first.corpus.rows
    x = torch.randn(20, 16) * 3
    torch.testing.assert_close(second.sae.encode(x), first.sae.encode(x))
    # the SAE reads raw activations: its reconstruction beats the mean on held-out ones
    from arena_core.sae.store import token_activations

    held = token_activations(model, first.corpus.rows[-2:], first.hook)
    recon = first.sae.decode(first.sae.encode(held))
    base = (held - held.mean(0)).pow(2).sum()
    assert (recon - held).pow(2).sum() < base
    # a different recipe or model is a different cache entry
    other = pretrained_sae(model, tok, "toy", SAERecipe(**{**recipe.__dict__, "l1": 2.0}),
                           log=lambda *_: None)  # fmt: skip
    assert other.folder != first.folder and not other.meta["loaded_from_cache"]
    with pytest.raises(SAEError, match="out of range"):
        pretrained_sae(model, tok, "toy", SAERecipe(layer=5))
    with pytest.raises(SAEError):
        SAERecipe(n_tokens=0)


def test_two_callers_at_once_train_once(tok, tmp_path, monkeypatch):
    """A second caller waits on the lock, then loads what the first one trained."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    torch.manual_seed(1)
    cfg = TransformerConfig(d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32,
                            d_vocab=len(tok), n_ctx=64)  # fmt: skip
    model = Llama(cfg).eval()
    recipe = SAERecipe(layer=0, expansion=2, n_tokens=450, held_rows=2, seq_len=16, epochs=1,
                       batch=32, with_chat=False)  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(pretrained_sae, model, tok, "toy", recipe, lambda *_: None)
                for _ in range(2)]  # fmt: skip
        results = [j.result() for j in jobs]
    assert sorted(r.meta["loaded_from_cache"] for r in results) == [False, True]
    x = torch.randn(5, 16)
    torch.testing.assert_close(results[0].sae.encode(x), results[1].sae.encode(x))
