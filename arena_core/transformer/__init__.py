"""Transformers from parts: config, layers, GPT-2 and Llama families, hooks, KV cache (days 29–33).

    from arena_core.transformer import TransformerConfig, GPT2, Llama, KVCache
    model = GPT2(cfg)                                      # random init; or arena_core.models.load
    logits = model(tokens)                                 # [batch pos] -> [batch pos d_vocab]
    logits, cache = model.run_with_cache(tokens)           # cache["blocks.0.attn.hook_pattern"]
    logits = model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_pattern", fn)])

See `model.py` for padding, position ids and the KV cache, `hooks.py` for the hook API.
"""

from arena_core.transformer.attention import Attention
from arena_core.transformer.block import TransformerBlock
from arena_core.transformer.config import (
    GPT2_CONFIGS,
    SMOLLM2_135M,
    TransformerConfig,
    UnsupportedConfigError,
)
from arena_core.transformer.embeddings import Embed, PosEmbed, Unembed
from arena_core.transformer.gpt2 import GPT2
from arena_core.transformer.hooks import ActivationCache, HookedModel, HookPoint, act_name
from arena_core.transformer.kv_cache import KVCache, KVCacheEntry
from arena_core.transformer.llama import Llama
from arena_core.transformer.mlp import GeluMLP, SwiGLUMLP
from arena_core.transformer.model import CausalLM, attention_mask_4d
from arena_core.transformer.norms import LayerNorm, RMSNorm

__all__ = [
    "GPT2",
    "GPT2_CONFIGS",
    "SMOLLM2_135M",
    "ActivationCache",
    "Attention",
    "CausalLM",
    "Embed",
    "GeluMLP",
    "HookPoint",
    "HookedModel",
    "KVCache",
    "KVCacheEntry",
    "LayerNorm",
    "Llama",
    "PosEmbed",
    "RMSNorm",
    "SwiGLUMLP",
    "TransformerBlock",
    "TransformerConfig",
    "Unembed",
    "UnsupportedConfigError",
    "act_name",
    "attention_mask_4d",
]
