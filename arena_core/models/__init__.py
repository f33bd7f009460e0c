"""Pretrained models: registry, loaders and offline tokenizers (days 29–98).

from arena_core.models import load_model
lm = load_model("smollm2-135m")   # offline default; "gpt2" when cached / online
lm = load_model("qwen2.5-coder-0.5b-instruct")   # optional, offline after `make qwen`
"""

from arena_core.models.gpt2 import GPT2_SIZES, gpt2_from_hf_model, load_gpt2
from arena_core.models.qwen import (
    QWEN_PARTS,
    CorruptModelFileError,
    assemble_gguf,
    convert_qwen,
    load_hf_qwen,
    load_qwen,
    qwen_provenance,
    qwen_tokenizer,
)
from arena_core.models.registry import (
    OFFLINE_DEFAULT,
    LoadedModel,
    available_models,
    load_model,
    load_model_for_run,
    load_model_or_fallback,
)
from arena_core.models.smollm2 import convert_smollm2, load_hf_smollm2, load_smollm2
from arena_core.models.tokenizers import (
    ModelUnavailableError,
    gpt2_tokenizer,
    smollm2_gguf,
    smollm2_tokenizer,
)
from arena_core.transformer.config import UnsupportedConfigError

__all__ = [
    "GPT2_SIZES",
    "OFFLINE_DEFAULT",
    "QWEN_PARTS",
    "CorruptModelFileError",
    "LoadedModel",
    "ModelUnavailableError",
    "UnsupportedConfigError",
    "assemble_gguf",
    "available_models",
    "convert_qwen",
    "convert_smollm2",
    "gpt2_from_hf_model",
    "gpt2_tokenizer",
    "load_gpt2",
    "load_hf_qwen",
    "load_hf_smollm2",
    "load_model",
    "load_model_for_run",
    "load_model_or_fallback",
    "load_qwen",
    "load_smollm2",
    "qwen_provenance",
    "qwen_tokenizer",
    "smollm2_gguf",
    "smollm2_tokenizer",
]
