"""Qwen2.5-Coder-0.5B-Instruct: the architecture against HF's `Qwen2ForCausalLM` and
TransformerLens (random weights), the assemble/verify/convert path on fake part packages, and,
when the optional parts are installed (`make qwen`), the real model against HF on real text.

References: HF `Qwen2ForCausalLM` (random weights, float64, and the real GGUF dequantised by
transformers); TransformerLens `HookedTransformer` with our weights; `hashlib` for the checksum.
"""

import hashlib
import importlib.util
import sys

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from arena_core.models import load_model
from arena_core.models.qwen import (
    QWEN_PARTS,
    CorruptModelFileError,
    GGUFParts,
    assemble_gguf,
    load_qwen,
    part_files,
)
from arena_core.models.registry import ALIASES, QWEN, available_models
from arena_core.models.tokenizers import ModelUnavailableError
from arena_core.transformer import Llama
from arena_core.transformer.tl_twin import transformer_lens_twin
from tests.transformer._refs import hf_llama_pair

# Qwen2.5-0.5B's shape, scaled down: 14 query heads share 2 key/value heads there, 6 share 2
# here; biases on Q, K, V only; untied unembedding; three layers.
QWEN_SMALL = dict(
    hidden_size=48,
    num_hidden_layers=3,
    num_attention_heads=6,
    num_key_value_heads=2,
    intermediate_size=88,
    vocab_size=97,
    max_position_embeddings=64,
    rope_theta=1e6,
    tie_word_embeddings=False,
)


def _qwen_pair():
    return hf_llama_pair(
        dtype=torch.float64, config_class=Qwen2Config, model_class=Qwen2ForCausalLM, **QWEN_SMALL
    )


def _float64_rope(rotary, d_head: int, theta: float):
    """HF's default-RoPE formula (its `inv_freq` init and rotary forward) in float64: HF builds
    `inv_freq` and the angles in float32 even in a float64 model."""
    inv_freq = 1.0 / theta ** (torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)

    def forward(x, position_ids):
        freqs = position_ids[..., None].double() * inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        scale = rotary.attention_scaling
        return (emb.cos() * scale).to(x.dtype), (emb.sin() * scale).to(x.dtype)

    return forward


def _float64_rms_norm(norm):
    """HF's Qwen2RMSNorm forward without its cast to float32."""

    def forward(x):
        return norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps))

    return forward


def test_qwen2_matches_hf_float64_to_rounding():
    """tests/transformer/test_hf_config_options.py checks Qwen2 to 1e-6: HF computes RoPE angles
    and RMSNorm in float32 even in a float64 model. With those two steps rerun in float64 (HF's
    own formulas), everything else being HF's code, only op-order rounding is left: 1e-10."""
    hf, ours = _qwen_pair()
    for module in hf.modules():
        if type(module).__name__ == "Qwen2RMSNorm":
            module.eps = module.variance_epsilon
            module.forward = _float64_rms_norm(module)
    assert ours.cfg.attn_qkv_bias and not ours.cfg.attn_out_bias and not ours.cfg.tie_embeddings
    assert ours.cfg.kv_heads == 2
    d_head = QWEN_SMALL["hidden_size"] // QWEN_SMALL["num_attention_heads"]
    hf.model.rotary_emb.forward = _float64_rope(
        hf.model.rotary_emb, d_head, QWEN_SMALL["rope_theta"]
    )
    tokens = torch.randint(0, QWEN_SMALL["vocab_size"], (2, 23))
    with torch.no_grad():
        expected = hf(tokens).logits
        got = ours(tokens)
        hooked, _ = ours.run_with_cache(tokens)
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(hooked, expected, atol=1e-10, rtol=1e-10)
    # the untied unembedding is really used: W_U is not W_E transposed
    assert not torch.allclose(ours.unembed.W_U, ours.embed.W_E.T)


def test_qwen2_hook_names_as_for_llama_and_transformer_lens():
    """The same hook names as a bias-free Llama of the same size, and every one of them that
    TransformerLens has holds the same activation as TL's HookedTransformer with our weights."""
    _, ours = _qwen_pair()
    tokens = torch.randint(0, QWEN_SMALL["vocab_size"], (2, 9))
    with torch.no_grad():
        logits, cache = ours.run_with_cache(tokens)
        llama = Llama(ours.cfg.with_(attn_qkv_bias=False)).double().eval()
        _, llama_cache = llama.run_with_cache(tokens)
        tl = transformer_lens_twin(ours, dtype=torch.float64)
        tl_logits, tl_cache = tl.run_with_cache(tokens)
    assert set(cache) == set(llama_cache)
    expected = ["hook_embed", "ln_final.hook_normalized"]
    for i in range(QWEN_SMALL["num_hidden_layers"]):
        expected += [
            f"blocks.{i}.{h}"
            for h in (
                "hook_resid_pre",
                "hook_resid_mid",
                "hook_resid_post",
                "hook_attn_out",
                "hook_mlp_out",
                "attn.hook_q",
                "attn.hook_k",
                "attn.hook_v",
                "attn.hook_z",
                "attn.hook_attn_scores",
                "attn.hook_pattern",
                "mlp.hook_pre",
                "mlp.hook_post",
            )
        ]
    assert not [n for n in expected if n not in cache or n not in tl_cache]
    for name in expected:
        a, b = cache[name], tl_cache[name]
        if name.endswith("attn_scores"):  # both mask with -inf; compare the finite entries
            assert torch.equal(a.isinf(), b.isinf()), name
            a, b = a[a.isfinite()], b[b.isfinite()]
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=name)
    torch.testing.assert_close(logits, tl_logits, atol=1e-10, rtol=1e-10)


# --- assemble / verify / convert on fake part packages ------------------------------------


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three fake part packages on sys.path (found with find_spec, as the real ones are), a
    spec pinning their concatenation, and a fresh ARENA_CACHE."""
    site = tmp_path / "site"
    chunks = [bytes(range(256)) * 40, b"GGUF-not-really" * 300, bytes(1000)]
    names = [f"arena-fake-qwen-part{i}" for i in (1, 2, 3)]
    for i, (name, chunk) in enumerate(zip(names, chunks, strict=True), start=1):
        pkg = site / name.replace("-", "_")
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('never imported')\n")
        (pkg / "data" / f"part0{i}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path / "cache"))
    whole = b"".join(chunks)
    spec = GGUFParts(
        packages=tuple(names),
        version="0.0.1",
        n_bytes=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        filename="fake.gguf",
        cache_name="fake-qwen",
        model="Fake-Qwen",
        licence="test data",
    )
    yield spec, site, whole, tmp_path / "cache" / "models"
    for name in names:
        sys.modules.pop(name.replace("-", "_"), None)


def _leftovers(models_dir):
    """Every file or directory under the cache's models folder."""
    return sorted(p.relative_to(models_dir).as_posix() for p in models_dir.rglob("*"))


def test_assemble_verifies_and_reuses(fake_parts):
    spec, _, whole, models = fake_parts
    path = assemble_gguf(spec)
    assert path.read_bytes() == whole
    assert _leftovers(models) == ["fake-qwen-gguf", "fake-qwen-gguf/fake.gguf"]
    assert assemble_gguf(spec) == path  # second call: the verified file is reused


def test_corrupted_byte_gives_checksum_error_and_no_file(fake_parts):
    spec, site, _, models = fake_parts
    part = site / "arena_fake_qwen_part2" / "data" / "part02.bin"
    data = bytearray(part.read_bytes())
    data[100] ^= 0x01  # one flipped bit, same size
    part.write_bytes(bytes(data))
    with pytest.raises(CorruptModelFileError, match="sha256.*make qwen"):
        assemble_gguf(spec)
    assert _leftovers(models) == ["fake-qwen-gguf"]  # no temp file, no target


def test_truncated_part_gives_size_error_and_no_file(fake_parts):
    spec, site, _, models = fake_parts
    part = site / "arena_fake_qwen_part3" / "data" / "part03.bin"
    part.write_bytes(part.read_bytes()[:-10])
    with pytest.raises(CorruptModelFileError, match="bytes"):
        assemble_gguf(spec)
    assert not models.exists() or _leftovers(models) == []


def test_missing_part_names_it_and_the_make_target(fake_parts):
    spec, site, _, models = fake_parts
    (site / "arena_fake_qwen_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelUnavailableError, match=r"arena-fake-qwen-part2.*make qwen") as err:
        load_qwen(spec=spec)
    assert "\n" not in str(err.value)  # one line
    assert not models.exists() or _leftovers(models) == []


def test_unreadable_gguf_leaves_no_cache_entry(fake_parts):
    """The checksum matches (the spec pins this junk) but it is no GGUF: the conversion fails
    with a clear error and neither the model entry nor a temp directory remains."""
    spec, _, _, models = fake_parts
    with pytest.raises(CorruptModelFileError, match="not a readable GGUF"):
        load_qwen(spec=spec)
    assert _leftovers(models) == ["fake-qwen-gguf", "fake-qwen-gguf/fake.gguf"]


def test_registry_lists_qwen_and_pins_the_real_file():
    assert QWEN in available_models() and ALIASES["qwen2.5-coder-0.5b"] == QWEN
    assert QWEN_PARTS.n_bytes == 491_400_064 and QWEN_PARTS.sha256.startswith("1d961463")
    assert len(QWEN_PARTS.sha256) == 64 and len(QWEN_PARTS.packages) == 6


def test_absent_packages_say_make_qwen(monkeypatch):
    absent = GGUFParts(**{**QWEN_PARTS.__dict__, "packages": ("arena-no-such-part-pkg",)})
    with pytest.raises(ModelUnavailableError, match=r"make qwen.*--no-deps arena-no-such"):
        part_files(absent)


# --- the real weights (optional) -----------------------------------------------------------

QWEN_INSTALLED = all(importlib.util.find_spec(m) is not None for m in QWEN_PARTS.modules())
needs_qwen = pytest.mark.skipif(not QWEN_INSTALLED, reason="optional: make qwen")

TEXT = (
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
    "    return a\n\nNow is the winter of our discontent made glorious summer by this sun of York."
)


@pytest.mark.slow
@needs_qwen
def test_real_qwen_matches_hf_on_real_text():
    from arena_core.models import load_hf_qwen

    lm = load_model("qwen2.5-coder-0.5b")
    assert lm.provenance["gguf_sha256"] == QWEN_PARTS.sha256
    assert "Apache-2.0" in lm.provenance["licence"]
    ids = torch.tensor([lm.tokenizer(TEXT).input_ids])
    with torch.no_grad():
        got = lm.model(ids)
    del lm
    hf = load_hf_qwen()
    with torch.no_grad():
        expected = hf(ids).logits
    del hf

    def ce(logits):
        return torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:]).item()

    # fp32 through 24 layers, logits up to ~30: only op-order rounding (~1e-6 relative) separates
    # the two, so the loss agrees to 1e-4 and no logit differs by more than 2e-4
    assert abs(ce(got) - ce(expected)) < 1e-4, (ce(got), ce(expected))
    assert (got - expected).abs().max() < 2e-4
    assert ce(got) < 3.0  # a real model: far below the uniform ln(151936) = 11.9


@pytest.mark.slow
@needs_qwen
def test_real_qwen_knows_the_opposite_of_hot():
    from arena_core.transformer.generate import generate

    lm = load_model("qwen2.5-coder-0.5b-instruct")
    prompt = lm.tokenizer("The opposite of hot is").input_ids
    out = generate(lm.model, [prompt], max_new_tokens=5)
    text = lm.tokenizer.decode(out.new_tokens[0])
    assert "cold" in text.lower(), text
