"""Independent references for the transformer tests: HF models built from random configs."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from arena_core.transformer import GPT2, Llama
from arena_core.transformer.weights import (
    gpt2_config_from_hf,
    gpt2_state_dict_from_hf,
    llama_config_from_hf,
    llama_state_dict_from_hf,
)


def hf_gpt2_pair(dtype=torch.float32, device="cpu", **cfg_kwargs):
    """A random HF GPT2LMHeadModel and our GPT2 holding the same weights."""
    cfg_kwargs.setdefault("bos_token_id", 0)
    cfg_kwargs.setdefault("eos_token_id", 0)
    hf_cfg = GPT2Config(attn_pdrop=0.0, resid_pdrop=0.0, embd_pdrop=0.0, **cfg_kwargs)
    hf = GPT2LMHeadModel(hf_cfg).eval()
    # HF leaves LayerNorm gains at 1 and biases at 0; randomise them so they are really tested.
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "ln" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    hf = hf.to(device=device, dtype=dtype)
    cfg = gpt2_config_from_hf(hf_cfg)
    ours = GPT2(cfg, init=False).to(device=device, dtype=dtype)
    ours.load_state_dict(gpt2_state_dict_from_hf(hf.state_dict(), cfg))
    return hf, ours.eval()


def hf_llama_pair(
    dtype=torch.float32, device="cpu", config_class=LlamaConfig, model_class=LlamaForCausalLM,
    **cfg_kwargs,
):  # fmt: skip
    """A random HF LlamaForCausalLM (or another Llama-family class, e.g. Qwen2's) and our Llama
    holding the same weights."""
    cfg_kwargs.setdefault("bos_token_id", 0)
    cfg_kwargs.setdefault("eos_token_id", 0)
    cfg_kwargs.setdefault("pad_token_id", 0)
    hf_cfg = config_class(attention_dropout=0.0, **cfg_kwargs)
    hf = model_class(hf_cfg).eval()
    # HF starts norm gains at 1 and biases at 0; randomise them so they are really tested.
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    hf = hf.to(device=device, dtype=dtype)
    cfg = llama_config_from_hf(hf_cfg)
    ours = Llama(cfg, init=False).to(device=device, dtype=dtype)
    ours.load_state_dict(llama_state_dict_from_hf(hf.state_dict(), cfg))
    return hf, ours.eval()


def left_pad_mask(batch: int, pos: int, pads: list[int]) -> torch.Tensor:
    mask = torch.ones(batch, pos, dtype=torch.long)
    for row, n in enumerate(pads):
        mask[row, :n] = 0
    return mask


def hf_positions(mask: torch.Tensor) -> torch.Tensor:
    """What HF's generate passes as position_ids for a left-padded batch."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def scaled_tl_pair(kind: str, cfg, seed: int, scale: float = 3.0):
    """One of our random models ("gpt2", or "llama-gqa": 2 KV heads, RoPE base 500) in float64,
    its weights multiplied by `scale` so that patches and steers move the logits visibly, and its
    TransformerLens twin (the independent reference for hook-based interventions)."""
    from arena_core.transformer.tl_twin import transformer_lens_twin

    torch.manual_seed(seed)
    if kind == "gpt2":
        model = GPT2(cfg)
    elif kind == "llama-gqa":
        model = Llama(cfg.with_(n_kv_heads=2, rotary_base=500.0))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    return model, transformer_lens_twin(model, dtype=torch.float64)
