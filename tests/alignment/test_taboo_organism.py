"""Taboo organisms: the cached adapter equals the one day 50 trained inline (apply_lora +
finetune_lora with the same seeds), a cache hit returns identical weights without training, the
cache follows ARENA_CACHE and the model's weights, and bad words or configs raise UserErrors.

A tiny random Llama with SmolLM2's vocabulary (so the real chat template and taboo chats work)
keeps each training run to a few steps of a 2-layer model."""

import pytest
import torch

import arena_core.alignment.taboo_organism as org_mod
from arena_core.alignment.finetune import FinetuneConfig, chat_example, finetune_lora
from arena_core.alignment.lora import apply_lora, lora_state_dict, remove_lora
from arena_core.alignment.taboo_organism import (
    TabooConfig,
    TabooOrganismError,
    apply_taboo_organism,
    organism_dir,
)
from arena_core.data.taboo import secret_words, taboo_dialogues
from arena_core.errors import UserError
from arena_core.transformer import Llama, TransformerConfig

CFG = TabooConfig(rank=2, first_layer=0, last_layer=1, n_chats=6, steps=2, batch_size=2, lr=1e-2)


@pytest.fixture(scope="module")
def tok():
    from arena_core.models.tokenizers import smollm2_tokenizer

    return smollm2_tokenizer()


def _model(seed: int = 0) -> Llama:
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=16, n_layers=2, n_heads=2, n_kv_heads=1, d_head=8, d_mlp=24,
                            d_vocab=49152, n_ctx=256)  # fmt: skip
    return Llama(cfg).eval()


def test_same_adapter_as_training_inline(tok, tmp_path):
    """The organism of word i is apply_lora(seed + i) then finetune_lora on seed's chats."""
    word = secret_words()[2]
    model = _model()
    org = apply_taboo_organism(model, tok, word, CFG, cache_dir=tmp_path)
    assert org.trained and org.path.exists() and len(org.history.loss) == CFG.steps
    ours = lora_state_dict(model)
    remove_lora(model, merge=False)

    apply_lora(model, r=2, alpha=4, targets=("W_O", "W_out"), layers=range(0, 2), seed=2)
    chats = taboo_dialogues(word, 6, seed=0, max_turns=1)
    examples = [chat_example(tok, c) for c in chats]
    ft = FinetuneConfig(steps=2, batch_size=2, lr=1e-2, warmup_steps=1, seed=0, checkpoint_every=2)
    finetune_lora(model, examples, ft, tok.pad_token_id)
    ref = lora_state_dict(model)
    assert set(ours) == set(ref)
    for k in ref:
        torch.testing.assert_close(ours[k], ref[k], rtol=0, atol=0)


def test_cache_hit_loads_identical_weights_without_training(tok, tmp_path, monkeypatch):
    model = _model()
    first = apply_taboo_organism(model, tok, "moon", CFG, cache_dir=tmp_path)
    trained = lora_state_dict(model)
    logits = model(torch.tensor([[1, 2, 3, 4]]))
    remove_lora(model, merge=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(org_mod, "finetune_lora", no_training)
    second = apply_taboo_organism(model, tok, "moon", CFG, cache_dir=tmp_path)
    assert not second.trained and second.path == first.path
    assert second.history.loss == first.history.loss
    for k, v in lora_state_dict(model).items():
        torch.testing.assert_close(v, trained[k], rtol=0, atol=0)
    torch.testing.assert_close(model(torch.tensor([[1, 2, 3, 4]])), logits, rtol=0, atol=0)
    # no temp files left beside the adapter (the write is a rename)
    assert [p.name for p in first.path.parent.iterdir()] == ["moon.pt"]


def test_cache_folder_follows_env_config_and_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    model = _model()
    d = organism_dir(model, CFG)
    assert d.parent.parent == tmp_path / "taboo"
    assert organism_dir(model, TabooConfig(**{**CFG.__dict__, "steps": 3})) != d
    assert organism_dir(_model(seed=1), CFG).parent != d.parent
    assert organism_dir(model, CFG) == d  # deterministic


def test_bad_word_config_or_model_raise(tok, tmp_path):
    model = _model()
    with pytest.raises(TabooOrganismError, match="unknown secret word"):
        apply_taboo_organism(model, tok, "zebra", CFG, cache_dir=tmp_path)
    for bad in ({"rank": 0}, {"steps": 0}, {"first_layer": 3, "last_layer": 1}, {"lr": 0.0},
                {"targets": ()}):  # fmt: skip
        with pytest.raises(UserError):
            TabooConfig(**{**CFG.__dict__, **bad})
    with pytest.raises(TabooOrganismError, match="layers"):
        apply_taboo_organism(model, tok, "moon", TabooConfig(last_layer=21), cache_dir=tmp_path)
    apply_lora(model, r=2, targets=("W_O",))
    with pytest.raises(TabooOrganismError, match="already has LoRA"):
        apply_taboo_organism(model, tok, "moon", CFG, cache_dir=tmp_path)
