"""The per-MLP transcoder bank: one-pass collection, training, caching, resuming, errors."""

import pytest
import torch

from arena_core.models import smollm2_tokenizer
from arena_core.sae.base import SAEError
from arena_core.sae.transcoders import (
    TranscoderRecipe,
    all_mlp_io,
    transcoder_bank,
)
from arena_core.transformer import Llama, TransformerConfig

QUIET = {"log": lambda *_: None}


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


def _model(tok, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = TransformerConfig(d_model=16, n_layers=2, n_heads=2, d_head=8, d_mlp=32,
                            d_vocab=len(tok), n_ctx=64, **kw)  # fmt: skip
    model = Llama(cfg).eval()
    with torch.no_grad():  # random init writes tiny MLP outputs; make them worth predicting
        for name, p in model.named_parameters():
            if "mlp" in name:
                p.mul_(8.0)
    return model


def test_all_mlp_io_matches_run_with_cache(tok):
    model = _model(tok)
    rows = [list(range(100, 112)), list(range(300, 312))]
    io = all_mlp_io(model, rows, skip_first=1)
    _, cache = model.run_with_cache(torch.tensor(rows))
    for layer in range(2):
        x_in = cache[f"blocks.{layer}.ln2.hook_normalized"][:, 1:].reshape(-1, 16)
        y = cache[f"blocks.{layer}.hook_mlp_out"][:, 1:].reshape(-1, 16)
        torch.testing.assert_close(io[layer], torch.cat([x_in, y], 1))
    # the input really is what the MLP reads, up to the norm's gain
    ln2 = model.blocks[1].ln2
    mlp_in = cache["blocks.1.ln2.hook_normalized"] * ln2.w
    torch.testing.assert_close(model.blocks[1].mlp(mlp_in), cache["blocks.1.hook_mlp_out"])
    with pytest.raises(SAEError, match="one length"):
        all_mlp_io(model, [[1, 2], [3]])


@pytest.mark.slow
def test_bank_trains_once_loads_and_resumes(tok, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    model = _model(tok)
    recipe = TranscoderRecipe(expansion=4, l1=0.3, lr=5e-3, n_tokens=600, held_rows=2,
                              seq_len=16, epochs=20, batch=32, with_chat=False)  # fmt: skip
    first = transcoder_bank(model, tok, "toy", recipe, **QUIET)
    assert not first.meta["loaded_from_cache"] and len(first) == 2
    assert not (first.folder / "acts").exists()
    assert [s["layer"] for s in first.meta["per_layer"]] == [0, 1]
    # each transcoder predicts its MLP's raw output from the raw normalised input, better than
    # the mean on held-out tokens
    io = all_mlp_io(model, first.corpus.rows[-2:])
    for layer, tc in enumerate(first.transcoders):
        x, y = io[layer, :, :16], io[layer, :, 16:]
        pred = tc(x)
        assert (pred - y).pow(2).sum() < (y - y.mean(0)).pow(2).sum()
        assert first.meta["per_layer"][layer]["fve"] > 0.1
    second = transcoder_bank(model, tok, "toy", recipe, **QUIET)
    assert second.meta["loaded_from_cache"]
    x = torch.randn(7, 16)
    torch.testing.assert_close(second[1].encode(x), first[1].encode(x))
    # an interruption after layer 0: layer 0 is reused, not retrained
    stamp = (first.folder / "layer_00" / "stats.json").stat().st_mtime_ns
    (first.folder / "meta.json").unlink()
    for p in (first.folder / "layer_01").iterdir():
        p.unlink()
    third = transcoder_bank(model, tok, "toy", recipe, **QUIET)
    assert not third.meta["loaded_from_cache"]
    assert (first.folder / "layer_00" / "stats.json").stat().st_mtime_ns == stamp
    torch.testing.assert_close(third[0].encode(x), first[0].encode(x))


def test_bank_errors(tok):
    with pytest.raises(SAEError, match="MLPs"):
        transcoder_bank(_model(tok, attn_only=True), tok, "toy", **QUIET)
    with pytest.raises(SAEError):
        TranscoderRecipe(n_tokens=0)
    with pytest.raises(SAEError):
        TranscoderRecipe(lr=0.0)
