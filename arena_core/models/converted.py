"""A model converted once into the cache: our Llama's state dict as safetensors + `config.json`.

The offline models (SmolLM2-135M from `smollm2.py`, Qwen2.5-Coder-0.5B from `qwen.py`) start as
GGUF files that transformers takes tens of seconds to dequantise. Each is converted once, inside
`paths.build_dir_atomically`, with `save_converted`; every later load is `load_converted`, which
reads the safetensors straight into a model built on the meta device (no random init to overwrite).
"""

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.llama import Llama

FILES = ("model.safetensors", "config.json")


def save_converted(
    folder: Path, cfg: TransformerConfig, state_dict: dict[str, torch.Tensor], info: dict[str, Any]
) -> None:
    """Write `state_dict` and `{"config": cfg, **info}` into `folder` (a temporary build folder)."""
    from safetensors.torch import save_file

    save_file(state_dict, str(folder / "model.safetensors"))
    record = {"config": dataclasses.asdict(cfg), **info}
    (folder / "config.json").write_text(json.dumps(record, indent=2))


def is_converted(folder: Path) -> bool:
    return all((folder / name).exists() for name in FILES)


def load_converted(
    folder: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Llama, dict[str, Any]]:
    """Our `Llama` from a converted folder, in eval mode, and the folder's `config.json` record."""
    from safetensors.torch import load_file

    info = json.loads((folder / "config.json").read_text())
    cfg = TransformerConfig(**info["config"])
    with torch.device("meta"):
        model = Llama(cfg, init=False)
    sd = load_file(str(folder / "model.safetensors"), device=str(device))
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, assign=True)
    return model.eval(), info
