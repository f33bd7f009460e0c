"""GPT-2 (Radford et al. 2019) assembled from our parts — day 31.

token + learned position embedding -> n_layers x [LayerNorm -> attention (with biases),
LayerNorm -> GELU MLP] -> LayerNorm -> unembedding tied to the token embedding.
HF's GPT-2 options map onto config fields: `activation_function` -> `act_fn`,
`scale_attn_weights` -> `use_attn_scale`, `scale_attn_by_inverse_layer_idx` (same name).
With `cfg.attn_only` the blocks have no MLP (the attention-only models of days 37 and later).
Weights in TransformerLens layout; `arena_core.transformer.weights` converts HuggingFace's.
"""

from jaxtyping import Float, Int
from torch import Tensor, nn

from arena_core.transformer.attention import Attention
from arena_core.transformer.block import TransformerBlock
from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.embeddings import Embed, PosEmbed, Unembed
from arena_core.transformer.hooks import HookPoint
from arena_core.transformer.mlp import GeluMLP
from arena_core.transformer.model import CausalLM
from arena_core.transformer.norms import LayerNorm


class GPT2(CausalLM):
    def __init__(self, cfg: TransformerConfig, init: bool = True):
        super().__init__(cfg)
        self.embed = Embed(cfg.d_vocab, cfg.d_model)
        self.hook_embed = HookPoint()
        self.pos_embed = PosEmbed(cfg.n_ctx, cfg.d_model)
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList(
            TransformerBlock(
                LayerNorm(cfg.d_model, cfg.eps),
                Attention(cfg, bias=True, layer_idx=i),
                None if cfg.attn_only else LayerNorm(cfg.d_model, cfg.eps),
                None if cfg.attn_only else GeluMLP(cfg),
            )
            for i in range(cfg.n_layers)
        )
        self.ln_final = LayerNorm(cfg.d_model, cfg.eps)
        tied = self.embed if cfg.tie_embeddings else None
        self.unembed = Unembed(cfg.d_model, cfg.n_out, tied_to=tied, bias=cfg.unembed_bias)
        self.setup_hooks()
        if init:
            self.init_weights()

    def embed_input(
        self, tokens: Int[Tensor, "batch pos"], positions: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.hook_embed(self.embed(tokens)) + self.hook_pos_embed(self.pos_embed(positions))
