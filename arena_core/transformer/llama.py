"""Llama-style decoder (Touvron et al. 2023), the family of SmolLM2 — days 30–32.

Differences from GPT-2, each a different part rather than a branch: RMSNorm instead of
LayerNorm, rotary position embeddings inside attention instead of a learned position table,
grouped-query attention without biases, and a SwiGLU MLP. Released relatives differ in config
fields only: Q/K/V biases (`attn_qkv_bias`, Qwen2), an output bias (`attn_out_bias`), MLP biases
(`mlp_bias`), another activation (`act_fn`) and scaled RoPE frequencies (`rope_type`).
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from arena_core.transformer.attention import Attention
from arena_core.transformer.block import TransformerBlock
from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.embeddings import Embed, Unembed
from arena_core.transformer.hooks import HookPoint
from arena_core.transformer.mlp import SwiGLUMLP
from arena_core.transformer.model import CausalLM
from arena_core.transformer.norms import RMSNorm
from arena_core.transformer.rotary import rotary_angles, rotary_frequencies


class Llama(CausalLM):
    def __init__(self, cfg: TransformerConfig, init: bool = True):
        super().__init__(cfg)
        self.embed = Embed(cfg.d_vocab, cfg.d_model)
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(
            TransformerBlock(
                RMSNorm(cfg.d_model, cfg.eps),
                Attention(
                    cfg,
                    bias=cfg.attn_qkv_bias,
                    out_bias=cfg.attn_out_bias,
                    rotary=True,
                    layer_idx=i,
                ),
                None if cfg.attn_only else RMSNorm(cfg.d_model, cfg.eps),
                None if cfg.attn_only else SwiGLUMLP(cfg),
            )
            for i in range(cfg.n_layers)
        )
        self.ln_final = RMSNorm(cfg.d_model, cfg.eps)
        tied = self.embed if cfg.tie_embeddings else None
        self.unembed = Unembed(cfg.d_model, cfg.n_out, tied_to=tied, bias=cfg.unembed_bias)
        self.setup_hooks()
        if init:
            self.init_weights()

    def embed_input(
        self, tokens: Int[Tensor, "batch pos"], positions: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.hook_embed(self.embed(tokens))

    def rope(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """cos and sin for these positions, gathered from a table of all `n_ctx` positions that
        is computed once (in float64, then cast) per device and dtype, not on every step."""
        key = (positions.device, dtype, self.cfg)
        if self.__dict__.get("_rope_key") != key:
            all_pos = torch.arange(self.cfg.n_ctx, device=positions.device)[None]
            theta = rotary_frequencies(self.cfg, device=positions.device)
            cos, sin = rotary_angles(all_pos, self.cfg.d_head, self.cfg.rotary_base, theta)
            self.__dict__["_rope_table"] = (cos[0].to(dtype), sin[0].to(dtype))
            self.__dict__["_rope_key"] = key
        cos, sin = self.__dict__["_rope_table"]
        return cos[positions], sin[positions]
