"""Activation caches on either stack, and TransformerLens loaded offline from a HF dir (days 34–62).

Analysis code in `arena_core.interp` takes an `ActivationCache` keyed by TransformerLens hook
names (`blocks.3.attn.hook_pattern`). `run_with_cache` produces one from our `CausalLM` or from a
TL `HookedTransformer` (Nanda & Bloom 2022, https://github.com/TransformerLensOrg/TransformerLens),
so the same analysis runs on both and the two can be diffed hook by hook.

`hooked_transformer_from_hf_dir` lets TransformerLens load a *local* HuggingFace directory with
its own weight conversion — an independent check of ours (`arena_core.transformer.weights`).
Traps in TL 3.9 met on the way (documented so nobody walks into them again):

- `HookedTransformer.from_pretrained(...)` wants an official model name and calls the hub.
- `convert_hf_model_config` decides the architecture from *substrings of the path*: a directory
  whose path contains "llama" or "gemma" (pytest's `tmp_path` for a test called `test_llama_...`
  does!) skips reading `config.json` and then crashes on `None.hidden_size`.
- `HookedTransformer(cfg)` loads a tokenizer from `cfg.tokenizer_name` (the path) and fails on a
  directory without tokenizer files; pass the tokenizer, or set the name to None.
- `get_pretrained_state_dict` resolves the path and, without `hf_model`, picks the HF class from
  substrings too ("bert", "t5", "hubert", "wav2vec2"), so ".../roberta_run/" loads a BERT.
The route here: give TL a neutral symlink for the config, load the HF model ourselves and pass it
as `hf_model`, then `load_and_process_state_dict` with every processing step off, so activations
are comparable with ours (no LayerNorm folding, no centring).

Used by days 34 (TL setup), 35 (logit lens) and the benchmark `benchmarks/bench_interp_cache.py`.
"""

import tempfile
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.transformer.hooks import ActivationCache, NamesFilter

HF_DIR_NAME = "smollm2-135m-instruct-hf"


def is_transformer_lens(model: Any) -> bool:
    """True for a TransformerLens `HookedTransformer` (checked without importing TL)."""
    return any(c.__name__ == "HookedTransformer" for c in type(model).__mro__)


def run_with_cache(
    model: Any, tokens: Int[Tensor, "batch pos"], names_filter: NamesFilter = None
) -> tuple[Float[Tensor, "batch pos d_vocab"], ActivationCache]:
    """Logits and an `ActivationCache` (TL hook names) from our `CausalLM` or a TL model.

    No gradients are kept. `names_filter`: None (every hook), a name, a list of names or a
    predicate on names — the same meaning on both stacks."""
    with torch.no_grad():
        if is_transformer_lens(model):
            if isinstance(names_filter, str):  # TL accepts a str too; keep the meaning explicit
                names_filter = [names_filter]
            logits, tl_cache = model.run_with_cache(tokens, names_filter=names_filter)
            return logits, ActivationCache(tl_cache.cache_dict)
        return model.run_with_cache(tokens, names_filter=names_filter)


def common_hook_names(ours: ActivationCache, theirs: ActivationCache) -> list[str]:
    """Hook names present in both caches, in our order."""
    return [name for name in ours if name in theirs]


def hook_type(name: str) -> str:
    """`blocks.3.attn.hook_pattern` -> `attn.hook_pattern` (the name without its layer)."""
    parts = name.split(".")
    return ".".join(parts[2:]) if parts[0] == "blocks" else name


def max_abs_diff_by_type(ours: ActivationCache, theirs: ActivationCache) -> dict[str, float]:
    """Largest |difference| per hook type over all layers (masked -inf scores compared as equal)."""
    out: dict[str, float] = {}
    for name in common_hook_names(ours, theirs):
        a, b = ours[name].double(), theirs[name].double()
        finite = a.isfinite() & b.isfinite()
        diff = (a - b).abs().where(finite, torch.zeros_like(a)).max().item()
        if not torch.equal(a.isfinite(), b.isfinite()):
            diff = float("inf")
        key = hook_type(name)
        out[key] = max(out.get(key, 0.0), diff)
    return out


def _neutral_link(path: Path) -> tuple[Path, tempfile.TemporaryDirectory]:
    """A symlink to `path` named `hf_model` in a fresh temp dir: no misleading substrings for TL."""
    tmp = tempfile.TemporaryDirectory(prefix="tlhf-")
    link = Path(tmp.name) / "hf_model"
    link.symlink_to(path.resolve(), target_is_directory=True)
    return link, tmp


def hooked_transformer_from_hf_dir(
    path: str | Path,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    n_ctx: int | None = None,
    hf_model: Any = None,
):
    """A TL `HookedTransformer` from a local HF directory, converted by TL itself, unprocessed.

    `n_ctx` caps TL's context (it allocates an `n_ctx x n_ctx` mask; SmolLM2 says 8192).
    `hf_model` skips reloading when the caller already holds the HF model of that directory."""
    from transformer_lens import HookedTransformer
    from transformer_lens.loading_from_pretrained import (
        get_pretrained_model_config,
        get_pretrained_state_dict,
    )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a HuggingFace model directory (no config.json)")
    link, tmp = _neutral_link(path)
    with tmp:
        extra = {} if n_ctx is None else {"n_ctx": n_ctx}
        cfg = get_pretrained_model_config(
            str(link), fold_ln=False, device=device, dtype=dtype, **extra
        )
        if hf_model is None:
            hf_model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        state_dict = get_pretrained_state_dict(str(link), cfg, hf_model=hf_model, dtype=dtype)
    tokenizer = None
    if (path / "tokenizer.json").exists() or (path / "vocab.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    # TL would otherwise load a tokenizer from `cfg.tokenizer_name` (the vanished symlink)
    cfg.tokenizer_name = str(path) if tokenizer is not None else None
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    model.load_and_process_state_dict(
        state_dict,
        fold_ln=False,
        center_writing_weights=False,
        center_unembed=False,
        fold_value_biases=False,
        refactor_factored_attn_matrices=False,
    )
    return model.to(device).eval()


def smollm2_hf_dir() -> Path:
    """SmolLM2 as a local HF directory (`save_pretrained` of HF's own model, with the tokenizer),
    written once into the arena cache; TL and HF `from_pretrained` read it in a second or two."""
    from arena_core.models.paths import build_dir_atomically, model_cache_dir
    from arena_core.models.smollm2 import load_hf_smollm2
    from arena_core.models.tokenizers import smollm2_tokenizer

    target = model_cache_dir(HF_DIR_NAME)
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target

    def build(tmp: Path) -> None:
        from transformers import AutoModelForCausalLM

        hf = load_hf_smollm2()  # dequantised GGUF weights, fp32
        # HF refuses to save a model loaded from GGUF ("quantized ... not serializable"):
        # rebuild a plain model from its config (minus the quantization entry) and state dict.
        config = hf.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(hf.state_dict())
        plain.save_pretrained(tmp)
        smollm2_tokenizer().save_pretrained(tmp)

    return build_dir_atomically(target, build)
