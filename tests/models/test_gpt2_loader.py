"""The GPT-2 loader on a random HF GPT-2 saved with `save_pretrained` (fully offline)."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from arena_core.models import ModelUnavailableError, load_gpt2, load_model


@pytest.fixture(scope="module")
def saved_gpt2(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    hf = GPT2LMHeadModel(
        GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=50257, n_positions=64)
    ).eval()
    hf.save_pretrained(root / "gpt2")
    return root, hf


def test_load_from_directory_matches_hf(saved_gpt2):
    root, hf = saved_gpt2
    ours, source = load_gpt2(root / "gpt2")
    tokens = torch.randint(0, 50257, (2, 12))
    with torch.no_grad():
        # fp32 reference with the same weights: rounding only (~1e-6)
        torch.testing.assert_close(ours(tokens), hf(tokens).logits, atol=2e-5, rtol=1e-5)
    assert "local directory" in source


def test_arena_models_env_and_registry(saved_gpt2, monkeypatch):
    root, hf = saved_gpt2
    monkeypatch.setenv("ARENA_MODELS", str(root))
    lm = load_model("gpt2")
    assert "ARENA_MODELS" in lm.source
    # the offline GPT-2 tokenizer is attached: "Hello world" -> [15496, 995] (OpenAI's ids)
    assert lm.tokenizer("Hello world").input_ids == [15496, 995]
    tokens = torch.tensor([lm.tokenizer("Hello world, again").input_ids])
    with torch.no_grad():
        torch.testing.assert_close(lm.model(tokens), hf(tokens).logits, atol=2e-5, rtol=1e-5)


def test_unavailable_gpt2_offline_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_MODELS", str(tmp_path))  # empty
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # no HF cache either
    with pytest.raises(ModelUnavailableError, match="gpt2-medium is not cached.*smollm2-135m"):
        load_model("gpt2-medium")
    with pytest.raises(ModelUnavailableError, match="unknown model"):
        load_model("no-such-model")


def test_to_tokens_and_str_tokens_follow_the_tokenizer(saved_gpt2, monkeypatch):
    root, _ = saved_gpt2
    monkeypatch.setenv("ARENA_MODELS", str(root))
    lm = load_model("gpt2")
    tok = lm.tokenizer
    assert lm.model.to_tokens("Hello world").tolist() == [tok("Hello world").input_ids]
    batch = lm.model.to_tokens(["Hello world", "Hi"])
    assert batch.shape == (2, 2) and batch[1, -1].item() == tok("Hi").input_ids[-1]
    assert lm.model.to_str_tokens("Hello world") == ["Hello", " world"]


def test_load_from_directory_with_non_default_options(tmp_path):
    """A checkpoint with another activation and attention scaling loads with them (not as plain
    GPT-2); one asking for something we lack is refused by name at load time."""
    from arena_core.transformer import UnsupportedConfigError

    options = dict(activation_function="relu", scale_attn_by_inverse_layer_idx=True)
    hf = GPT2LMHeadModel(
        GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=50, n_positions=16, **options)
    ).eval()
    hf.save_pretrained(tmp_path / "variant")
    ours, _ = load_gpt2(tmp_path / "variant")
    assert ours.cfg.act_fn == "relu" and ours.cfg.scale_attn_by_inverse_layer_idx
    tokens = torch.randint(0, 50, (2, 12))
    with torch.no_grad():
        # fp32 reference with the same weights: rounding only (~1e-6)
        torch.testing.assert_close(ours(tokens), hf(tokens).logits, atol=2e-5, rtol=1e-5)
    hf.config.activation_function = "quick_gelu"
    hf.save_pretrained(tmp_path / "unsupported")
    with pytest.raises(UnsupportedConfigError, match="activation_function='quick_gelu'"):
        load_gpt2(tmp_path / "unsupported")
