"""Save and load SAEs in SAELens's on-disk format, both ways (days 45–48).

SAELens (Bloom et al., `sae_lens` 6.x) stores an SAE as a folder with `cfg.json` (the config
dataclass as JSON, with an `architecture` key) and `sae_weights.safetensors` (`W_enc [d_in
d_sae]`, `b_enc`, `W_dec [d_sae d_in]`, `b_dec`, and `threshold` for JumpReLU). Our parameter
names and the `apply_b_dec_to_input` convention are the same, so the mapping is one-to-one;
JumpReLU's threshold is stored by us as log θ and converted. `SAE.load_from_disk(folder)` reads
what `save_saelens` writes, and `load_saelens` reads what SAELens's `save_model` writes
(checked in tests/sae/test_saelens.py by comparing encodings with SAELens's own modules).
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from arena_core.sae.base import SAE, SAEConfig, SAEError
from arena_core.sae.jumprelu import JumpReluSAE
from arena_core.sae.relu import ReluSAE
from arena_core.sae.topk import TopKSAE
from arena_core.sae.transcoder import Transcoder

CFG_FILE, WEIGHTS_FILE = "cfg.json", "sae_weights.safetensors"
CLASSES: dict[str, type[SAE]] = {
    "standard": ReluSAE,
    "topk": TopKSAE,
    "jumprelu": JumpReluSAE,
    "transcoder": Transcoder,
}


def save_saelens(sae: SAE, folder: str | Path, hook_name: str = "", model_name: str = "") -> Path:
    """Write `sae` as `cfg.json` + `sae_weights.safetensors` in `folder`; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = sae.cfg
    cfg = {
        "architecture": sae.architecture,
        "d_in": c.d_in,
        "d_sae": c.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": c.apply_b_dec_to_input,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"hook_name": hook_name, "model_name": model_name},
    }
    if isinstance(sae, TopKSAE):
        cfg |= {"k": c.k, "rescale_acts_by_decoder_norm": False}
    if isinstance(sae, Transcoder):
        cfg["d_out"] = c.out
    weights = {k: getattr(sae, k).detach().float().cpu().contiguous() for k in
               ("W_enc", "b_enc", "W_dec", "b_dec")}  # fmt: skip
    if isinstance(sae, JumpReluSAE):
        weights["threshold"] = sae.threshold.detach().float().cpu().contiguous()
    save_file(weights, folder / WEIGHTS_FILE)
    (folder / CFG_FILE).write_text(json.dumps(cfg, indent=1))
    return folder


def load_saelens(folder: str | Path) -> SAE:
    """Read a SAELens folder into our SAE class of the same architecture."""
    folder = Path(folder)
    if not (folder / CFG_FILE).exists() or not (folder / WEIGHTS_FILE).exists():
        raise SAEError(f"{folder} is not a SAELens folder (needs {CFG_FILE} and {WEIGHTS_FILE})")
    cfg = json.loads((folder / CFG_FILE).read_text())
    arch = cfg.get("architecture", "standard")
    if arch not in CLASSES:
        raise SAEError(f"architecture {arch!r} not supported; known: {sorted(CLASSES)}")
    if cfg.get("normalize_activations", "none") != "none":
        raise SAEError(f"normalize_activations={cfg['normalize_activations']!r} not supported")
    if cfg.get("rescale_acts_by_decoder_norm"):
        raise SAEError("rescale_acts_by_decoder_norm=True is not supported")
    w = load_file(folder / WEIGHTS_FILE)
    threshold = w["threshold"] if arch == "jumprelu" else None
    ours = SAEConfig(
        d_in=cfg["d_in"],
        d_sae=cfg["d_sae"],
        d_out=cfg.get("d_out") if arch == "transcoder" else None,
        k=cfg.get("k", 1),
        threshold=float(threshold.mean()) if threshold is not None else 0.01,
        apply_b_dec_to_input=cfg.get("apply_b_dec_to_input", True),
    )
    sae = CLASSES[arch](ours, seed=None)
    with torch.no_grad():
        for k in ("W_enc", "b_enc", "W_dec", "b_dec"):
            if tuple(w[k].shape) != tuple(getattr(sae, k).shape):
                raise SAEError(f"{k} has shape {tuple(w[k].shape)}, cfg says "
                               f"{tuple(getattr(sae, k).shape)}")  # fmt: skip
            getattr(sae, k).copy_(w[k].float())
        if threshold is not None:
            if (threshold <= 0).any():
                raise SAEError("JumpReLU thresholds must be positive to be stored as log θ")
            sae.log_threshold.copy_(threshold.float().log())
    return sae
