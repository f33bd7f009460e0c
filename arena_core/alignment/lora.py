"""LoRA: low-rank adapters on a frozen model (Hu et al. 2021, https://arxiv.org/abs/2106.09685).

Fine-tuning changes a weight matrix W (`d_out x d_in` when read as y = W x) by some update dW.
LoRA bets that the useful update has low rank and writes it as a product of two thin matrices:

    y = W x + (alpha / r) * B A x,      A: [r, d_in],  B: [d_out, r],  r << d_in, d_out

W stays frozen; only A and B train, so a matrix of d_out * d_in numbers costs r * (d_in + d_out)
trainable ones. A starts random (Kaiming-uniform, as `peft` does, or Gaussian as in the paper) and
B starts at zero, so at step 0 the adapted model is exactly the base model while the gradient of B
(which sees A x) is not zero. `alpha / r` keeps the size of the update comparable when r changes.

Our models keep their weights in TransformerLens layout (`W_Q [n_heads d_model d_head]`,
`W_O [n_heads d_head d_model]`, MLP `W_in [d_model d_mlp]`), not as `nn.Linear`. So A and B are
stored in the usual `[r, d_in]` / `[d_out, r]` orientation (the one `peft` uses, which makes
adapters portable) and the update is rearranged into the parameter's layout:

    W_Q' = W_Q + rearrange((alpha/r) (B A)^T, "d_in (h e) -> h d_in e")

It is attached with `torch.nn.utils.parametrize`, so every read of `attn.W_Q` returns W + dW and
the model's own code (fused QKV matmul, hooks, KV cache) needs no change. `merge_lora` adds dW into
the stored weight once (no overhead at inference), `unmerge_lora` subtracts it again, and
`remove_lora` leaves a plain model. Adapters are saved as safetensors with their r, alpha and
targets, and can be renamed to `peft`'s keys (`to_peft_state_dict`) for a Llama-family model;
`tests/alignment/test_lora_vs_peft.py` checks outputs and gradients of A and B against peft.

Used by day 50 (a taboo-game model organism) and the alignment days 87-98.
"""

import json
import math
from collections.abc import Iterator
from pathlib import Path

import einops
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn.utils import parametrize

from arena_core.errors import UserError

#: Our parameter name -> einops pattern from the `[d_in d_out]` matrix (x @ M) to its layout.
LAYOUTS: dict[str, str] = {
    "W_Q": "i (h o) -> h i o",
    "W_K": "i (h o) -> h i o",
    "W_V": "i (h o) -> h i o",
    "W_O": "(h i) o -> h i o",
    "W_gate": "i o -> i o",
    "W_in": "i o -> i o",
    "W_out": "i o -> i o",
}

#: Our parameter name -> the module name HF's Llama/Qwen2 (and so peft) use for the same matrix.
HF_LLAMA_NAMES: dict[str, str] = {
    "W_Q": "self_attn.q_proj",
    "W_K": "self_attn.k_proj",
    "W_V": "self_attn.v_proj",
    "W_O": "self_attn.o_proj",
    "W_gate": "mlp.gate_proj",
    "W_in": "mlp.up_proj",
    "W_out": "mlp.down_proj",
}

INITS = ("kaiming", "gaussian")


class LoRAError(UserError, ValueError):
    """A LoRA request that does not fit the model: unknown target, bad rank, mismatched file."""


class LoRA(nn.Module):
    """The parametrization W -> W + (alpha / r) * rearrange((B A)^T) of one weight."""

    def __init__(self, weight: Tensor, name: str, r: int, alpha: float, init: str, gen):
        super().__init__()
        self.name, self.r, self.alpha = name, r, float(alpha)
        self.pattern = LAYOUTS[name]
        self.heads = weight.shape[0] if weight.ndim == 3 else None
        if weight.ndim == 3:
            h, a, b = weight.shape
            d_in, d_out = (a, h * b) if self.pattern.startswith("i ") else (h * a, b)
        else:
            d_in, d_out = weight.shape
        kw = dict(dtype=weight.dtype, device=weight.device)
        self.A = nn.Parameter(torch.empty(r, d_in, **kw))
        self.B = nn.Parameter(torch.zeros(d_out, r, **kw))
        with torch.no_grad():
            if init == "kaiming":  # what nn.Linear (and peft) use: U(-1/sqrt(d_in), 1/sqrt(d_in))
                bound = 1.0 / math.sqrt(d_in)
                cpu = torch.rand(r, d_in, generator=gen, dtype=torch.float64)
                self.A.copy_((2 * cpu - 1) * bound)
            else:  # the paper's Gaussian, with peft's "gaussian" scale 1/r
                self.A.copy_(torch.randn(r, d_in, generator=gen, dtype=torch.float64) / r)
        self.merged = False
        self.enabled = True

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    def delta(self) -> Tensor:
        """dW in the parameter's own layout."""
        update = (self.B @ self.A).T * self.scaling  # [d_in d_out]
        if self.heads is None:
            return update
        return einops.rearrange(update, self.pattern, h=self.heads)

    def forward(self, W: Tensor) -> Tensor:
        if self.merged or not self.enabled:
            return W
        return W + self.delta()


def _targets_in(model: nn.Module, targets: tuple[str, ...], layers) -> list[tuple[str, nn.Module]]:
    """(full name, owning module) of every parameter LoRA should wrap."""
    unknown = [t for t in targets if t not in LAYOUTS]
    if unknown:
        raise LoRAError(f"unknown LoRA targets {unknown}; known: {list(LAYOUTS)}")
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise LoRAError("LoRA needs one of our transformers (a model with `blocks`)")
    chosen = range(len(blocks)) if layers is None else list(layers)
    bad = [i for i in chosen if not 0 <= i < len(blocks)]
    if bad:
        raise LoRAError(f"layers {bad} out of range: the model has {len(blocks)} blocks")
    found = []
    for i in chosen:
        for part in ("attn", "mlp"):
            module = getattr(blocks[i], part, None)
            for t in targets:
                if module is not None and module._parameters.get(t) is not None:
                    found.append((f"blocks.{i}.{part}.{t}", module))
    missing = [t for t in targets if not any(n.endswith("." + t) for n, _ in found)]
    if missing:
        raise LoRAError(f"targets {missing} are not parameters of this model's blocks")
    return found


def apply_lora(
    model: nn.Module,
    r: int = 8,
    alpha: int | float = 16.0,
    targets: tuple[str, ...] = ("W_Q", "W_V"),
    layers=None,
    init: str = "kaiming",
    seed: int = 0,
    freeze: bool = True,
) -> dict[str, LoRA]:
    """Attach LoRA adapters to `targets` in `layers` (None = all) and freeze everything else.

    Returns {parameter name: its LoRA module}. A is drawn from a generator seeded with `seed`
    (in float64 on the CPU, then cast), so the same call gives the same adapters on any device."""
    if not isinstance(r, int) or r < 1:
        raise LoRAError(f"rank r must be a positive integer, got {r!r}")
    if init not in INITS:
        raise LoRAError(f"init must be one of {INITS}, got {init!r}")
    if any(True for _ in lora_modules(model)):
        raise LoRAError("this model already has LoRA adapters; remove_lora(model) first")
    found = _targets_in(model, tuple(targets), layers)
    if freeze:
        model.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    adapters = {}
    for full, module in found:
        name = full.rsplit(".", 1)[1]
        lora = LoRA(getattr(module, name).detach(), name, r, float(alpha), init, gen)
        parametrize.register_parametrization(module, name, lora, unsafe=True)
        adapters[full] = lora
    return adapters


def lora_modules(model: nn.Module) -> Iterator[tuple[str, LoRA]]:
    """(parameter name, LoRA) for every adapter in the model, in module order."""
    for mod_name, module in model.named_modules():
        if isinstance(module, LoRA):
            # named like "blocks.0.attn.parametrizations.W_Q.0"
            owner = mod_name.split(".parametrizations.")[0]
            yield f"{owner}.{module.name}", module


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The A and B matrices of every adapter (what the optimiser should see)."""
    return [p for _, m in lora_modules(model) for p in (m.A, m.B)]


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable and total parameter counts (a tied weight counted once)."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"trainable": trainable, "total": total}


def _owner(model: nn.Module, full: str) -> tuple[nn.Module, str]:
    path, name = full.rsplit(".", 1)
    return model.get_submodule(path), name


@torch.no_grad()
def merge_lora(model: nn.Module) -> None:
    """Add every dW into its stored weight: the model then computes the same, with no overhead."""
    for full, lora in lora_modules(model):
        if not lora.merged:
            module, name = _owner(model, full)
            module.parametrizations[name].original.add_(lora.delta())
            lora.merged = True


@torch.no_grad()
def unmerge_lora(model: nn.Module) -> None:
    """Subtract dW again (exact up to rounding), so A and B can keep training."""
    for full, lora in lora_modules(model):
        if lora.merged:
            module, name = _owner(model, full)
            module.parametrizations[name].original.sub_(lora.delta())
            lora.merged = False


def set_lora_enabled(model: nn.Module, enabled: bool) -> None:
    """Switch the (unmerged) adapters off to run the base model, and on again."""
    for _, lora in lora_modules(model):
        if lora.merged:
            raise LoRAError("unmerge_lora(model) before disabling adapters")
        lora.enabled = enabled


def remove_lora(model: nn.Module, merge: bool = True) -> None:
    """Drop the adapters; with `merge` the weights keep dW, else they return to the base."""
    if merge:
        merge_lora(model)
    else:
        unmerge_lora(model)
    for full, _ in list(lora_modules(model)):
        module, name = _owner(model, full)
        parametrize.remove_parametrizations(module, name, leave_parametrized=False)


def lora_config(model: nn.Module) -> dict:
    """r, alpha and targets of the attached adapters (all share one r and alpha)."""
    mods = list(lora_modules(model))
    if not mods:
        raise LoRAError("the model has no LoRA adapters")
    return {
        "r": mods[0][1].r,
        "alpha": mods[0][1].alpha,
        "targets": sorted({m.name for _, m in mods}),
        "layers": sorted({int(n.split(".")[1]) for n, _ in mods}),
    }


def lora_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """{"blocks.0.attn.W_Q.lora_A": A, "...lora_B": B, ...} (detached clones)."""
    out = {}
    for full, lora in lora_modules(model):
        out[f"{full}.lora_A"] = lora.A.detach().clone()
        out[f"{full}.lora_B"] = lora.B.detach().clone()
    return out


@torch.no_grad()
def load_lora_state_dict(model: nn.Module, sd: dict[str, Tensor]) -> None:
    """Copy A and B from `sd` into the attached adapters; every key must match both ways."""
    mine = dict(lora_modules(model))
    want = {f"{n}.lora_{x}" for n in mine for x in "AB"}
    if set(sd) != want:
        extra, missing = sorted(set(sd) - want), sorted(want - set(sd))
        raise LoRAError(f"adapter keys do not match: missing {missing[:4]}, unexpected {extra[:4]}")
    if any(lora.merged for lora in mine.values()):
        raise LoRAError("unmerge_lora(model) before loading adapters into it")
    for full, lora in mine.items():
        for x in "AB":
            src, dst = sd[f"{full}.lora_{x}"], getattr(lora, x)
            if src.shape != dst.shape:
                raise LoRAError(f"{full}.lora_{x}: shape {tuple(src.shape)} != {tuple(dst.shape)}")
            dst.copy_(src)


def save_lora(model: nn.Module, path: str | Path) -> Path:
    """Adapters to one safetensors file, with r, alpha, targets and layers in its metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.contiguous().cpu() for k, v in lora_state_dict(model).items()}
    save_file(sd, str(path), metadata={"lora_config": json.dumps(lora_config(model))})
    return path


def load_lora(model: nn.Module, path: str | Path, freeze: bool = True) -> dict:
    """Attach adapters saved by `save_lora` to a model without any and fill them in."""
    path = Path(path)
    if not path.exists():
        raise LoRAError(f"no adapter file at {path}")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        cfg = json.loads((fh.metadata() or {}).get("lora_config", "null") or "null")
    if cfg is None:
        raise LoRAError(f"{path} has no lora_config metadata: not written by save_lora")
    apply_lora(model, cfg["r"], cfg["alpha"], tuple(cfg["targets"]), cfg["layers"], freeze=freeze)
    device = next(m.A.device for _, m in lora_modules(model))
    dtype = next(m.A.dtype for _, m in lora_modules(model))
    sd = {k: v.to(device=device, dtype=dtype) for k, v in load_file(str(path)).items()}
    load_lora_state_dict(model, sd)
    return cfg


def to_peft_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Our adapters under the keys peft gives a `LlamaForCausalLM` (or Qwen2) with LoRA
    (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`, ...); A and B are
    already in peft's orientation, so only the names change."""
    out = {}
    for full, lora in lora_modules(model):
        _, i, _, name = full.split(".")
        stem = f"base_model.model.model.layers.{i}.{HF_LLAMA_NAMES[name]}"
        out[f"{stem}.lora_A.weight"] = lora.A.detach().clone()
        out[f"{stem}.lora_B.weight"] = lora.B.detach().clone()
    return out
