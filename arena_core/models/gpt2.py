"""GPT-2 weights (all four sizes) into our `GPT2` — day 32.

Resolution order: an explicit directory -> `$ARENA_MODELS/<name>` -> the HuggingFace cache ->
the hub (unless offline). Any directory that `GPT2LMHeadModel.from_pretrained` accepts works
(`config.json` + `model.safetensors` / `pytorch_model.bin`, as written by `save_pretrained`).
"""

from pathlib import Path

import torch

from arena_core.models.paths import hub_reachable, offline, user_models_dir
from arena_core.models.tokenizers import ModelUnavailableError
from arena_core.transformer.gpt2 import GPT2
from arena_core.transformer.weights import gpt2_config_from_hf, gpt2_state_dict_from_hf

GPT2_SIZES = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")


def gpt2_from_hf_model(hf, name: str = "custom") -> GPT2:
    """Our GPT2 with the weights of a `GPT2LMHeadModel` (Conv1D weights rearranged)."""
    cfg = gpt2_config_from_hf(hf.config, name=name)
    with torch.device("meta"):
        model = GPT2(cfg, init=False)
    dtype = next(hf.parameters()).dtype
    sd = gpt2_state_dict_from_hf(hf.state_dict(), cfg)
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, assign=True)
    return model.eval()


def _is_hf_dir(path: Path) -> bool:
    return (path / "config.json").exists()


def load_gpt2(name_or_dir: str | Path = "gpt2") -> tuple[GPT2, str]:
    """(model, source). Raises `ModelUnavailableError` with what to do when nothing is found."""
    from transformers import GPT2LMHeadModel

    path = Path(name_or_dir).expanduser()
    if _is_hf_dir(path):
        hf = GPT2LMHeadModel.from_pretrained(str(path))
        return gpt2_from_hf_model(hf, name=path.name), f"local directory {path}"
    name = str(name_or_dir)
    if name not in GPT2_SIZES:
        raise ModelUnavailableError(
            f"{name!r} is neither a GPT-2 size {GPT2_SIZES} nor a directory"
        )
    user = user_models_dir()
    if user is not None and _is_hf_dir(user / name):
        hf = GPT2LMHeadModel.from_pretrained(str(user / name))
        return gpt2_from_hf_model(hf, name=name), f"ARENA_MODELS directory {user / name}"
    try:  # the HuggingFace cache (no network)
        hf = GPT2LMHeadModel.from_pretrained(name, local_files_only=True)
        return gpt2_from_hf_model(hf, name=name), f"HuggingFace cache ({name})"
    except OSError:
        pass
    if offline():
        reason = "offline mode is on (ARENA_OFFLINE / HF_HUB_OFFLINE)"
    elif not hub_reachable():
        reason = "the hub is unreachable"
    else:
        try:
            hf = GPT2LMHeadModel.from_pretrained(name)
            return gpt2_from_hf_model(hf, name=name), f"HuggingFace hub ({name})"
        except OSError as err:
            reason = f"the hub failed ({type(err).__name__}: {err})"
    raise ModelUnavailableError(
        f"{name} is not cached and {reason}; set ARENA_MODELS=<dir> with a `save_pretrained` copy "
        f"in <dir>/{name}, pass a local directory, or use the offline model smollm2-135m"
    )
