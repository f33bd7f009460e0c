"""The frozen configuration shared by every transformer in arena_core (days 29–33 and later).

One dataclass describes both families: GPT-2 (LayerNorm, learned positions, GELU MLP, biases)
and Llama-style models such as SmolLM2 (RMSNorm, rotary positions, SwiGLU MLP, grouped-query
attention, no biases). The model classes (`GPT2`, `Llama`) decide which parts they assemble;
the config only carries sizes and constants. Field names follow TransformerLens'
`HookedTransformerConfig` so that learners can move between the two.
"""

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class TransformerConfig:
    d_model: int = 768  # width of the residual stream
    n_layers: int = 12  # number of transformer blocks
    n_heads: int = 12  # query heads per attention layer
    d_head: int = 64  # width of one head's query/key/value vectors
    d_mlp: int = 3072  # hidden width of the MLP
    d_vocab: int = 50257  # vocabulary size
    n_ctx: int = 1024  # longest context (size of the learned position table for GPT-2)
    n_kv_heads: int | None = None  # key/value heads (grouped-query attention); None = n_heads
    eps: float = 1e-5  # LayerNorm / RMSNorm epsilon
    rotary_base: float = 10000.0  # RoPE theta (Llama family only)
    tie_embeddings: bool = True  # W_U is W_E transposed (GPT-2, SmolLM2)
    unembed_bias: bool = False  # add a b_U parameter to the unembedding (GPT-2 has none)
    init_range: float = 0.02  # std of the normal used for random initialisation
    attn_only: bool = False  # blocks without MLP (Elhage et al. 2021's attention-only models)
    name: str = field(default="custom", compare=False)  # label only

    def __post_init__(self):
        if self.n_heads % self.kv_heads != 0:
            raise ValueError(
                f"n_heads={self.n_heads} must be a multiple of n_kv_heads={self.kv_heads}"
            )

    @property
    def kv_heads(self) -> int:
        """Number of key/value heads (equals n_heads unless grouped-query attention is used)."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    def with_(self, **changes) -> "TransformerConfig":
        """A copy with some fields changed (the config itself is frozen)."""
        return replace(self, **changes)


#: The four GPT-2 sizes (Radford et al. 2019), as released by OpenAI.
GPT2_CONFIGS: dict[str, TransformerConfig] = {
    "gpt2": TransformerConfig(name="gpt2"),
    "gpt2-medium": TransformerConfig(
        d_model=1024, n_layers=24, n_heads=16, d_mlp=4096, name="gpt2-medium"
    ),
    "gpt2-large": TransformerConfig(
        d_model=1280, n_layers=36, n_heads=20, d_mlp=5120, name="gpt2-large"
    ),
    "gpt2-xl": TransformerConfig(d_model=1600, n_layers=48, n_heads=25, d_mlp=6400, name="gpt2-xl"),
}

#: SmolLM2-135M (Allal et al. 2025), a Llama-architecture model.
SMOLLM2_135M = TransformerConfig(
    d_model=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    d_head=64,
    d_mlp=1536,
    d_vocab=49152,
    n_ctx=8192,
    eps=1e-5,
    rotary_base=100000.0,
    tie_embeddings=True,
    init_range=0.041666666666666664,
    name="smollm2-135m",
)
